import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PcapWriter, readCaptureSync } from "@sluice/pcap-format";
import { type Logger, ManualClock } from "@sluice/spool";
import { afterEach, describe, expect, it } from "vitest";
import { ReplayQueue, type ReplayQueueOptions } from "./replay-queue.js";
import { FakeWire } from "./testing/fake-output.js";

// Unit tests of the node's engine without root: a FakeWire stands in for the interface (see fake-output.ts);
// the folder, the journal, the verifier and the Replayer are the real ones. The root lab tests of
// sluice-node run (apps/node/src/run.test.ts) drive a real interface and tcpdump.

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const T0 = Date.UTC(2026, 10, 22, 10, 0, 0) / 1000;

interface Logged {
  event: string;
  fields: Record<string, unknown>;
}

function setup(options: Partial<ReplayQueueOptions> = {}) {
  const dir = fs.mkdtempSync(join(tmpdir(), "sluice-replay-queue-"));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const at = (...parts: string[]) => join(dir, ...parts);
  fs.mkdirSync(at("in"));
  const wire = new FakeWire();
  const clock = new ManualClock();
  const logged: Logged[] = [];
  const waiters: (() => void)[] = [];
  const record = (event: string, fields: Record<string, unknown> = {}) => {
    logged.push({ event, fields });
    for (const wake of waiters.splice(0)) wake();
  };
  const logger: Logger = { debug: record, info: record, warn: record, error: record };
  const queue = new ReplayQueue({
    incoming: at("in"),
    failed: at("failed"),
    stateDir: at("state"),
    replayer: { output: wire.output(), speed: { kind: "topspeed" } },
    stableMs: 10_000,
    retry: { initialMs: 1000, maxMs: 4000 },
    clock,
    logger,
    ...options,
  });
  cleanups.push(() => queue.stop());
  /** Resolves with the first line logged as `event` (matching `where`), now or later. */
  async function event(name: string, where: (f: Record<string, unknown>) => boolean = () => true) {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const found = logged.find((l) => l.event === name && where(l.fields));
      if (found) return found.fields;
      if (Date.now() > deadline) throw new Error(`no ${name} logged; got ${logged.map((l) => l.event)}`);
      await new Promise<void>((wake) => {
        waiters.push(wake);
        setTimeout(wake, 100);
      });
    }
  }
  const count = (name: string) => logged.filter((l) => l.event === name).length;
  return { at, wire, clock, queue, logged, event, count };
}

/** A classic pcap of `packets` frames whose first record is at `firstSeconds`. */
function capture(path: string, firstSeconds: number, packets = 4): string[] {
  const writer = PcapWriter.create(path, { linkType: 1 });
  for (let i = 0; i < packets; i++) {
    const data = Buffer.alloc(64, 0);
    data.writeUInt32BE(firstSeconds, 0);
    data.writeUInt32BE(i, 4);
    writer.writePacket({ seconds: firstSeconds, nanoseconds: i * 1000, data });
  }
  void writer.close();
  return framesOf(path);
}

function framesOf(path: string): string[] {
  return readCaptureSync(fs.readFileSync(path)).packets.map((p) => Buffer.from(p.data).toString("hex"));
}

/** Waits until the engine sleeps (queue rescan plus its own wait), so an advance reaches it. */
async function whenAsleep(clock: ManualClock, sleepers = 2): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (clock.sleeping < sleepers) {
    if (Date.now() > deadline) throw new Error("the engine never went to sleep");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("ReplayQueue", () => {
  it("replays six files dropped in reverse order under tool-style names in first-record order, deleting each after", async () => {
    const s = setup();
    // tcpdump -G, dumpcap and hand-made names: none of them the master's <source>-<start>-<seq> pattern.
    const names = ["eth0-20261122T235959Z.pcap", "b.pcap", "ring_00001_20261122100000.pcapng"];
    names.push("trace-2026-11-22T09-00-00.pcap", "0-first-by-name.pcap", "zz-last.pcap");
    const frames: string[][] = names.map(() => []);
    // Written last first; each file's first record is one second after the one before.
    for (let i = names.length - 1; i >= 0; i--) frames[i] = capture(s.at("in", names[i]!), T0 + i);
    await s.queue.start();
    await s.event("file-deleted", (f) => f["file"] === names.at(-1));
    expect(s.logged.filter((l) => l.event === "replayed").map((l) => l.fields["file"])).toEqual(names);
    expect(s.wire.frames).toEqual(frames.flat());
    expect(fs.readdirSync(s.at("in"))).toEqual([]);
  });

  it("does not replay again a file the journal shows finished, and only deletes it", async () => {
    const s = setup();
    const name = "span0.pcap";
    capture(s.at("in", name), T0);
    const { size, mtimeMs } = fs.statSync(s.at("in", name));
    fs.mkdirSync(s.at("state"));
    fs.writeFileSync(
      s.at("state", "replayed.jsonl"),
      `${JSON.stringify({ name, size, mtimeMs, at: "x" })}\n`,
    );
    await s.queue.start();
    await s.event("file-deleted", (f) => f["file"] === name);
    expect(s.count("replay-already-finished")).toBe(1);
    expect(s.wire.sent).toEqual([]);
  });

  it("sets an incomplete file aside once unchanged for stableMs, with the verifier's offset, and goes on", async () => {
    const s = setup();
    capture(s.at("cut.src"), T0, 6);
    const bytes = fs.readFileSync(s.at("cut.src"));
    fs.writeFileSync(s.at("in", "a.pcap"), bytes.subarray(0, bytes.length - 7));
    const next = capture(s.at("in", "b.pcap"), T0 + 60);
    await s.queue.start();
    await s.event("file-incomplete-waiting", (f) => f["file"] === "a.pcap");
    await whenAsleep(s.clock);
    s.clock.advance(10_000);
    await s.event("file-deleted", (f) => f["file"] === "b.pcap");
    const why = JSON.parse(fs.readFileSync(s.at("failed", "a.pcap.reason.json"), "utf8"));
    expect(why).toMatchObject({ file: "a.pcap", reason: "truncated-record", packets: 5, stableSeconds: 10 });
    expect(why.offset).toBeGreaterThan(24);
    expect(s.wire.frames).toEqual(next);
  });

  it("keeps the file while the output is down, retries with backoff, and replays it whole", async () => {
    const s = setup();
    const frames = capture(s.at("in", "a.pcap"), T0, 8);
    s.wire.failAfter = 3;
    s.wire.failOpens = 0;
    await s.queue.start();
    await s.event("output-failed", (f) => f["file"] === "a.pcap");
    expect(fs.readdirSync(s.at("in"))).toEqual(["a.pcap"]);
    await whenAsleep(s.clock);
    s.clock.advance(1000);
    await s.event("file-deleted", (f) => f["file"] === "a.pcap");
    expect(s.wire.frames).toEqual([...frames.slice(0, 3), ...frames]);
    expect(s.wire.opened).toBe(2);
  });

  it("waits for an output that cannot open, logging when it will try again", async () => {
    const s = setup();
    const frames = capture(s.at("in", "a.pcap"), T0);
    s.wire.failOpens = 2;
    await s.queue.start();
    await s.event("output-unavailable", (f) => f["retryInSeconds"] === 1);
    await whenAsleep(s.clock);
    s.clock.advance(1000);
    await s.event("output-unavailable", (f) => f["retryInSeconds"] === 2);
    await whenAsleep(s.clock);
    s.clock.advance(2000);
    await s.event("file-deleted");
    expect(s.wire.frames).toEqual(frames);
  });

  it("refuses a symlink: the link goes to failed with its target named, nothing is replayed", async () => {
    const s = setup();
    capture(s.at("elsewhere.pcap"), T0);
    fs.symlinkSync(s.at("elsewhere.pcap"), s.at("in", "link.pcap"));
    await s.queue.start();
    await s.event("file-failed", (f) => f["file"] === "link.pcap");
    expect(JSON.parse(fs.readFileSync(s.at("failed", "link.pcap.reason.json"), "utf8"))).toMatchObject({
      reason: "symlink",
      target: s.at("elsewhere.pcap"),
    });
    expect(s.wire.sent).toEqual([]);
  });

  it("moves a replayed file and its sidecar, never over a file already in the done folder", async () => {
    const s = setup();
    s.queue.reconfigure({
      replayer: { output: s.wire.output(), speed: { kind: "topspeed" } },
      failed: s.at("failed"),
      after: { action: "move", path: s.at("done") },
    });
    fs.mkdirSync(s.at("done"));
    fs.writeFileSync(s.at("done", "a.pcap"), "an older file of the same name");
    capture(s.at("in", "a.pcap"), T0);
    fs.writeFileSync(s.at("in", "a.pcap.json"), "{}");
    await s.queue.start();
    await s.event("file-moved", (f) => f["file"] === "a.pcap");
    expect(fs.readdirSync(s.at("done")).sort()).toEqual(["a-1.pcap", "a.pcap", "a.pcap.json"]);
    expect(fs.readFileSync(s.at("done", "a.pcap"), "utf8")).toBe("an older file of the same name");
    expect(fs.readdirSync(s.at("in"))).toEqual([]);
  });
});
