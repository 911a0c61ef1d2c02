import { performance } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import { SendLatency, Spinner, TimingRecorder } from "./timing.js";

describe("Spinner", () => {
  it("waits until the target on the clock it is given, reading it rarely while the target is far", () => {
    let readings = 0;
    const clock = (): number => {
      readings++;
      return performance.now() * 1e6;
    };
    const spinner = new Spinner(clock);
    readings = 0;
    const target = clock() + 5_000_000;
    const reached = spinner.until(target);
    expect(reached).toBeGreaterThanOrEqual(target);
    expect(performance.now() * 1e6).toBeGreaterThanOrEqual(target);
    // A plain `while (clock() < target)` reads it about once every 50 ns: 100 000 times in 5 ms.
    // Readings every ≤ 20 µs while far, a few more near the end, and more if the loop was preempted.
    expect(readings).toBeLessThan(5000);
  });

  it("returns at once when the target has passed", () => {
    const spinner = new Spinner(() => performance.now() * 1e6);
    const now = performance.now() * 1e6;
    expect(spinner.until(now - 1000)).toBeGreaterThanOrEqual(now);
  });
});

describe("SendLatency", () => {
  /** Sends a burst of `count` warm sends (`tookNs` each, 10 µs apart) from `at`; returns the last end. */
  function burst(latency: SendLatency, at: number, count: number, tookNs: number): number {
    let end = at;
    for (let i = 0; i < count; i++) {
      const start = end + 10_000;
      end = start + tookNs;
      latency.record(start, end);
    }
    return end;
  }

  it("leads a send after a quiet spell by how much longer such sends took than warm ones", () => {
    const latency = new SendLatency();
    let end = burst(latency, 0, 20, 3000);
    for (let i = 0; i < 40; i++) {
      const start = end + 10_000_000;
      latency.record(start, start + 15_000);
      end = burst(latency, start + 15_000, 20, 3000);
    }
    expect(latency.lead(end + 10_000_000)).toBe(12_000);
    // Inside a burst, and after a spell of another length it has not seen, a send is not led.
    expect(latency.lead(end + 50_000)).toBe(0);
    expect(latency.lead(end + 1_500_000)).toBe(0);
  });

  it("is not thrown off by the odd preempted send, and never leads by more than 100 µs", () => {
    const latency = new SendLatency();
    let end = burst(latency, 0, 20, 3000);
    const coldSend = (took: number): void => {
      const start = end + 10_000_000;
      latency.record(start, start + took);
      end = burst(latency, start + took, 5, 3000);
    };
    for (let i = 0; i < 40; i++) coldSend(15_000);
    coldSend(2_000_000);
    // A median of the last few: one preempted send does not move it.
    expect(latency.lead(end + 10_000_000)).toBe(12_000);
    for (let i = 0; i < 20; i++) coldSend(5_000_000);
    expect(latency.lead(end + 10_000_000)).toBe(100_000);
  });

  it("leads nothing before it has seen warm sends and a few cold ones", () => {
    const latency = new SendLatency();
    expect(latency.lead(1e9)).toBe(0);
    // The very first send of a run is not a sample (its code is not compiled yet).
    latency.record(0, 1_000_000);
    let end = 1_000_000;
    for (let i = 0; i < 7; i++) {
      const start = end + 10_000_000;
      latency.record(start, start + 50_000);
      end = start + 50_000;
    }
    expect(latency.lead(end + 10_000_000)).toBe(0);
    end = burst(latency, end, 5, 3000);
    expect(latency.lead(end + 10_000_000)).toBe(0);
    const start = end + 10_000_000;
    latency.record(start, start + 50_000);
    end = burst(latency, start + 50_000, 5, 3000);
    expect(latency.lead(end + 10_000_000)).toBe(47_000);
  });
});

describe("TimingRecorder", () => {
  it("gives percentiles of what it was given and the maximum", () => {
    const recorder = new TimingRecorder(1000);
    for (let i = 1; i <= 100; i++) recorder.add(i);
    expect(recorder.summary()).toEqual({ p50: 51, p99: 100, max: 100 });
  });
});
