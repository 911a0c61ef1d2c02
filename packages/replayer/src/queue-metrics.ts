import type { CounterMetric as Counter, GaugeMetric as Gauge, Metrics } from "@sluice/spool";

/** A ReplayQueue's Prometheus series (names are what `sluice-node status` and dashboards read). */
export interface QueueMetrics {
  filesReplayed: Counter;
  filesFailed: Counter;
  packetsSent: Counter;
  bytesSent: Counter;
  packetsSkipped: Counter;
  packetsTruncated: Counter;
  injectFailed: Counter;
  retries: Counter;
  backlogFiles: Gauge;
  backlogBytes: Gauge;
  lagSeconds: Gauge;
  currentFile: Gauge;
  currentPackets: Gauge;
  currentBytes: Gauge;
  outputUp: Gauge;
}

/** Registers the series in `registry`. */
export function queueMetrics(registry: Metrics): QueueMetrics {
  return {
    filesReplayed: registry.counter("sluice_node_files_replayed_total", "Files replayed completely."),
    filesFailed: registry.counter(
      "sluice_node_files_failed_total",
      "Files set aside in the failed folder, by reason.",
      ["reason"],
    ),
    packetsSent: registry.counter("sluice_node_packets_sent_total", "Packets sent to the output."),
    bytesSent: registry.counter("sluice_node_bytes_sent_total", "Bytes of packets sent to the output."),
    packetsSkipped: registry.counter(
      "sluice_node_packets_skipped_total",
      "Packets not sent, by reason (oversize, unsupported).",
      ["reason"],
    ),
    packetsTruncated: registry.counter(
      "sluice_node_packets_truncated_total",
      "Oversize packets sent truncated to the MTU.",
    ),
    injectFailed: registry.counter(
      "sluice_node_inject_failed_total",
      "Packets whose injection failed and was given up on.",
    ),
    retries: registry.counter(
      "sluice_node_output_retries_total",
      "Times the output failed (interface down or gone, inject errors) and was retried.",
    ),
    backlogFiles: registry.gauge("sluice_node_backlog_files", "Capture files waiting in incoming."),
    backlogBytes: registry.gauge("sluice_node_backlog_bytes", "Bytes of capture files waiting in incoming."),
    lagSeconds: registry.gauge(
      "sluice_node_replay_lag_seconds",
      "Now minus the capture start of the file being replayed (or of the oldest waiting one).",
    ),
    currentFile: registry.gauge("sluice_node_current_file", "1 for the file being replayed.", ["file"]),
    currentPackets: registry.gauge(
      "sluice_node_current_file_packets_sent",
      "Packets of the current file sent so far.",
    ),
    currentBytes: registry.gauge(
      "sluice_node_current_file_bytes_sent",
      "Bytes of packets of the current file sent so far.",
    ),
    outputUp: registry.gauge("sluice_node_output_up", "1 while the output (interface or FIFO) is open."),
  };
}
