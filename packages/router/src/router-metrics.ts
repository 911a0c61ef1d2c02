import type { CounterMetric as Counter, GaugeMetric as Gauge, Metrics } from "@sluice/spool";
import type { Router } from "./router.js";

/** The router's Prometheus metrics, fed by its events and read from its state at each scrape. */
export class RouterMetrics {
  private readonly deliveries: Counter;
  private readonly deliveredBytes: Counter;
  private readonly handoffSeconds: Counter;
  private readonly dispatched: Counter;
  private readonly dropped: Counter;
  private readonly healthy: Gauge;
  private readonly backlog: Gauge;
  private readonly freeBytes: Gauge;
  private readonly pendingFiles: Gauge;
  private readonly pendingBytes: Gauge;

  constructor(registry: Metrics, router: Router) {
    this.deliveries = registry.counter(
      "sluice_deliveries_total",
      "Deliveries by destination and result (ok, failed: each failed attempt counts).",
      ["destination", "kind", "result"],
    );
    this.deliveredBytes = registry.counter(
      "sluice_delivered_bytes_total",
      "Bytes of the files delivered, by destination.",
      ["destination"],
    );
    this.handoffSeconds = registry.counter(
      "sluice_handoff_seconds_total",
      "Sum of the times from submit to published, by destination; divide by deliveries for the mean.",
      ["destination"],
    );
    this.dispatched = registry.counter(
      "sluice_files_dispatched_total",
      "Spool files whose every delivery succeeded.",
    );
    this.dropped = registry.counter(
      "sluice_spool_dropped_files_total",
      "Spool files given up before every delivery succeeded (quota exceeded, file removed by hand).",
      ["reason"],
    );
    this.healthy = registry.gauge(
      "sluice_destination_healthy",
      "1 when the destination takes files, 0 when not (see the logs for why).",
      ["destination", "kind"],
    );
    this.backlog = registry.gauge(
      "sluice_destination_backlog_files",
      "Files waiting in the destination's folder.",
      ["destination"],
    );
    this.freeBytes = registry.gauge(
      "sluice_destination_free_bytes",
      "Free bytes on the destination's filesystem.",
      ["destination"],
    );
    this.pendingFiles = registry.gauge(
      "sluice_spool_pending_files",
      "Spool files with deliveries still to do.",
    );
    this.pendingBytes = registry.gauge(
      "sluice_spool_pending_bytes",
      "Bytes of the spool files still to deliver.",
    );

    router.on("delivered", (event) => {
      const kind = event.key.startsWith("pool:") ? "pool" : "alone";
      this.deliveries.inc({ destination: event.destination, kind, result: "ok" });
      this.deliveredBytes.inc({ destination: event.destination }, event.bytes);
      this.handoffSeconds.inc({ destination: event.destination }, event.latencyMs / 1000);
    });
    router.on("delivery-failed", (event) => {
      if (event.destination === null) return;
      const kind = event.key.startsWith("pool:") ? "pool" : "alone";
      this.deliveries.inc({ destination: event.destination, kind, result: "failed" });
    });
    router.on("dispatched", () => this.dispatched.inc());
    router.on("dropped", (event) => this.dropped.inc({ reason: event.reason }));

    registry.onCollect(async () => {
      await router.refreshHealth();
      const { files, bytes } = router.pending();
      this.pendingFiles.set({}, files);
      this.pendingBytes.set({}, bytes);
      const config = router.config;
      const kinds = new Map<string, string>();
      for (const pool of config.pools) for (const node of pool.nodes) kinds.set(node.name, "pool");
      for (const consumer of config.alone) kinds.set(consumer.name, "alone");
      for (const [name, kind] of kinds) {
        const health = router.healthOf(name);
        if (health === null) continue;
        this.healthy.set({ destination: name, kind }, health.healthy ? 1 : 0);
        if (health.backlog !== null) this.backlog.set({ destination: name }, health.backlog);
        if (health.freeBytes !== null) this.freeBytes.set({ destination: name }, health.freeBytes);
      }
    });
  }

  /** Drops the series of a destination that left the configuration. */
  forget(name: string): void {
    for (const kind of ["pool", "alone"]) {
      this.healthy.remove?.({ destination: name, kind });
      for (const result of ["ok", "failed"]) this.deliveries.remove?.({ destination: name, kind, result });
    }
    this.backlog.remove?.({ destination: name });
    this.freeBytes.remove?.({ destination: name });
  }
}
