import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { editcap, mergecap, missingTools, randpkt, tool } from "@sluice/testlab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convertCapture, readCaptureSync } from "./index.js";
import { epb, idb, pcapngToBigEndian, shb, swapClassic, udpFrame } from "./testing/builders.js";

const skip = missingTools("randpkt", "editcap", "mergecap", "tcpdump");
let dir = "";
const path = (name: string): string => join(dir, name);

async function tcpdumpCopy(input: string, output: string, extra: string[] = []): Promise<Buffer> {
  await tool("tcpdump", ["-r", input, "-w", output, ...extra]);
  return readFileSync(output);
}

describe.skipIf(skip !== null)("convert matches tcpdump -r IN -w OUT byte for byte", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "pcap-convert-"));
    randpkt(path("eth.pcap"), "eth", 400, 3000);
    await editcap(["-t", "1700000000.123456789", "-F", "nsecpcap", path("eth.pcap"), path("nsec.pcap")]);
    await editcap(["-F", "pcap", path("nsec.pcap"), path("usec.pcap")]);
    await editcap(["-F", "pcapng", path("nsec.pcap"), path("nsec.pcapng")]);
    await editcap(["-F", "pcapng", path("usec.pcap"), path("usec.pcapng")]);
    writeFileSync(path("usec-be.pcap"), swapClassic(readFileSync(path("usec.pcap"))));
    writeFileSync(path("usec-be.pcapng"), pcapngToBigEndian(readFileSync(path("usec.pcapng"))));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const name of ["usec.pcap", "usec-be.pcap", "usec.pcapng", "usec-be.pcapng"]) {
    it(`converts ${name} to what tcpdump writes`, async () => {
      const result = await convertCapture(path(name), path(`${name}.ours`));
      const theirs = await tcpdumpCopy(path(name), path(`${name}.tcpdump`));
      expect(result).toMatchObject({ packets: 400, precision: "micro", error: null });
      expect(readFileSync(path(`${name}.ours`)).equals(theirs)).toBe(true);
    });
  }

  for (const name of ["nsec.pcap", "nsec.pcapng"]) {
    it(`keeps ${name} in nanoseconds, or writes microseconds on request, like tcpdump`, async () => {
      await convertCapture(path(name), path(`${name}.nano`));
      const nano = await tcpdumpCopy(path(name), path(`${name}.tcpdump-nano`), [
        "--time-stamp-precision",
        "nano",
      ]);
      expect(readFileSync(path(`${name}.nano`)).equals(nano)).toBe(true);
      await convertCapture(path(name), path(`${name}.micro`), { precision: "micro" });
      const micro = await tcpdumpCopy(path(name), path(`${name}.tcpdump-micro`));
      expect(readFileSync(path(`${name}.micro`)).equals(micro)).toBe(true);
    });
  }

  it("refuses a pcapng with two link types and leaves no output behind", async () => {
    randpkt(path("usb.pcap"), "usb-linux", 50, 500);
    await mergecap(["-F", "pcapng", "-w", path("two.pcapng"), path("usec.pcap"), path("usb.pcap")]);
    await expect(convertCapture(path("two.pcapng"), path("two.out"))).rejects.toMatchObject({
      reason: "unsupported-conversion",
      message: expect.stringMatching(/link types 1 and 189/),
    });
    expect(existsSync(path("two.out"))).toBe(false);
    expect(readdirSync(dir).filter((f) => f.startsWith(".two.out"))).toEqual([]);
  });
});

describe("convert salvage and edge cases", () => {
  const tmp = mkdtempSync(join(tmpdir(), "pcap-convert-edge-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const le = true;

  it("converts the complete records of a truncated input and reports the problem", async () => {
    const bytes = Buffer.concat([
      shb(le),
      idb(le, { snaplen: 2000 }),
      epb(le, { units: 1_000_000n, data: udpFrame(100) }),
      epb(le, { units: 2_000_000n, data: udpFrame(200) }),
      epb(le, { units: 3_000_000n, data: udpFrame(300) }).subarray(0, 50),
    ]);
    const out = join(tmp, "salvaged.pcap");
    const result = await convertCapture(bytes, out);
    expect(result.error).toMatchObject({ reason: "truncated-record" });
    expect(result.packets).toBe(2);
    const capture = readCaptureSync(readFileSync(out));
    expect(capture.packets.map((p) => p.data.length)).toEqual([100, 200]);
  });

  it("raises the output snaplen when a later interface has a larger one", async () => {
    const bytes = Buffer.concat([
      shb(le),
      idb(le, { snaplen: 128 }),
      epb(le, { units: 1n, data: udpFrame(100) }),
      idb(le, { snaplen: 4000 }),
      epb(le, { interfaceId: 1, units: 2n, data: udpFrame(3000) }),
    ]);
    const out = join(tmp, "snap.pcap");
    await convertCapture(bytes, out);
    const capture = readCaptureSync(readFileSync(out));
    expect(capture.interfaces[0]!.snaplen).toBe(4000);
    expect(capture.packets.map((p) => p.data.length)).toEqual([100, 3000]);
  });

  it("rejects input that is not a capture, writing nothing", async () => {
    const out = join(tmp, "nothing.pcap");
    await expect(convertCapture(Buffer.from("hello world"), out)).rejects.toMatchObject({
      reason: "bad-magic",
    });
    expect(existsSync(out)).toBe(false);
  });

  it("writes an empty but valid pcap for a capture with an interface and no packets", async () => {
    const out = join(tmp, "empty.pcap");
    const result = await convertCapture(
      Buffer.concat([shb(le), idb(le, { linkType: 101, snaplen: 1500 })]),
      out,
    );
    expect(result.packets).toBe(0);
    expect(readCaptureSync(readFileSync(out)).interfaces[0]).toMatchObject({ linkType: 101, snaplen: 1500 });
  });
});
