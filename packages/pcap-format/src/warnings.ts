/**
 * Something about a record that libpcap reads on from, and so do we, counted rather than thrown. A small closed
 * set, named like the error reasons, so callers branch on it and users see the same names in `sluice-pcap`.
 */
export type ReadWarning =
  /** A classic pcap record longer than the file's snaplen: cut to the snaplen, the rest skipped (libpcap). */
  | "caplen-over-snaplen"
  /** A record whose captured length exceeds its original length: read as it is. */
  | "caplen-over-origlen"
  /** A classic pcap timestamp fraction of a second or more: carried into the seconds for readers. */
  | "fraction-over-second"
  /** A pcapng Simple Packet Block, which has no timestamp: reported as time 0. */
  | "no-timestamp";

/** Every ReadWarning, in the order reports list them. */
export const READ_WARNINGS: readonly ReadWarning[] = [
  "caplen-over-snaplen",
  "caplen-over-origlen",
  "fraction-over-second",
  "no-timestamp",
];

/** How many records of a read raised each warning. */
export type ReadWarnings = Record<ReadWarning, number>;

/** Counters at zero for every warning. */
export function noWarnings(): ReadWarnings {
  return { "caplen-over-snaplen": 0, "caplen-over-origlen": 0, "fraction-over-second": 0, "no-timestamp": 0 };
}
