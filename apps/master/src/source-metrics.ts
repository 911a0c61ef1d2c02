import type { Counter, MetricsRegistry } from "@sluice/daemon";
import type { RunningSource, SourceCounters } from "./sources.js";

/**
 * Per-source counters for Prometheus. Sources count from zero each time they start (a capture child's
 * libpcap stats do), so what a stopped source had counted is kept and added: the totals never go back.
 */
export class SourceMetrics {
  private readonly retired = new Map<string, SourceCounters>();
  private readonly exported = new Map<string, SourceCounters>();
  private readonly captured: Counter;
  private readonly bytes: Counter;
  private readonly dropped: Counter;
  private readonly files: Counter;

  constructor(registry: MetricsRegistry, sources: () => RunningSource[]) {
    this.captured = registry.counter("sluice_packets_captured_total", "Packets written to the spool.", [
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
    this.files = registry.counter("sluice_files_rotated_total", "Files finished in the spool.", ["source"]);
    registry.onCollect(async () => {
      const current = new Map<string, SourceCounters>();
      for (const source of sources()) current.set(source.name, await source.counters());
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
    const before = this.exported.get(name) ?? zero();
    const delta = (key: keyof SourceCounters) => Math.max(0, total[key] - before[key]);
    this.captured.inc({ source: name }, delta("captured"));
    this.bytes.inc({ source: name }, delta("bytes"));
    this.dropped.inc({ source: name, reason: "kernel" }, delta("droppedByKernel"));
    this.dropped.inc({ source: name, reason: "interface" }, delta("droppedByInterface"));
    this.dropped.inc({ source: name, reason: "spool" }, delta("droppedBySpool"));
    this.files.inc({ source: name }, delta("files"));
    this.exported.set(name, {
      captured: Math.max(before.captured, total.captured),
      bytes: Math.max(before.bytes, total.bytes),
      droppedByKernel: Math.max(before.droppedByKernel, total.droppedByKernel),
      droppedByInterface: Math.max(before.droppedByInterface, total.droppedByInterface),
      droppedBySpool: Math.max(before.droppedBySpool, total.droppedBySpool),
      files: Math.max(before.files, total.files),
    });
  }
}

function zero(): SourceCounters {
  return { captured: 0, bytes: 0, droppedByKernel: 0, droppedByInterface: 0, droppedBySpool: 0, files: 0 };
}

function add(a: SourceCounters | undefined, b: SourceCounters | undefined): SourceCounters {
  const x = a ?? zero();
  const y = b ?? zero();
  return {
    captured: x.captured + y.captured,
    bytes: x.bytes + y.bytes,
    droppedByKernel: x.droppedByKernel + y.droppedByKernel,
    droppedByInterface: x.droppedByInterface + y.droppedByInterface,
    droppedBySpool: x.droppedBySpool + y.droppedBySpool,
    files: x.files + y.files,
  };
}
