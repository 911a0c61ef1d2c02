import { resolve } from "node:path";
import { type Labels, type StatusContext, type StatusHeader, sampleSum } from "@sluice/daemon";
import { formatSpeed, parseSpeed } from "@sluice/replayer";
import type { NodeConfig } from "./config.js";
import type { FailedFile, ReplayedFile, RunningNode } from "./node-activity.js";

/** The metrics whose last minute the node's page charts. */
export const NODE_HISTORY = [
  "sluice_node_packets_sent_total",
  "sluice_node_current_file_packets_sent",
  "sluice_node_bytes_sent_total",
  "sluice_node_current_file_bytes_sent",
  "sluice_node_output_retries_total",
];

/** Seconds the current rate is averaged over (the chart shows every second). */
const RATE_SECONDS = 5;

// Sent so far: whole files, plus the part of the current one (the totals grow when a file ends).
const SENT_PACKETS = [
  { name: "sluice_node_packets_sent_total" },
  { name: "sluice_node_current_file_packets_sent" },
];
const SENT_BYTES = [
  { name: "sluice_node_bytes_sent_total" },
  { name: "sluice_node_current_file_bytes_sent" },
];

/** The node's status document: GET /status.json, what `sluice-node status` and the page show. */
export interface NodeStatus extends StatusHeader {
  incoming: string;
  output: {
    type: "interface" | "fifo";
    /** The interface, or the FIFO's path. */
    target: string;
    netns: string | null;
    /** up: open; down: it failed within the last minute and is being retried; closed: opens with the next file. */
    state: "up" | "down" | "closed";
    retries: number;
    speed: string;
  };
  /** The file being replayed, or null. */
  current: {
    name: string;
    packetsSent: number;
    bytesSent: number;
    /** What the verifier counted: null when this process did not see the replay start. */
    packets: number | null;
    size: number | null;
    startedAt: string | null;
  } | null;
  /** Mean of the last few seconds. */
  rate: { pps: number; mbps: number };
  /** One value per second over the last minute, oldest first. */
  history: { pps: number[]; mbps: number[] };
  /** Now minus the capture start of the file being replayed (or of the oldest waiting one). */
  lagSeconds: number;
  backlog: { files: number; bytes: number };
  totals: {
    filesReplayed: number;
    filesFailed: number;
    packetsSent: number;
    bytesSent: number;
    skipped: { oversize: number; unsupported: number };
    truncated: number;
    injectFailed: number;
  };
  /** Files failed since start, by reason. */
  failedBy: { reason: string; files: number }[];
  /** Newest first, the last 20 of each. */
  recentReplayed: ReplayedFile[];
  recentFailed: FailedFile[];
  /** Seconds of history behind the rates and charts. */
  historySeconds: number;
}

/** The part of the status document after its header, from the registry's samples and the node. */
export function nodeStatus(
  context: StatusContext<RunningNode, NodeConfig>,
): Omit<NodeStatus, keyof StatusHeader> {
  const { daemon, config, samples, history } = context;
  const value = (name: string, labels: Labels = {}) => sampleSum(samples, name, labels);
  const name = samples.find((s) => s.name === "sluice_node_current_file" && s.value > 0)?.labels["file"];
  const started = name === undefined ? null : daemon.activity.startedFile(name);
  const retries = value("sluice_node_output_retries_total");
  const output = config.output;
  return {
    incoming: resolve(config.incoming),
    output: {
      type: output.type,
      target: output.type === "fifo" ? output.path : output.interface,
      netns: output.type === "interface" ? (output.netns ?? null) : null,
      state: value("sluice_node_output_up")
        ? "up"
        : history.increaseOverHistory([{ name: "sluice_node_output_retries_total" }]) > 0
          ? "down"
          : "closed",
      retries,
      speed: formatSpeed(parseSpeed(config.speed)),
    },
    current:
      name === undefined
        ? null
        : {
            name,
            packetsSent: value("sluice_node_current_file_packets_sent"),
            bytesSent: value("sluice_node_current_file_bytes_sent"),
            packets: started?.packets ?? null,
            size: started?.size ?? null,
            startedAt: started?.startedAt ?? null,
          },
    rate: {
      pps: history.rate(SENT_PACKETS, RATE_SECONDS),
      mbps: (history.rate(SENT_BYTES, RATE_SECONDS) * 8) / 1e6,
    },
    history: {
      pps: history.rates(SENT_PACKETS),
      mbps: history.rates(SENT_BYTES).map((b) => (b * 8) / 1e6),
    },
    lagSeconds: value("sluice_node_replay_lag_seconds"),
    backlog: { files: value("sluice_node_backlog_files"), bytes: value("sluice_node_backlog_bytes") },
    totals: {
      filesReplayed: value("sluice_node_files_replayed_total"),
      filesFailed: value("sluice_node_files_failed_total"),
      packetsSent: value("sluice_node_packets_sent_total"),
      bytesSent: value("sluice_node_bytes_sent_total"),
      skipped: {
        oversize: value("sluice_node_packets_skipped_total", { reason: "oversize" }),
        unsupported: value("sluice_node_packets_skipped_total", { reason: "unsupported" }),
      },
      truncated: value("sluice_node_packets_truncated_total"),
      injectFailed: value("sluice_node_inject_failed_total"),
    },
    failedBy: samples
      .filter((s) => s.name === "sluice_node_files_failed_total" && s.value > 0)
      .map((s) => ({ reason: s.labels["reason"]!, files: s.value })),
    recentReplayed: daemon.activity.recentReplayed(),
    recentFailed: daemon.activity.recentFailed(),
    historySeconds: Math.round(history.spanSeconds),
  };
}
