import { describe, expect, it } from "vitest";
import type { Sample } from "./metrics.js";
import { MetricsHistory } from "./metrics-history.js";

const captured = (eth1: number, eth2 = 0): Sample[] => [
  { name: "sluice_packets_captured_total", labels: { source: "eth1" }, value: eth1 },
  { name: "sluice_packets_captured_total", labels: { source: "eth2" }, value: eth2 },
  { name: "sluice_other", labels: {}, value: 5 },
];
const eth1 = [{ name: "sluice_packets_captured_total", labels: { source: "eth1" } }];

describe("MetricsHistory", () => {
  it("gives per-second rates between snapshots, oldest first", () => {
    const history = new MetricsHistory({ names: ["sluice_packets_captured_total"] });
    history.record(captured(0), 10_000);
    history.record(captured(100), 11_000);
    history.record(captured(400), 12_000);
    history.record(captured(500), 14_000);
    expect(history.rates(eth1)).toEqual([100, 300, 50]);
    expect(history.spanSeconds).toBe(4);
  });

  it("sums the series a selector matches, and several selectors", () => {
    const history = new MetricsHistory({ names: ["sluice_packets_captured_total"] });
    history.record(captured(0, 0), 0);
    history.record(captured(10, 20), 1000);
    expect(history.rates([{ name: "sluice_packets_captured_total" }])).toEqual([30]);
    expect(history.rates([...eth1, ...eth1])).toEqual([20]);
  });

  it("counts a counter that went back (a restarted source) as a step of 0, not a negative rate", () => {
    const history = new MetricsHistory({ names: ["sluice_packets_captured_total"] });
    for (const [i, v] of [0, 100, 5, 25].entries()) history.record(captured(v), i * 1000);
    expect(history.rates(eth1)).toEqual([100, 0, 20]);
    expect(history.increaseOverHistory(eth1)).toBe(120);
  });

  it("keeps only the last `points` snapshots", () => {
    const history = new MetricsHistory({ names: ["sluice_packets_captured_total"], points: 61 });
    for (let i = 0; i <= 200; i++) history.record(captured(i * 10), i * 1000);
    const rates = history.rates(eth1);
    expect(rates).toHaveLength(60);
    expect(rates.every((r) => r === 10)).toBe(true);
    expect(history.spanSeconds).toBe(60);
  });

  it("averages the last seconds for the current rate", () => {
    const history = new MetricsHistory({ names: ["sluice_packets_captured_total"] });
    for (let i = 0; i <= 10; i++) history.record(captured(i < 5 ? 0 : (i - 5) * 1000), i * 1000);
    expect(history.rate(eth1, 5)).toBe(1000);
    expect(history.rate(eth1, 60)).toBe(500);
  });

  it("stores nothing of the metrics it was not asked to keep", () => {
    const history = new MetricsHistory({ names: ["sluice_packets_captured_total"] });
    history.record(captured(1), 0);
    history.record(captured(2), 1000);
    expect(history.rates([{ name: "sluice_other" }])).toEqual([0]);
  });
});
