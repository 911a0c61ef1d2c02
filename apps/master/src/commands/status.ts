import { formatSize, type Sample, sampleSum, statusCommand } from "@sluice/daemon";
import { MasterConfig } from "../config.js";

/** `sluice-master status`: a running master's metrics as a human summary. */
export const runStatus = statusCommand({
  app: "sluice-master",
  what: "master",
  schema: MasterConfig,
  defaultConfig: "/etc/sluice/master.json",
  listenOf: (config) => config.metrics?.listen,
  format: (samples) => formatStatus(samples),
});

/** The summary `status` prints: sources, spool, destinations. */
export function formatStatus(samples: Sample[]): string {
  const value = (name: string, labels: Record<string, string> = {}): number =>
    sampleSum(samples, name, labels);
  const labelValues = (name: string, label: string): string[] => [
    ...new Set(samples.filter((s) => s.name === name).map((s) => s.labels[label]!)),
  ];
  const lines: string[] = [];
  const table = (header: string[], rows: (string | number)[][]): void => {
    const all = [header, ...rows.map((r) => r.map(String))];
    const widths = header.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
    for (const row of all)
      lines.push(
        row
          .map((cell, i) => cell.padEnd(widths[i]!))
          .join("  ")
          .trimEnd(),
      );
    lines.push("");
  };
  const sources = labelValues("sluice_packets_captured_total", "source");
  table(
    ["SOURCE", "CAPTURED", "DROP KERNEL", "DROP IFACE", "DROP SPOOL", "FILES"],
    sources.map((source) => [
      source,
      value("sluice_packets_captured_total", { source }),
      value("sluice_packets_dropped_total", { source, reason: "kernel" }),
      value("sluice_packets_dropped_total", { source, reason: "interface" }),
      value("sluice_packets_dropped_total", { source, reason: "spool" }),
      value("sluice_files_rotated_total", { source }),
    ]),
  );
  lines.push(
    `spool: ${value("sluice_spool_pending_files")} files (${formatSize(value("sluice_spool_pending_bytes"))}) waiting, ` +
      `${value("sluice_files_dispatched_total")} dispatched, ${value("sluice_spool_dropped_files_total")} dropped`,
    "",
  );
  const destinations = samples.filter((s) => s.name === "sluice_destination_healthy");
  table(
    ["DESTINATION", "KIND", "HEALTHY", "BACKLOG", "FREE", "DELIVERED", "FAILED"],
    destinations.map(({ labels }) => {
      const destination = labels["destination"]!;
      return [
        destination,
        labels["kind"]!,
        value("sluice_destination_healthy", { destination }) ? "yes" : "NO",
        value("sluice_destination_backlog_files", { destination }),
        formatSize(value("sluice_destination_free_bytes", { destination })),
        value("sluice_deliveries_total", { destination, result: "ok" }),
        value("sluice_deliveries_total", { destination, result: "failed" }),
      ];
    }),
  );
  return `${lines.join("\n").trimEnd()}\n`;
}
