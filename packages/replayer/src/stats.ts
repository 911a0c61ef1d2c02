/** What replaying one file did. */
export interface FileReplayStats {
  path: string;
  packetsSent: number;
  bytesSent: number;
  /** Records not sent: over MTU plus link header, or of a link type the output cannot carry. */
  skipped: { oversize: number; unsupported: number };
  /** Oversize records sent cut to MTU plus link header (oversize "truncate"). */
  truncated: number;
  /** Inject calls that failed and were given up on. */
  failed: number;
  /** Wall time of replaying the file, from its turn (not the wait for it) to its end, gaps included. */
  durationMs: number;
  /** From the first record sent to the last (what tcpreplay's "Rated" divides by). */
  sendingMs: number;
  /** Packets and megabits per second over durationMs. */
  pps: number;
  mbps: number;
  /** Actual send time minus scheduled, in µs; null unless paced. */
  timingErrorUs: { p50: number; p99: number; max: number } | null;
}

/** Where a file's replay stands, reported as batches go out. */
export interface ReplayProgress {
  path: string;
  packetsSent: number;
  bytesSent: number;
  /** Records in the file, when known. */
  packetsTotal: number | null;
}

/** Cumulative stats of a Replayer since start. */
export interface ReplayerStats {
  files: number;
  packetsSent: number;
  bytesSent: number;
  skipped: { oversize: number; unsupported: number };
  truncated: number;
  failed: number;
}
