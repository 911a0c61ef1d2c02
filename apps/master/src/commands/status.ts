import { statusCommand, statusKit } from "@sluice/daemon";
import { MasterConfig } from "../config.js";
import type { DestinationStatus, MasterStatus } from "../status-report.js";

/** `sluice-master status`: a running master's status document as a human summary. */
export const runStatus = statusCommand({
  app: "sluice-master",
  what: "master",
  schema: MasterConfig,
  defaultConfig: "/etc/sluice/master.json",
  format: (status: MasterStatus) => formatStatus(status),
});

/** The summary `status` prints: sources, spool, destinations (the status page's figures, as text). */
export function formatStatus(s: MasterStatus): string {
  const k = statusKit();
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
  table(
    ["SOURCE", "STATE", "PKT/S", "MBIT/S", "CAPTURED", "DROP KERNEL", "DROP IFACE", "DROP SPOOL", "FILES"],
    s.sources.map((x) => [
      x.name,
      x.state,
      Math.round(x.rate.pps),
      x.rate.mbps.toFixed(2),
      x.packets,
      x.dropped.kernel,
      x.dropped.interface,
      x.dropped.spool,
      x.files,
    ]),
  );
  for (const x of s.sources) {
    if (x.detail && x.state !== "listening") lines.push(`${x.name}: ${x.detail}`);
    for (const f of x.currentFiles)
      lines.push(`${x.name}: writing ${f.name} (${k.dur(f.ageSeconds)}, ${f.packets} packets)`);
  }
  if (s.sources.some((x) => x.currentFiles.length > 0 || (x.detail && x.state !== "listening")))
    lines.push("");
  const { quota } = s.spool;
  const limits = [
    quota.files === null ? null : `${quota.files} files`,
    quota.bytes === null ? null : k.bytes(quota.bytes),
  ].filter((q) => q !== null);
  lines.push(
    `spool: ${s.spool.pendingFiles} files (${k.bytes(s.spool.pendingBytes)}) waiting` +
      `${limits.length ? ` of a quota of ${limits.join(", ")}` : ""}, ${s.spool.dispatched} dispatched, ` +
      `${s.spool.dropped.quota + s.spool.dropped.missing} dropped`,
    "",
  );
  const destinations: DestinationStatus[] = [...s.pools.flatMap((p) => p.nodes), ...s.alone];
  table(
    ["DESTINATION", "KIND", "HEALTHY", "BACKLOG", "FREE", "DELIVERED", "FAILED", "LAST MIN", "LAST DELIVERY"],
    destinations.map((d) => [
      d.name,
      d.kind,
      d.health === "healthy" ? "yes" : d.health === "unknown" ? "unknown" : `NO (${d.reason ?? "unhealthy"})`,
      d.backlog ?? "-",
      k.bytes(d.freeBytes),
      d.delivered,
      d.failed,
      d.deliveriesLastMinute,
      d.lastDeliveryAt === null
        ? "never"
        : `${k.dur((Date.parse(s.now) - Date.parse(d.lastDeliveryAt)) / 1000)} ago`,
    ]),
  );
  for (const d of destinations)
    if (d.health === "unhealthy" && d.message) lines.push(`${d.name}: ${d.reason}: ${d.message}`);
  return `${lines.join("\n").trimEnd()}\n`;
}
