import { existsSync, linkSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PcapWriter, readCaptureSync, verifyCapture } from "@sluice/pcap-format";
import { afterAll, describe, expect, it } from "vitest";
import { salvageDirectory } from "./index.js";

const root = mkdtempSync(join(tmpdir(), "salvage-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

async function capture(path: string, packets: number): Promise<Buffer> {
  const writer = PcapWriter.create(path, { linkType: 1, snaplen: 65535 });
  for (let i = 0; i < packets; i++)
    writer.writePacket({ seconds: 1_700_000_000 + i, nanoseconds: i * 1000, data: Buffer.alloc(100 + i, i) });
  await writer.close();
  return readFileSync(path);
}

describe("salvageDirectory", () => {
  it("cuts a torn partial file back to its last complete record and finishes it", async () => {
    const dir = mkdtempSync(join(root, `d${n++}-`));
    const whole = await capture(join(dir, "whole.tmp"), 10);
    rmSync(join(dir, "whole.tmp"));
    const name = "eth1-20261122T103000Z-000007.pcap";
    writeFileSync(join(dir, `.${name}.partial`), whole.subarray(0, whole.length - 30));
    const report = await salvageDirectory(dir);
    expect(report.finished).toHaveLength(1);
    expect(report.finished[0]).toMatchObject({
      name,
      source: "eth1",
      sequence: 7,
      start: "2026-11-22T10:30:00.000Z",
      reason: "salvage",
      packets: 9,
      drops: null,
      firstPacketTime: "1700000000.000000000",
    });
    expect(await verifyCapture(join(dir, name))).toMatchObject({ complete: true, packets: 9 });
    expect(JSON.parse(readFileSync(join(dir, `${name}.json`), "utf8")).packets).toBe(9);
    expect(readdirSync(dir).filter((e) => e.startsWith("."))).toEqual([]);
    expect(readCaptureSync(readFileSync(join(dir, name))).packets.map((p) => p.data.length)).toEqual(
      Array.from({ length: 9 }, (_, i) => 100 + i),
    );
  });

  it("sets aside what cannot be read, with the reason next to it", async () => {
    const dir = mkdtempSync(join(root, `d${n++}-`));
    writeFileSync(join(dir, ".junk-20261122T103000Z-000001.pcap.partial"), "not a capture");
    writeFileSync(
      join(dir, ".cut-20261122T103000Z-000001.pcap.partial"),
      Buffer.from([0xd4, 0xc3, 0xb2, 0xa1, 2, 0]),
    );
    const report = await salvageDirectory(dir);
    expect(report.setAside.map((s) => s.reason).sort()).toEqual(["bad-magic", "truncated-header"]);
    for (const aside of report.setAside) {
      expect(existsSync(aside.path)).toBe(true);
      expect(JSON.parse(readFileSync(`${aside.path}.reason.json`, "utf8")).reason).toBe(aside.reason);
    }
    expect(readdirSync(dir).sort()).toEqual(["failed"]);
  });

  it("removes partial files that hold no packet", async () => {
    const dir = mkdtempSync(join(root, `d${n++}-`));
    const header = await capture(join(dir, "h.tmp"), 0);
    rmSync(join(dir, "h.tmp"));
    writeFileSync(join(dir, ".a-20261122T103000Z-000001.pcap.partial"), header);
    const report = await salvageDirectory(dir);
    expect(report.removedEmpty).toHaveLength(1);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("finishes the work of a crash between publishing a file and writing its manifest", async () => {
    const dir = mkdtempSync(join(root, `d${n++}-`));
    const name = "b-20261122T103000Z-000002.pcap";
    await capture(join(dir, name), 3);
    linkSync(join(dir, name), join(dir, `.${name}.partial`)); // crash between link and unlink
    writeFileSync(join(dir, `.${name}.json.partial`), "{"); // and a half-written manifest
    const report = await salvageDirectory(dir);
    expect(report.finished.map((m) => [m.name, m.packets])).toEqual([[name, 3]]);
    expect(readdirSync(dir).sort()).toEqual([name, `${name}.json`]);
  });

  it("never replaces a finished file of the same name", async () => {
    const dir = mkdtempSync(join(root, `d${n++}-`));
    const name = "c-20261122T103000Z-000001.pcap";
    const first = await capture(join(dir, name), 2);
    await capture(join(dir, "other.tmp"), 4);
    writeFileSync(join(dir, `.${name}.partial`), readFileSync(join(dir, "other.tmp")));
    rmSync(join(dir, "other.tmp"));
    const report = await salvageDirectory(dir);
    expect(readFileSync(join(dir, name)).equals(first)).toBe(true);
    expect(report.finished.map((m) => m.packets).sort()).toEqual([2, 4]);
    expect(
      readdirSync(dir)
        .filter((e) => e.endsWith(".pcap"))
        .sort(),
    ).toEqual(["c-20261122T103000Z-000001-salvaged1.pcap", name]);
  });
});
