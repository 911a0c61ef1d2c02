import { once } from "node:events";
import { appendFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "./clock.js";
import { IncomingQueue, type IncomingQueueOptions } from "./incoming-queue.js";
import type { Logger } from "./observe.js";
import { scratch, writeCapture } from "./testing/scratch.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const T0 = Date.UTC(2026, 10, 22, 10, 0, 0) / 1000;

function setup(options: Partial<IncomingQueueOptions> = {}) {
  const { dir, remove } = scratch("sluice-incoming-");
  cleanups.push(remove);
  const clock = new ManualClock();
  const warnings: string[] = [];
  const logger: Logger = { info() {}, warn: (event) => warnings.push(event), error() {} };
  const queue = new IncomingQueue({ path: dir, clock, logger, ...options });
  cleanups.push(() => queue.stop());
  return { dir, at: (name: string) => join(dir, name), clock, queue, warnings };
}

/** The queue's next item, or a failure after `ms` of real time. */
async function nextOf(queue: IncomingQueue, ms = 10_000) {
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), ms);
  try {
    const item = await queue.next(timeout.signal);
    if (item === null) throw new Error(`nothing handed out within ${ms} ms`);
    return item;
  } finally {
    clearTimeout(timer);
  }
}

describe("IncomingQueue", () => {
  it("hands out files by their first record, whatever their names say and whatever order they came in", async () => {
    const { at, queue } = setup();
    // Names as tcpdump -G, dumpcap and people write them; the times the names hint at are the reverse
    // of when each capture starts, and the files are written last one first.
    const names = [
      "sensor-20261122T100005Z.pcap",
      "ring_00002_20261122100004.pcapng",
      "trace-2026-11-22_10:00:03.pcap",
      "sensor-20261122T100002Z.pcap",
      "upload.pcap",
      "aaa-20261122T100000Z.pcap",
    ];
    for (let i = names.length - 1; i >= 0; i--) writeCapture(at(names[i]!), T0 + i * 60);
    await queue.start();
    const order: string[] = [];
    for (const _ of names) {
      const item = await nextOf(queue);
      expect(item.kind).toBe("capture");
      order.push(item.file.name);
      expect(item.file.firstRecord?.seconds).toBe(T0 + order.length * 60 - 60);
      queue.done(item.file.name);
    }
    expect(order).toEqual(names);
  });

  it("holds the files after one still being written until it is whole (strict order)", async () => {
    const { at, queue } = setup();
    const whole = writeCapture(at("b.pcap"), T0, 20);
    writeFileSync(at("b.pcap"), whole.subarray(0, whole.length - 30));
    writeCapture(at("a.pcap"), T0 + 60);
    await queue.start();
    const incomplete = once(queue, "incomplete");
    const handed = queue.next();
    const [event] = await incomplete;
    expect(event).toMatchObject({ name: "b.pcap", error: { reason: "truncated-record" } });
    appendFileSync(at("b.pcap"), whole.subarray(whole.length - 30));
    const first = await handed;
    expect(first?.file.name).toBe("b.pcap");
    expect(first?.kind === "capture" && first.check.packets).toBe(20);
    queue.done("b.pcap");
    expect((await nextOf(queue)).file.name).toBe("a.pcap");
  });

  it("in ready order, hands out a complete file while an earlier one is still being written", async () => {
    const { at, queue } = setup({ order: "ready" });
    const whole = writeCapture(at("b.pcap"), T0, 20);
    writeFileSync(at("b.pcap"), whole.subarray(0, whole.length - 30));
    writeCapture(at("a.pcap"), T0 + 60);
    await queue.start();
    expect((await nextOf(queue)).file.name).toBe("a.pcap");
  });

  it("refuses a file that is no capture once unchanged for rejectAfterMs, with the verifier's reason", async () => {
    const { at, clock, queue } = setup({ rejectAfterMs: 2000, incompleteAfterMs: 60_000 });
    writeFileSync(at("notes.txt"), "GET / HTTP/1.1\r\n\r\n");
    await queue.start();
    const handed = queue.next();
    await once(queue, "incomplete");
    await asleep(clock);
    clock.advance(2000);
    const item = await handed;
    expect(item).toMatchObject({ kind: "refused", reason: "bad-magic", check: { error: { offset: 0 } } });
  });

  it("refuses a capture that stays torn only after incompleteAfterMs", async () => {
    const { at, clock, queue } = setup({ rejectAfterMs: 1000, incompleteAfterMs: 5000 });
    const whole = writeCapture(at("torn.pcap"), T0);
    writeFileSync(at("torn.pcap"), whole.subarray(0, whole.length - 7));
    await queue.start();
    const handed = queue.next();
    await once(queue, "incomplete");
    await asleep(clock);
    clock.advance(1000);
    await once(queue, "incomplete");
    await asleep(clock);
    clock.advance(4000);
    expect(await handed).toMatchObject({ kind: "refused", reason: "truncated-record", unchangedMs: 5000 });
  });

  it("waits settleMs after the last change before handing out a complete file", async () => {
    const { at, clock, queue } = setup({ settleMs: 3000 });
    writeCapture(at("a.pcap"), T0);
    await queue.start();
    const handed = queue.next();
    let resolved = false;
    void handed.then(() => {
      resolved = true;
    });
    await asleep(clock);
    expect(resolved).toBe(false);
    clock.advance(3000);
    expect((await handed)?.file.name).toBe("a.pcap");
  });

  it("refuses a symlink without following it, and warns once about a folder", async () => {
    const { at, queue, warnings } = setup();
    const target = join(at(".."), `${at("").split("/").pop()}-target.pcap`);
    writeCapture(target, T0);
    cleanups.push(() => scratchRemove(target));
    symlinkSync(target, at("link.pcap"));
    mkdirSync(at("subfolder"));
    await queue.start();
    const item = await nextOf(queue);
    expect(item).toMatchObject({ kind: "refused", reason: "symlink", target });
    await queue.scan();
    expect(warnings.filter((w) => w === "incoming-entry-ignored")).toEqual(["incoming-entry-ignored"]);
  });

  it("takes a file that arrives after start, and never hands out one taken until it is released", async () => {
    const { at, queue } = setup();
    await queue.start();
    const handed = queue.next();
    writeCapture(at("late.pcap"), T0);
    const item = await handed;
    expect(item?.file.name).toBe("late.pcap");
    const second = new AbortController();
    const again = queue.next(second.signal);
    await queue.scan();
    queue.release("late.pcap");
    expect((await again)?.file.name).toBe("late.pcap");
    expect(readFileSync(at("late.pcap")).length).toBe(item!.file.size);
  });
});

/** Waits until the queue sleeps (its rescan loop and the wait for the head), so an advance wakes it. */
function asleep(clock: ManualClock): Promise<void> {
  return waitUntil(() => clock.sleeping >= 2);
}

async function waitUntil(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 5));
  }
}

function scratchRemove(path: string): void {
  try {
    writeFileSync(path, "");
  } catch {}
}
