/** The default name template: source label, UTC start, per-source sequence. */
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

/** Fills a template's {source}, {start} (20261122T103000Z), {startMs} and {seq} (six digits) and adds .pcap. */
export function fileName(template: string, source: string, startMs: number, sequence: number): string {
  const name = template
    .replaceAll("{source}", safeLabel(source))
    .replaceAll("{startMs}", String(startMs))
    .replaceAll("{start}", compactUtc(startMs))
    .replaceAll("{seq}", String(sequence).padStart(6, "0"));
  if (name.includes("/") || name.startsWith(".")) throw new RangeError(`file name template gives "${name}"`);
  return `${name}.pcap`;
}

/** The hidden name a file is written under until it is complete. */
export function partialName(name: string): string {
  return `.${name}.partial`;
}

/** The final name hidden in a partial name, or null when `entry` is not one. */
export function finalNameOf(entry: string): string | null {
  const match = /^\.(.+\.pcap)\.partial$/.exec(entry);
  return match ? match[1]! : null;
}

/** Parses a default-template name back into its parts (for salvaged files). */
export function parseDefaultName(name: string): { source: string; startMs: number; sequence: number } | null {
  const match = /^(.+)-(\d{8})T(\d{6})Z-(\d{6,})\.pcap$/.exec(name);
  if (!match) return null;
  const [, source, d, t, seq] = match as unknown as [string, string, string, string, string];
  const iso = `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${t.slice(0, 2)}:${t.slice(2, 4)}:${t.slice(4, 6)}Z`;
  return { source, startMs: Date.parse(iso), sequence: Number(seq) };
}
