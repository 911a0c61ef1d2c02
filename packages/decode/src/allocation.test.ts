import { type PerformanceEntry, PerformanceObserver } from "node:perf_hooks";
import { LinkType } from "@sluice/pcap-format";
import { describe, expect, it } from "vitest";
import { FlowHasher } from "./flow-hasher.js";
import { Rendezvous } from "./rendezvous.js";
import {
  ethernet,
  ipv4,
  ipv6,
  ipv6Fragment,
  tcpFrame,
  udp,
  V4_A,
  V4_B,
  V6_A,
  V6_B,
} from "./testing/frames.js";

// Garbage collections while `work` runs: a loop that allocates nothing per iteration triggers none.
async function collectionsDuring(work: () => void): Promise<number> {
  const entries: PerformanceEntry[] = [];
  const observer = new PerformanceObserver((list) => {
    entries.push(...list.getEntries());
  });
  observer.observe({ entryTypes: ["gc"] });
  const start = performance.now();
  work();
  const end = performance.now();
  // gc entries are delivered asynchronously, in order: make garbage until a collection from after the work
  // is reported, and every one from during it has been too.
  let garbage: { i: number }[] = [];
  while (!entries.some((e) => e.startTime > end)) {
    garbage = Array.from({ length: 100_000 }, (_, i) => ({ i }));
    await new Promise((resolve) => setImmediate(resolve));
  }
  observer.disconnect();
  expect(garbage.length).toBe(100_000);
  return entries.filter((e) => e.startTime >= start && e.startTime <= end).length;
}

describe("the per-packet path", () => {
  it("hashes and picks a node for 300,000 packets without a single garbage collection", async () => {
    const frames = [
      tcpFrame(40000, 443),
      tcpFrame(40000, 443, true),
      Uint8Array.from([
        ...ethernet(0x86dd),
        ...ipv6({ src: V6_A, dst: V6_B, next: 17, payloadLength: 8 }),
        ...udp(1, 2, 0),
      ]),
      Uint8Array.from([
        ...ethernet(0x86dd),
        ...ipv6({ src: V6_A, dst: V6_B, next: 44, payloadLength: 16 }),
        ...ipv6Fragment(17, 0, true, 9),
        ...udp(1, 2, 0),
      ]),
      Uint8Array.from([
        ...ethernet(0x0800),
        ...ipv4({ src: V4_A, dst: V4_B, protocol: 17, payloadLength: 8, fragmentOffset: 3 }),
        ...udp(1, 2, 0),
      ]),
      Uint8Array.from([...ethernet(0x0806), ...new Array<number>(28).fill(0)]),
    ];
    const hasher = new FlowHasher();
    const nodes = new Rendezvous(["a", "b", "c", "d"]);
    const picks = new Uint32Array(4);
    const run = (n: number): void => {
      for (let i = 0; i < n; i++)
        picks[nodes.pick(hasher.hash(frames[i % frames.length]!, LinkType.ETHERNET))]!++;
    };
    run(50_000); // warm up: optimized code, feedback vectors
    const collections = await collectionsDuring(() => run(300_000));
    expect(collections).toBe(0);
    expect(picks.reduce((a, b) => a + b, 0)).toBe(350_000);
  });
});
