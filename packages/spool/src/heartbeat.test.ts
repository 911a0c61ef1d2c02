import { readdirSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_HEARTBEAT_FILE, HeartbeatWriter, readHeartbeat } from "./heartbeat.js";
import { IncomingQueue } from "./incoming-queue.js";
import { scratch, writeCapture } from "./testing/scratch.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function folder(): string {
  const { dir, remove } = scratch("sluice-heartbeat-");
  cleanups.push(remove);
  return dir;
}

describe("HeartbeatWriter", () => {
  it("writes pid, hostname, time, a counter and the queue length, and removes the file on stop", async () => {
    const dir = folder();
    let queue = 3;
    const writer = new HeartbeatWriter({ dir, intervalMs: 20, queue: () => queue });
    await writer.start();
    const first = await readHeartbeat(join(dir, DEFAULT_HEARTBEAT_FILE));
    expect(first).toMatchObject({ pid: process.pid, hostname: hostname(), seq: 1, queue: 3 });
    expect(Math.abs(Date.parse(first!.time) - Date.now())).toBeLessThan(5000);
    queue = 7;
    const deadline = Date.now() + 5000;
    let later = first;
    while (later!.seq < 3 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
      later = await readHeartbeat(join(dir, DEFAULT_HEARTBEAT_FILE));
    }
    expect(later).toMatchObject({ queue: 7 });
    expect(later!.seq).toBeGreaterThanOrEqual(3);
    await writer.stop();
    expect(readdirSync(dir)).toEqual([]);
    expect(await readHeartbeat(join(dir, DEFAULT_HEARTBEAT_FILE))).toBeNull();
  });

  it("always leaves one whole beat in the file, never a torn one", async () => {
    const dir = folder();
    const writer = new HeartbeatWriter({ dir, intervalMs: 1 });
    await writer.start();
    cleanups.push(() => writer.stop());
    for (let i = 0; i < 200; i++) {
      const text = readFileSync(join(dir, DEFAULT_HEARTBEAT_FILE), "utf8");
      expect(() => JSON.parse(text)).not.toThrow();
      await new Promise((r) => setImmediate(r));
    }
  });

  it("refuses a name an incoming queue would take for a capture", () => {
    expect(() => new HeartbeatWriter({ dir: folder(), file: "heartbeat" })).toThrow(/hidden name/);
    expect(() => new HeartbeatWriter({ dir: folder(), file: ".a/b" })).toThrow(/hidden name/);
  });

  it("is never handed out by the incoming queue of the folder it beats in", async () => {
    const dir = folder();
    const writer = new HeartbeatWriter({ dir, intervalMs: 5 });
    await writer.start();
    cleanups.push(() => writer.stop());
    writeCapture(join(dir, "only.pcap"), 1_763_807_400);
    const queue = new IncomingQueue({ path: dir, rescanMs: 20 });
    cleanups.push(() => queue.stop());
    void queue.start();
    const first = await queue.next();
    expect(first).toMatchObject({ kind: "capture", file: { name: "only.pcap" } });
    await new Promise((r) => setTimeout(r, 150)); // the heartbeat is rewritten ~30 times meanwhile
    const timeout = AbortSignal.timeout(200);
    expect(await queue.next(timeout)).toBeNull();
    expect(queue.pending().files).toBe(1); // only.pcap, still taken
  });
});
