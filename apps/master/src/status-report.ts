import { type Labels, type Sample, type StatusContext, type StatusHeader, sampleSum } from "@sluice/daemon";
import type { Destination } from "@sluice/router";
import type { MasterConfig } from "./config.js";
import type { Dispatcher } from "./dispatcher.js";
import type { RecentFile } from "./recent-files.js";
import type { SourceView } from "./sources.js";

/** The metrics whose last minute the master's page charts. */
export const MASTER_HISTORY = [
  "sluice_packets_captured_total",
  "sluice_bytes_captured_total",
  "sluice_deliveries_total",
];

/** Seconds the current rate is averaged over (the chart shows every second). */
const RATE_SECONDS = 5;

/** One source in the status document. */
export interface SourceStatus {
  name: string;
  /** null for a source no longer in the config whose totals are still exported. */
  type: SourceView["type"] | null;
  input: string | null;
  /** stopped: removed by a reload; down: `sluice_source_up` says so. */
  state: SourceView["state"] | "down" | "stopped";
  detail: string | null;
  packets: number;
  bytes: number;
  files: number;
  dropped: { kernel: number; interface: number; spool: number };
  /** Mean of the last few seconds. */
  rate: { pps: number; mbps: number };
  /** One value per second over the last minute, oldest first. */
  history: { pps: number[]; mbps: number[] };
  /** The files being written now. */
  currentFiles: { name: string; startedAt: string; ageSeconds: number; packets: number; bytes: number }[];
}

/** One pool node or alone consumer in the status document. */
export interface DestinationStatus {
  name: string;
  kind: "pool" | "alone";
  path: string;
  /** unknown: not checked yet. */
  health: "healthy" | "unhealthy" | "unknown";
  /** Why it is unhealthy (`unwritable`, `not-mounted`, … whatever the health check reports), in its words. */
  reason: string | null;
  message: string | null;
  checkedAt: string | null;
  backlog: number | null;
  freeBytes: number | null;
  delivered: number;
  failed: number;
  deliveredBytes: number;
  lastDeliveryAt: string | null;
  /** Deliveries over the last minute (since start, in the first minute). */
  deliveriesLastMinute: number;
}

/** The master's status document: GET /status.json, what `sluice-master status` and the page show. */
export interface MasterStatus extends StatusHeader {
  sources: SourceStatus[];
  spool: {
    path: string;
    pendingFiles: number;
    pendingBytes: number;
    /** null: no limit. */
    quota: { files: number | null; bytes: number | null };
    dispatched: number;
    dropped: { quota: number; missing: number };
  };
  pools: { name: string; strategy: string; nodes: DestinationStatus[] }[];
  alone: DestinationStatus[];
  /** The last files the sources finished, newest first. */
  recentFiles: RecentFile[];
  /** Seconds of history behind the rates and charts. */
  historySeconds: number;
}

/** The part of the status document after its header, from the registry's samples and the dispatcher. */
export function masterStatus(
  context: StatusContext<Dispatcher, MasterConfig>,
): Omit<MasterStatus, keyof StatusHeader> {
  const { daemon, samples, history } = context;
  const value = (name: string, labels: Labels = {}) => sampleSum(samples, name, labels);
  const sources = sourceStatuses(context);
  const router = daemon.routing;
  const destination = (d: Destination, kind: "pool" | "alone"): DestinationStatus => {
    const of = { destination: d.name };
    const healthy = samples.find(
      (s) => s.name === "sluice_destination_healthy" && s.labels["destination"] === d.name,
    );
    const health = router.healthOf(d.name);
    const unhealthy = healthy?.value === 0;
    const ok = { ...of, result: "ok" };
    return {
      name: d.name,
      kind,
      path: d.path,
      health: healthy === undefined ? "unknown" : unhealthy ? "unhealthy" : "healthy",
      reason: unhealthy ? (health?.reason ?? null) : null,
      message: unhealthy ? (health?.message ?? null) : null,
      checkedAt: health ? new Date(health.checkedAt).toISOString() : null,
      backlog: sampleOf(samples, "sluice_destination_backlog_files", of),
      freeBytes: sampleOf(samples, "sluice_destination_free_bytes", of),
      delivered: value("sluice_deliveries_total", ok),
      failed: value("sluice_deliveries_total", { ...of, result: "failed" }),
      deliveredBytes: value("sluice_delivered_bytes_total", of),
      lastDeliveryAt: daemon.recent.lastDeliveryTo(d.name),
      deliveriesLastMinute: history.increaseOverHistory([{ name: "sluice_deliveries_total", labels: ok }]),
    };
  };
  const { quota } = router.config;
  return {
    sources,
    spool: {
      path: daemon.spool,
      pendingFiles: value("sluice_spool_pending_files"),
      pendingBytes: value("sluice_spool_pending_bytes"),
      quota: {
        files: Number.isFinite(quota.files) ? quota.files : null,
        bytes: Number.isFinite(quota.bytes) ? quota.bytes : null,
      },
      dispatched: value("sluice_files_dispatched_total"),
      dropped: {
        quota: value("sluice_spool_dropped_files_total", { reason: "quota" }),
        missing: value("sluice_spool_dropped_files_total", { reason: "missing" }),
      },
    },
    pools: router.config.pools.map((p) => ({
      name: p.name,
      strategy: p.strategy,
      nodes: p.nodes.map((n) => destination(n, "pool")),
    })),
    alone: router.config.alone.map((a) => destination(a, "alone")),
    recentFiles: daemon.recent.list(),
    historySeconds: Math.round(history.spanSeconds),
  };
}

/** Each source the config names, runs, or still has totals for (one removed by a reload). */
function sourceStatuses(context: StatusContext<Dispatcher, MasterConfig>): SourceStatus[] {
  const { daemon, config, samples, history, now } = context;
  const value = (name: string, labels: Labels = {}) => sampleSum(samples, name, labels);
  const views = daemon.sourceViews();
  const exported = samples
    .filter((s) => s.name === "sluice_packets_captured_total")
    .map((s) => s.labels["source"]!);
  const names = [...new Set([...config.sources.map((s) => s.name), ...views.keys(), ...exported])];
  return names.map((name): SourceStatus => {
    const view = views.get(name);
    const of = { source: name };
    const packets = [{ name: "sluice_packets_captured_total", labels: of }];
    const bytes = [{ name: "sluice_bytes_captured_total", labels: of }];
    const up = sampleOf(samples, "sluice_source_up", of);
    return {
      name,
      type: view?.type ?? null,
      input: view?.input ?? null,
      state: view === undefined ? "stopped" : up === 0 ? "down" : view.state,
      detail: view?.detail ?? null,
      packets: value("sluice_packets_captured_total", of),
      bytes: value("sluice_bytes_captured_total", of),
      files: value("sluice_files_rotated_total", of),
      dropped: {
        kernel: value("sluice_packets_dropped_total", { ...of, reason: "kernel" }),
        interface: value("sluice_packets_dropped_total", { ...of, reason: "interface" }),
        spool: value("sluice_packets_dropped_total", { ...of, reason: "spool" }),
      },
      rate: {
        pps: history.rate(packets, RATE_SECONDS),
        mbps: (history.rate(bytes, RATE_SECONDS) * 8) / 1e6,
      },
      history: {
        pps: history.rates(packets),
        mbps: history.rates(bytes).map((b) => (b * 8) / 1e6),
      },
      currentFiles: (view?.files ?? []).map((f) => ({
        name: f.name,
        startedAt: new Date(f.startMs).toISOString(),
        ageSeconds: Math.max(0, (now - f.startMs) / 1000),
        packets: f.packets,
        bytes: f.bytes,
      })),
    };
  });
}

/** The value of the one series `name` with `labels`, or null when it is not exported. */
function sampleOf(samples: readonly Sample[], name: string, labels: Labels): number | null {
  const found = samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return found?.value ?? null;
}
