import type { Precision } from "@sluice/pcap-format";
import { type SpoolErrorReason, writeFileAtomic } from "@sluice/spool";

/** Why a file was finished. */
export type FinishReason =
  | "time"
  | "size"
  | "count"
  | "stop"
  | "manual"
  | "linktype"
  | "spool-error"
  | "salvage";

/** Drops counted while a file was open. */
export interface FileDrops {
  /** The kernel's ring was full (libpcap ps_drop). */
  kernel: number;
  /** The interface or driver dropped (libpcap ps_ifdrop). */
  interface: number;
  /** The spool could not take packets (full or unwritable): the sum of `spoolReasons`. */
  spool: number;
  /** `spool` by why: `spool-full` (ENOSPC), `spool-unwritable` (EACCES, EROFS...), `io` (any other). */
  spoolReasons: SpoolDrops;
}

/** Packets the spool could not take, by the SpoolError reason that cost them. */
export type SpoolDrops = Partial<Record<SpoolErrorReason, number>>;

/** Everything known about a finished file: sent as the "file" event and written next to it as JSON. */
export interface FileManifest {
  event: "file-ready";
  /** Absolute path of the finished file. */
  path: string;
  name: string;
  /** Source label, or null for a salvaged file whose name does not say. */
  source: string | null;
  sequence: number | null;
  /** When the file's interval started and ended (ISO 8601 UTC). */
  start: string | null;
  end: string | null;
  reason: FinishReason;
  packets: number;
  /** Sum of captured lengths. */
  bytes: number;
  /** Size of the file. */
  fileSize: number;
  /** First and last packet time, "<seconds>.<9 digits>", or null without packets. */
  firstPacketTime: string | null;
  lastPacketTime: string | null;
  linkType: number;
  snaplen: number;
  precision: Precision;
  /** Null for a salvaged file: what was dropped before the crash is unknown. */
  drops: FileDrops | null;
}

/** Path of a file's sidecar manifest. */
export function manifestPath(pcapPath: string): string {
  return `${pcapPath}.json`;
}

/** Writes the sidecar atomically: a hidden temporary name, fsync, rename. */
export async function writeManifest(manifest: FileManifest, fsync: boolean): Promise<void> {
  await writeFileAtomic(manifestPath(manifest.path), `${JSON.stringify(manifest, null, 2)}\n`, { fsync });
}
