import { formatSize, type Sample, sampleSum, statusCommand } from "@sluice/daemon";
import { NodeConfig } from "../config.js";

/** `sluice-node status`: a running node's metrics as a human summary. */
export const runStatus = statusCommand({
  app: "sluice-node",
  what: "node",
  schema: NodeConfig,
  defaultConfig: "/etc/sluice/node.json",
  listenOf: (config) => config.metrics?.listen,
  format: (samples) => formatStatus(samples),
});

/** The summary `status` prints: output, current file, backlog, totals. */
export function formatStatus(samples: Sample[]): string {
  const value = (name: string, labels: Record<string, string> = {}): number =>
    sampleSum(samples, name, labels);
  const current = samples.find((s) => s.name === "sluice_node_current_file" && s.value > 0)?.labels["file"];
  const failedBy = samples
    .filter((s) => s.name === "sluice_node_files_failed_total" && s.value > 0)
    .map((s) => `${s.labels["reason"]} ${s.value}`);
  const skippedBy = samples
    .filter((s) => s.name === "sluice_node_packets_skipped_total" && s.value > 0)
    .map((s) => `${s.labels["reason"]} ${s.value}`);
  const lines = [
    // The output opens with the first file: down without a retry yet only means nothing came so far.
    `output:    ${
      value("sluice_node_output_up")
        ? "up"
        : value("sluice_node_output_retries_total")
          ? "DOWN (retrying)"
          : "not open yet (opens with the first file)"
    }` +
      (value("sluice_node_output_retries_total")
        ? `, ${value("sluice_node_output_retries_total")} retries`
        : ""),
    `current:   ${current === undefined ? "idle" : `${current} (${value("sluice_node_current_file_packets_sent")} packets sent)`}`,
    `backlog:   ${value("sluice_node_backlog_files")} files (${formatSize(value("sluice_node_backlog_bytes"))}) waiting, ` +
      `lag ${duration(value("sluice_node_replay_lag_seconds"))}`,
    `replayed:  ${value("sluice_node_files_replayed_total")} files, ${value("sluice_node_packets_sent_total")} packets, ` +
      `${formatSize(value("sluice_node_bytes_sent_total"))}`,
    `failed:    ${value("sluice_node_files_failed_total")} files${failedBy.length ? ` (${failedBy.join(", ")})` : ""}`,
    `skipped:   ${value("sluice_node_packets_skipped_total")} packets${skippedBy.length ? ` (${skippedBy.join(", ")})` : ""}, ` +
      `${value("sluice_node_packets_truncated_total")} truncated, ${value("sluice_node_inject_failed_total")} inject failures`,
  ];
  return `${lines.join("\n")}\n`;
}

function duration(seconds: number): string {
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
