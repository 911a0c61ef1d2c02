/** Totals the replay command's final line reports. */
export interface ReplayTotals {
  files: number;
  filesFailed: number;
  packetsSent: number;
  bytesSent: number;
  skipped: number;
  truncated: number;
  failed: number;
  durationMs: number;
}

/** "sent 1000 packets (1.2 MiB) from 2 files in 0.50 s: 2000 pps, 19.1 Mbps; skipped 0, truncated 0, failed 0". */
export function formatTotals(t: ReplayTotals): string {
  const seconds = t.durationMs / 1000;
  const pps = seconds > 0 ? t.packetsSent / seconds : 0;
  const mbps = seconds > 0 ? (t.bytesSent * 8) / seconds / 1e6 : 0;
  const files = t.filesFailed > 0 ? `${t.files} files (${t.filesFailed} failed)` : `${t.files} files`;
  return (
    `sent ${t.packetsSent} packets (${formatBytes(t.bytesSent)}) from ${files} in ${seconds.toFixed(2)} s: ` +
    `${Math.round(pps)} pps, ${mbps.toFixed(1)} Mbps; skipped ${t.skipped}, truncated ${t.truncated}, failed ${t.failed}`
  );
}

/** A one-line progress bar for a TTY: `[=====>     ]  52% file.pcap 1200/2300 packets`. */
export function progressBar(name: string, sent: number, total: number | null, width = 30): string {
  if (total === null || total === 0) return `${name} ${sent} packets`;
  const ratio = Math.min(1, sent / total);
  const filled = Math.round(ratio * width);
  const bar = `${"=".repeat(Math.max(0, filled - 1))}${filled > 0 ? ">" : ""}${" ".repeat(width - filled)}`;
  return `[${bar}] ${String(Math.round(ratio * 100)).padStart(3)}% ${name} ${sent}/${total} packets`;
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} B`;
}
