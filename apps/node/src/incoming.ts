/** What a name in the incoming folder is to the node. */
export type EntryKind =
  /** A capture to verify and replay. */
  | "capture"
  /** A `<capture>.json` manifest: travels with its capture, never replayed. */
  | "sidecar"
  /** Hidden or still being written (`.name`, `*.partial`, `*.tmp`): not looked at. */
  | "ignored";

/** Sorts a name in the incoming folder into capture, sidecar or ignored. */
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

// The master's default names: <source>-20261122T103000Z-<seq>.pcap (also <source>-<peer>-<n>-<start>-<seq>).
const START = /-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-\d+\.[^.]+$/;

/** The capture start time a master file name carries (ms since the epoch), or null when it has none. */
export function captureStartOf(name: string): number | null {
  const m = START.exec(name);
  if (!m) return null;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  return Number.isNaN(ms) ? null : ms;
}

/** A capture's first sort key: the start time in its name, or `mtimeMs` when the name has none. */
export function captureOrderTime(name: string, mtimeMs: number): number {
  return captureStartOf(name) ?? mtimeMs;
}

/**
 * Capture order: by `startMs` (captureOrderTime: the time in the name, else the modification time), then
 * by name.
 */
export function compareCaptureOrder(
  a: { name: string; startMs: number },
  b: { name: string; startMs: number },
): number {
  if (a.startMs !== b.startMs) return a.startMs - b.startMs;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
