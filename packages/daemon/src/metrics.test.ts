import { describe, expect, it } from "vitest";
import { MetricsRegistry, parseMetrics } from "./metrics.js";
import { fetchMetricsText, serveMetrics } from "./metrics-server.js";

describe("metrics", () => {
  it("renders counters and gauges in the Prometheus text format", async () => {
    const registry = new MetricsRegistry();
    const files = registry.counter("sluice_files_rotated_total", "Files finished.", ["source"]);
    const spool = registry.gauge("sluice_spool_bytes", "Bytes in the spool.");
    files.inc({ source: "eth1" });
    files.inc({ source: "eth1" }, 2);
    files.inc({ source: 'we"ird\\' });
    spool.set({}, 1024);
    expect(await registry.render()).toBe(
      [
        "# HELP sluice_files_rotated_total Files finished.",
        "# TYPE sluice_files_rotated_total counter",
        'sluice_files_rotated_total{source="eth1"} 3',
        'sluice_files_rotated_total{source="we\\"ird\\\\"} 1',
        "# HELP sluice_spool_bytes Bytes in the spool.",
        "# TYPE sluice_spool_bytes gauge",
        "sluice_spool_bytes 1024",
        "",
      ].join("\n"),
    );
  });

  it("runs collectors before rendering", async () => {
    const registry = new MetricsRegistry();
    const backlog = registry.gauge("sluice_backlog_files", "Files waiting.", ["node"]);
    let n = 0;
    registry.onCollect(() => backlog.set({ node: "node01" }, ++n));
    await registry.render();
    expect(parseMetrics(await registry.render())).toEqual([
      { name: "sluice_backlog_files", labels: { node: "node01" }, value: 2 },
    ]);
  });

  it("refuses a counter going down and a series missing a label", () => {
    const registry = new MetricsRegistry();
    const c = registry.counter("x_total", "x", ["a"]);
    expect(() => c.inc({ a: "1" }, -1)).toThrow(/can only go up/);
    expect(() => c.inc({})).toThrow(/needs label "a"/);
  });

  it("reads back what it renders, escapes included", async () => {
    const registry = new MetricsRegistry();
    registry.gauge("g", "g", ["a", "b"]).set({ a: 'x"y', b: "line\nbreak" }, 1.5);
    registry.gauge("inf", "i").set({}, Number.POSITIVE_INFINITY);
    expect(parseMetrics(await registry.render())).toEqual([
      { name: "g", labels: { a: 'x"y', b: "line\nbreak" }, value: 1.5 },
      { name: "inf", labels: {}, value: Number.POSITIVE_INFINITY },
    ]);
  });

  it("serves /metrics over HTTP on loopback", async () => {
    const registry = new MetricsRegistry();
    registry.counter("sluice_packets_captured_total", "Packets.").inc({}, 42);
    const server = await serveMetrics(registry, "127.0.0.1:0");
    try {
      const text = await fetchMetricsText(`127.0.0.1:${server.port}`);
      expect(parseMetrics(text)).toEqual([{ name: "sluice_packets_captured_total", labels: {}, value: 42 }]);
    } finally {
      await server.close();
    }
  });

  it("rejects when the port is taken", async () => {
    const registry = new MetricsRegistry();
    const first = await serveMetrics(registry, "127.0.0.1:0");
    try {
      await expect(serveMetrics(registry, `127.0.0.1:${first.port}`)).rejects.toMatchObject({
        code: "EADDRINUSE",
      });
    } finally {
      await first.close();
    }
  });
});
