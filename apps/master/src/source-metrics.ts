import type { Counter, Gauge, MetricsRegistry } from "@sluice/daemon";
import { addReasons, emptyCounters, type RunningSource, type SourceCounters } from "./sources.js";

/**
 * Per-source counters for Prometheus. Sources count from zero each time they start (a capture child's
 * libpcap stats do), so what a stopped source had counted is kept and added: the totals never go back.
 */
export class SourceMetrics {
  private readonly retired = new Map<string, SourceCounters>();
  private readonly exported = new Map<string, SourceCounters>();
  private readonly captured: Counter;
  private readonly written: Counter;
  private readonly bytes: Counter;
  private readonly dropped: Counter;
  private readonly spoolDrops: Counter;
  private readonly files: Counter;
  private readonly up: Gauge;

  constructor(registry: MetricsRegistry, sources: () => RunningSource[]) {
    this.captured = registry.counter(
      "sluice_packets_captured_total",
      "Packets captured: sluice_packets_written_total plus the spool's drops (kernel and interface drops never reached the capture).",
      ["source"],
    );
    this.written = registry.counter("sluice_packets_written_total", "Packets written to the spool.", [
      "source",
    ]);
    this.bytes = registry.counter(
      "sluice_bytes_captured_total",
      "Bytes of the packets written to the spool (captured lengths; a capture child reports them every second).",
      ["source"],
    );
    this.dropped = registry.counter(
      "sluice_packets_dropped_total",
      "Packets lost before the spool: kernel ring full, interface, spool full or unwritable.",
      ["source", "reason"],
    );
    this.spoolDrops = registry.counter(
      "sluice_spool_drops_total",
      'Packets the spool could not take, by why (spool-full, spool-unwritable, io): they sum to sluice_packets_dropped_total{reason="spool"}.',
      ["source", "reason"],
    );
    this.files = registry.counter("sluice_files_rotated_total", "Files finished in the spool.", ["source"]);
    this.up = registry.gauge(
      "sluice_source_up",
      "1 while the source captures, 0 while its interface is lost (being reopened) or it failed.",
      ["source"],
    );
    registry.onCollect(async () => {
      const current = new Map<string, SourceCounters>();
      for (const source of sources()) {
        current.set(source.name, await source.counters());
        const state = source.view().state;
        this.up.set({ source: source.name }, state === "down" || state === "failed" ? 0 : 1);
      }
      for (const name of new Set([...current.keys(), ...this.retired.keys()])) {
        this.publish(name, add(this.retired.get(name), current.get(name)));
      }
    });
  }

  /** Keeps a stopped source's final counts. */
  retire(name: string, counters: SourceCounters): void {
    this.retired.set(name, add(this.retired.get(name), counters));
  }

  private publish(name: string, total: SourceCounters): void {
    const before = this.exported.get(name) ?? emptyCounters();
    const delta = (key: Exclude<keyof SourceCounters, "spoolReasons">) =>
      Math.max(0, total[key] - before[key]);
    this.captured.inc({ source: name }, delta("captured"));
    this.written.inc({ source: name }, delta("written"));
    this.bytes.inc({ source: name }, delta("bytes"));
    this.dropped.inc({ source: name, reason: "kernel" }, delta("droppedByKernel"));
    this.dropped.inc({ source: name, reason: "interface" }, delta("droppedByInterface"));
    this.dropped.inc({ source: name, reason: "spool" }, delta("droppedBySpool"));
    this.files.inc({ source: name }, delta("files"));
    const spoolReasons: Record<string, number> = { ...before.spoolReasons };
    for (const [reason, count] of Object.entries(total.spoolReasons)) {
      const was = before.spoolReasons[reason] ?? 0;
      this.spoolDrops.inc({ source: name, reason }, Math.max(0, count - was));
      spoolReasons[reason] = Math.max(was, count);
    }
    this.exported.set(name, {
      captured: Math.max(before.captured, total.captured),
      written: Math.max(before.written, total.written),
      spoolReasons,
      bytes: Math.max(before.bytes, total.bytes),
      droppedByKernel: Math.max(before.droppedByKernel, total.droppedByKernel),
      droppedByInterface: Math.max(before.droppedByInterface, total.droppedByInterface),
      droppedBySpool: Math.max(before.droppedBySpool, total.droppedBySpool),
      files: Math.max(before.files, total.files),
    });
  }
}

function add(a: SourceCounters | undefined, b: SourceCounters | undefined): SourceCounters {
  const x = a ?? emptyCounters();
  const y = b ?? emptyCounters();
  const spoolReasons = { ...x.spoolReasons };
  addReasons(spoolReasons, y.spoolReasons);
  return {
    captured: x.captured + y.captured,
    written: x.written + y.written,
    spoolReasons,
    bytes: x.bytes + y.bytes,
    droppedByKernel: x.droppedByKernel + y.droppedByKernel,
    droppedByInterface: x.droppedByInterface + y.droppedByInterface,
    droppedBySpool: x.droppedBySpool + y.droppedBySpool,
    files: x.files + y.files,
  };
}
