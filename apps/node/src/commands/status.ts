import { statusCommand, statusKit } from "@sluice/daemon";
import { NodeConfig } from "../config.js";
import type { NodeStatus } from "../status-report.js";

/** `sluice-node status`: a running node's status document as a human summary. */
export const runStatus = statusCommand({
  app: "sluice-node",
  what: "node",
  schema: NodeConfig,
  defaultConfig: "/etc/sluice/node.json",
  format: (status: NodeStatus) => formatStatus(status),
});

/** The summary `status` prints: output, current file, backlog, totals (the status page's figures, as text). */
export function formatStatus(s: NodeStatus): string {
  const k = statusKit();
  const { output, current, totals } = s;
  const count = (items: { reason: string; files: number }[]) =>
    items.length ? ` (${items.map((i) => `${i.reason} ${i.files}`).join(", ")})` : "";
  const skipped = totals.skipped.oversize + totals.skipped.unsupported;
  const lines = [
    `output:    ${
      output.state === "up"
        ? "up"
        : output.state === "down"
          ? "DOWN (retrying)"
          : "closed (opens with the next file)"
    }, ${output.type} ${output.target}${output.retries ? `, ${output.retries} retries` : ""}`,
    `current:   ${
      current === null
        ? "idle"
        : `${current.name} (${current.packetsSent}${current.packets === null ? "" : ` of ${current.packets}`} packets sent)`
    }`,
    `rate:      ${Math.round(s.rate.pps)} packets/s, ${s.rate.mbps.toFixed(2)} Mbit/s (speed ${output.speed})`,
    `backlog:   ${s.backlog.files} files (${k.bytes(s.backlog.bytes)}) waiting, lag ${k.dur(s.lagSeconds)}`,
    `replayed:  ${totals.filesReplayed} files, ${totals.packetsSent} packets, ${k.bytes(totals.bytesSent)}`,
    `failed:    ${totals.filesFailed} files${count(s.failedBy)}`,
    `skipped:   ${skipped} packets${count(
      Object.entries(totals.skipped)
        .filter(([, n]) => n > 0)
        .map(([reason, files]) => ({ reason, files })),
    )}, ${totals.truncated} truncated, ${totals.injectFailed} inject failures`,
  ];
  for (const f of s.recentFailed.slice(0, 5)) lines.push(`failed ${f.name}: ${f.reason}: ${f.message}`);
  return `${lines.join("\n")}\n`;
}
