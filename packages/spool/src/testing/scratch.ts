import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PcapWriter } from "@sluice/pcap-format";

/** A scratch folder removed by the returned function. */
export function scratch(prefix = "sluice-spool-"): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Names in `dir` a consumer sees (not hidden), sorted. */
export function visible(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => !n.startsWith("."))
    .sort();
}

/** Writes a classic pcap whose records start at `firstSeconds` (one per 10 ms), and returns its bytes. */
export function writeCapture(path: string, firstSeconds: number, packets = 5): Buffer {
  const writer = PcapWriter.create(path, { linkType: 1 });
  for (let i = 0; i < packets; i++) {
    const data = Buffer.alloc(60, i + (firstSeconds % 200));
    writer.writePacket({ seconds: firstSeconds, nanoseconds: i * 10_000_000, data });
  }
  void writer.close(); // a path target closes synchronously
  return readFileSync(path);
}
