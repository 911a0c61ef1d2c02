import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PcapWriter } from "@sluice/pcap-format";
import { seededBytes, seededRandom } from "@sluice/testlab";

let made = 0;

/** A scratch folder removed by the returned function. */
export function scratch(prefix = "sluice-router-"): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Writes `count` distinct classic pcap files of about `bytes` each into `dir`, named like rotated files,
 * and returns their names and contents (the oracle deliveries are compared with). The payloads come from
 * the run's seed, so SLUICE_SEED repeats them.
 */
export function makeSpoolFiles(
  dir: string,
  count: number,
  bytes = 20_000,
  prefix = "eth1",
): { name: string; path: string; content: Buffer }[] {
  mkdirSync(dir, { recursive: true });
  const files = [];
  const random = seededRandom(`spool-files/${prefix}/${count}/${bytes}/${made++}`);
  for (let i = 0; i < count; i++) {
    const name = `${prefix}-20261122T1030${String(i % 60).padStart(2, "0")}Z-${String(i + 1).padStart(6, "0")}.pcap`;
    const path = join(dir, name);
    const writer = PcapWriter.create(path, { linkType: 1 });
    for (let written = 24; written < bytes; ) {
      const data = seededBytes(random, Math.min(1500, Math.max(60, bytes - written - 16)));
      writer.writePacket({ seconds: 1_763_807_400 + i, nanoseconds: written * 1000, data });
      written += 16 + data.length;
    }
    void writer.close(); // a path target closes synchronously
    files.push({ name, path, content: readFileSync(path) });
  }
  return files;
}

/** Names of the files a consumer sees in `dir` (not hidden), sorted. */
export function visible(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((n) => !n.startsWith("."))
      .sort();
  } catch {
    return [];
  }
}

/** Writes a file's content, for tests that need a foreign file in a destination. */
export function put(path: string, content: string | Buffer): void {
  writeFileSync(path, content);
}

/** Reads a file's bytes. */
export function bytesOf(path: string): Buffer {
  return readFileSync(path);
}
