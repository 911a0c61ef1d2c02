import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LinkType, type PacketRecord, PcapWriter, readCaptureSync } from "@sluice/pcap-format";
import { mergecap, missingTools, randpkt } from "@sluice/testlab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReplayError, Replayer } from "./index.js";

const reason = missingTools("tcpdump", "randpkt", "mergecap", "mkfifo");

/** Waits until `condition` holds: the replay got as far as the test needs. */
async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !condition(); ) {
    if (Date.now() > deadline) throw new Error(`still waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
if (reason) console.warn(`skipping FIFO tests: they need ${reason}`);

let dir = "";
const files: string[] = [];

const records = (path: string): PacketRecord[] => readCaptureSync(new Uint8Array(readFileSync(path))).packets;
const hex = (packets: { data: Uint8Array }[]): string[] =>
  packets.map((p) => Buffer.from(p.data).toString("hex"));

/** `tcpdump -r FIFO -w out` (with `-c count`), resolving with tcpdump's exit code once it has ended. */
function reader(
  fifo: string,
  out: string,
  count?: number,
): { child: ChildProcess; exited: Promise<number | null> } {
  const args = ["-n", "-r", fifo, "-w", out, ...(count === undefined ? [] : ["-c", String(count)])];
  const child = spawn("tcpdump", args, { stdio: ["ignore", "ignore", "pipe"] });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, exited };
}

describe.skipIf(reason !== null)("FIFO output", () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "sluice-replayer-fifo-"));
    for (const [i, count] of [400, 700, 300].entries()) {
      const path = join(dir, `part${i}.pcap`);
      randpkt(path, "eth", count, 1500);
      files.push(path);
    }
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("streams three files as one pcap that equals mergecap -a of them, to tcpdump -r FIFO", async () => {
    const fifo = join(dir, "three.fifo");
    const r = new Replayer({ output: { type: "fifo", path: fifo }, speed: { kind: "topspeed" } });
    await r.start();
    expect(statSync(fifo).isFIFO()).toBe(true);
    const out = join(dir, "three-out.pcap");
    const tcpdump = reader(fifo, out);
    const stats = [];
    for (const file of files) stats.push(await r.replayFile(file));
    await r.stop();
    expect(await tcpdump.exited).toBe(0);
    const merged = join(dir, "merged.pcap");
    await mergecap(["-F", "pcap", "-a", "-w", merged, ...files]);
    const expected = records(merged);
    const got = records(out);
    expect(got.length).toBe(expected.length);
    expect(got.reduce((n, p) => n + p.data.length, 0)).toBe(expected.reduce((n, p) => n + p.data.length, 0));
    expect(hex(got)).toEqual(hex(expected));
    expect(got.map((p) => p.seconds)).toEqual(expected.map((p) => p.seconds));
    expect(stats.map((s) => s.packetsSent)).toEqual([400, 700, 300]);
  });

  it("waits for a new reader when one leaves, and resumes at a record boundary with a fresh header", async () => {
    const fifo = join(dir, "reconnect.fifo");
    const big = join(dir, "big.pcap");
    randpkt(big, "eth", 3000, 1500);
    const sent = records(big);
    const r = new Replayer({ output: { type: "fifo", path: fifo }, speed: { kind: "topspeed" } });
    await r.start();
    const first = reader(fifo, join(dir, "first.pcap"), 100);
    const replay = r.replayFile(big);
    expect(await first.exited).toBe(0);
    // The replayer now waits for the next reader: what the second reader gets (below, the rest of the file
    // and more than half of it) shows it did, without a pause here to watch it wait.
    const second = reader(fifo, join(dir, "second.pcap"));
    const stats = await replay;
    await r.stop();
    expect(await second.exited).toBe(0);
    const got1 = records(join(dir, "first.pcap"));
    const got2 = records(join(dir, "second.pcap"));
    expect(hex(got1)).toEqual(hex(sent.slice(0, 100)));
    // The second reader's stream is the file from some record k on, to its end, with nothing cut.
    const k = sent.length - got2.length;
    expect(hex(got2)).toEqual(hex(sent.slice(k)));
    // What lies between is what the first reader's pipe and tcpdump's read buffer held when it left.
    const lostBytes = sent.slice(100, k).reduce((n, p) => n + 16 + p.data.length, 0);
    expect(k).toBeGreaterThanOrEqual(100);
    expect(got2.length).toBeGreaterThan(sent.length / 2);
    expect(lostBytes).toBeLessThan(512 * 1024);
    expect(stats.packetsSent).toBeGreaterThanOrEqual(got1.length + got2.length);
  });

  it("converts a later file's Linux cooked records to the stream's Ethernet, and paces as captured", async () => {
    const fifo = join(dir, "mixed.fifo");
    const eth = join(dir, "eth.pcap");
    const sll = join(dir, "sll.pcap");
    const payload = Buffer.from("450000140000000040fd0000c0a80001c0a80002", "hex"); // IPv4, protocol 253
    const writer = (path: string, linkType: number, data: Buffer[]) => {
      const w = PcapWriter.create(path, { linkType });
      for (const [i, d] of data.entries()) {
        w.writePacket({ seconds: 1000, nanoseconds: i * 200_000_000, data: d });
      }
      w.flushSync();
      return w.close();
    };
    const ethFrame = Buffer.concat([Buffer.from("0200000000020200000000010800", "hex"), payload]);
    await writer(eth, LinkType.ETHERNET, [ethFrame, ethFrame]);
    await writer(sll, LinkType.LINUX_SLL, [
      Buffer.concat([Buffer.from("00000001000602aa0000000100000800", "hex"), payload]),
    ]);
    const r = new Replayer({
      output: { type: "fifo", path: fifo },
      macs: { src: "02:00:00:00:00:01", dst: "02:00:00:00:00:02" },
    });
    await r.start();
    const out = join(dir, "mixed-out.pcap");
    const tcpdump = reader(fifo, out);
    const started = performance.now();
    await r.replayFile(eth);
    await r.replayFile(sll);
    const elapsed = performance.now() - started;
    await r.stop();
    expect(await tcpdump.exited).toBe(0);
    const got = records(out);
    expect(got.map((p) => p.linkType)).toEqual([LinkType.ETHERNET, LinkType.ETHERNET, LinkType.ETHERNET]);
    expect(hex(got)).toEqual(hex([{ data: ethFrame }, { data: ethFrame }, { data: ethFrame }]));
    // Original speed: 200 ms between eth's two records, never less however loaded the machine (how close:
    // the benchmarks); sll's starts at eth's first timestamp, which counts as no gap (going backwards).
    expect(elapsed).toBeGreaterThan(199);
  });

  it("stop() while no reader comes rejects the file with stopped", async () => {
    const fifo = join(dir, "lonely.fifo");
    const r = new Replayer({ output: { type: "fifo", path: fifo }, speed: { kind: "topspeed" } });
    await r.start();
    const replay = r.replayFile(files[0]!).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await r.stop();
    const error = (await replay) as ReplayError;
    expect(ReplayError.isInstance(error)).toBe(true);
    expect(error.reason).toBe("stopped");
    expect(error.stats?.packetsSent).toBe(0);
  });

  it("stop() while a reader holds the FIFO open without reading ends the file as stopped", async () => {
    const fifo = join(dir, "stalled.fifo");
    const r = new Replayer({ output: { type: "fifo", path: fifo }, speed: { kind: "topspeed" } });
    await r.start();
    // Opens the FIFO for reading and never reads: the pipe fills and stays full.
    const stalled = spawn("sh", ["-c", `exec sleep 30 < "${fifo}"`], { stdio: "ignore" });
    try {
      let progress = 0;
      const replaying = r
        .replayFile(files[1]!, { onProgress: (p) => (progress = p.packetsSent) })
        .catch((e: unknown) => e);
      await until(() => progress > 0, "records in the pipe"); // the reader took the stream, reads nothing
      // stop() returns (a hang would run into the test's timeout; how fast it is needs no clock here).
      await r.stop();
      const error = (await replaying) as ReplayError;
      expect(error.reason).toBe("stopped");
      expect(error.stats?.packetsSent).toBeLessThan(700);
    } finally {
      stalled.kill("SIGKILL");
    }
  });

  it("writes a nanosecond stream byte for byte as PcapWriter writes it, records larger than a chunk too", async () => {
    // 262144 bytes is the stream's snaplen and, with its header, more than a 256 KiB chunk.
    const lengths = [60, 262_144, 1514, 200_000, 64];
    const packets = lengths.map((length, i) => ({
      seconds: 1_700_000_000 + i,
      nanoseconds: 123_456_789 + i,
      data: Buffer.alloc(length, i + 1),
    }));
    const input = join(dir, "nano-in.pcap");
    const writer = PcapWriter.create(input, { linkType: LinkType.ETHERNET, precision: "nano" });
    for (const packet of packets) writer.writePacket(packet);
    await writer.close();
    const fifo = join(dir, "nano.fifo");
    const r = new Replayer({
      output: { type: "fifo", path: fifo, precision: "nano" },
      speed: { kind: "topspeed" },
    });
    await r.start();
    const out = join(dir, "nano-out.pcap");
    const cat = spawn("sh", ["-c", 'cat "$0" > "$1"', fifo, out], { stdio: "ignore" });
    const exited = new Promise((resolve) => cat.once("exit", resolve));
    expect((await r.replayFile(input)).packetsSent).toBe(lengths.length);
    await r.stop();
    expect(await exited).toBe(0);
    const expected = join(dir, "nano-expected.pcap");
    const reference = PcapWriter.create(expected, {
      linkType: LinkType.ETHERNET,
      precision: "nano",
      endianness: "little",
    });
    for (const packet of packets) reference.writePacket(packet);
    await reference.close();
    expect(readFileSync(out).equals(readFileSync(expected))).toBe(true);
  });

  it("start() refuses a path that exists and is not a FIFO", async () => {
    const path = join(dir, "regular-file");
    writeFileSync(path, "x");
    const error = (await new Replayer({ output: { type: "fifo", path } })
      .start()
      .catch((e: unknown) => e)) as ReplayError;
    expect(error.reason).toBe("fifo-failed");
    expect(error.detail).toMatchObject({ path });
  });
});
