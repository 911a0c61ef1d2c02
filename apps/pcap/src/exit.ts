/** 0: every file complete; 1: a file incomplete, invalid or unreadable; 2: usage error. */
export type ExitCode = 0 | 1 | 2;

/** A command line that cannot be run: exit 2 with the usage text. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The one-line description of a failure to read `file`, naming what and where. */
export function describeFailure(file: string, error: unknown): string {
  if (typeof error === "object" && error !== null && "reason" in error && typeof error.reason === "string") {
    const { reason, offset, message } = error as { reason: string; offset: number | null; message: string };
    if (offset === null) return `${file}: ${message}`;
    return `${file}: ${reason} at byte ${offset}: ${stripSuffix(message)}`;
  }
  return `${file}: ${error instanceof Error ? error.message : String(error)}`;
}

// PcapFormatError messages end with "(reason at byte N)"; the CLI puts that first instead.
function stripSuffix(message: string): string {
  return message.replace(/ \([a-z-]+ at byte \d+\)$/, "");
}

/**
 * Warnings with a count, as "caplen-over-snaplen 188, no-timestamp 3", or "" when there are none: packets
 * read on from as libpcap reads on, named as pcap-format names them.
 */
export function describeWarnings(warnings: Readonly<Record<string, number>>): string {
  return Object.entries(warnings)
    .filter(([, count]) => count > 0)
    .map(([warning, count]) => `${warning} ${count}`)
    .join(", ");
}
