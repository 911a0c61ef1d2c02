// The names of Sluice's files, read and written in one place: what a rotated file is called, which names
// in a folder are work in progress, which are sidecars, and what time a name hints at.

/** The default name template of rotated files: source label, UTC start, per-source sequence. */
export const DEFAULT_NAME_TEMPLATE = "{source}-{start}-{seq}";

/**
 * The default template of fanout workers: each worker's files carry its number ({worker}, 1..N), so the
 * workers of one source never pick the same name.
 */
export const DEFAULT_WORKER_NAME_TEMPLATE = "{source}-w{worker}-{start}-{seq}";

/** A template with its {worker} field filled in (the rotator of one worker fills the rest). */
export function workerTemplate(template: string, worker: number): string {
  return template.replaceAll("{worker}", String(worker));
}

/** UTC time that sorts as text: 20261122T103000Z. */
export function compactUtc(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
}

/** A source label made safe for file names. */
export function safeLabel(label: string): string {
  return label.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "_") || "source";
}

/**
 * Fills a template's {source}, {start} (20261122T103000Z), {startMs} and {seq} (six digits) and adds
 * .pcap; null when the result is no plain, visible file name.
 */
export function fillNameTemplate(
  template: string,
  source: string,
  startMs: number,
  sequence: number,
): string | null {
  const name = template
    .replaceAll("{source}", safeLabel(source))
    .replaceAll("{startMs}", String(startMs))
    .replaceAll("{start}", compactUtc(startMs))
    .replaceAll("{seq}", String(sequence).padStart(6, "0"));
  return name.includes("/") || name.startsWith(".") || name === "" ? null : `${name}.pcap`;
}

/** The final name hidden in a `.name.pcap.partial` name, or null when `entry` is not one. */
export function finalNameOf(entry: string): string | null {
  const match = /^\.(.+\.pcap)\.partial$/.exec(entry);
  return match ? match[1]! : null;
}

/** Parses a default-template name back into its parts (for salvaged files). */
export function parseDefaultName(name: string): { source: string; startMs: number; sequence: number } | null {
  const match = /^(.+)-(\d{8})T(\d{6})Z-(\d{6,})\.pcap$/.exec(name);
  if (!match) return null;
  const [, source, d, t, seq] = match as unknown as [string, string, string, string, string];
  const startMs = utcMs(
    d.slice(0, 4),
    d.slice(4, 6),
    d.slice(6, 8),
    t.slice(0, 2),
    t.slice(2, 4),
    t.slice(4),
  );
  return startMs === null ? null : { source, startMs, sequence: Number(seq) };
}

/** What a name in a folder of captures is. */
export type EntryKind =
  /** A capture to take. */
  | "capture"
  /** A `<capture>.json` manifest: travels with its capture, never taken as one. */
  | "sidecar"
  /**
   * Work in progress or bookkeeping, never looked at: hidden (`.name`, every staging name), `*.partial`,
   * `*.tmp`, and `*.reason.json` (why a file was set aside).
   */
  | "ignored";

/** Sorts a name in an incoming folder into capture, sidecar or ignored. */
export function entryKind(name: string): EntryKind {
  if (name.startsWith(".") || name.endsWith(".partial") || name.endsWith(".tmp")) return "ignored";
  if (name.endsWith(".reason.json")) return "ignored";
  if (name.endsWith(".json")) return "sidecar";
  return "capture";
}

/** The manifest name that travels with a capture: `x.pcap` → `x.pcap.json`. */
export function sidecarOf(name: string): string {
  return `${name}.json`;
}

// A date and time of day in a name, as capture tools write them: 20261122T103000Z (Sluice, ISO basic),
// 2026-11-22T10:30:00 or 2026-11-22_10-30-00 (strftime patterns given to tcpdump -G), 20261122103000
// (dumpcap's ring buffer: prefix_00001_20261122103000.pcapng).
const NAME_TIME = /(?<![0-9])(\d{4})-?(\d{2})-?(\d{2})(?:[T_ -]?)(\d{2})[:.-]?(\d{2})[:.-]?(\d{2})(?![0-9])/g;

/**
 * The time a file name hints at, in ms since the epoch (read as UTC), or null. The last date-time in the
 * name wins (dumpcap puts a sequence number before it). Only a hint: the capture's own first record says
 * when it starts.
 */
export function nameTimeHint(name: string): number | null {
  let found: number | null = null;
  for (const m of name.matchAll(NAME_TIME)) {
    const ms = utcMs(m[1]!, m[2]!, m[3]!, m[4]!, m[5]!, m[6]!);
    if (ms !== null) found = ms;
  }
  return found;
}

function utcMs(y: string, mo: string, d: string, h: string, mi: string, s: string): number | null {
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  return Date.UTC(year, month - 1, day, hour, minute, second);
}
