import { type BadLine, Journal } from "@sluice/spool";
import { RouterError } from "./errors.js";

/** Where one delivery of a file stands. */
export type DeliveryState =
  /** Not yet in the destination (or, for a pool, not yet given a node). */
  | "pending"
  /** Complete under a hidden staging name in the destination, fsynced: publishing is all that is left. */
  | "staged"
  /** Published under its final name. */
  | "done"
  /** Its destination left the configuration before it was done. */
  | "cancelled";

/** One delivery as the journal keeps it. */
export interface DeliveryRecord {
  /** `pool:<name>` or `alone:<name>`; unique within a file. */
  key: string;
  /** The destination (node or alone consumer) name, or null for a pool waiting for a healthy node. */
  dest: string | null;
  /** The destination folder when it was chosen: recovery looks there even if the config changed. */
  path: string | null;
  state: DeliveryState;
  /**
   * A `flow` pool's share of the file: its own part file and name, kept with its node while the node is in
   * the pool. Absent for whole-file deliveries.
   */
  part?: FlowPartRecord;
}

/** A part of a spool file made for one node of a `flow` pool. */
export interface FlowPartRecord {
  /** Its name in the destination. */
  name: string;
  /** The part file in the spool. */
  source: string;
  size: number;
}

/** Journal lines. A `file` line is a snapshot that replaces everything known about the file. */
export type JournalRecord =
  | {
      op: "file";
      name: string;
      /** The spool file's path. */
      path: string;
      size: number;
      /** When the file was submitted (ms since the epoch). */
      at: number;
      /** Where it sorts in capture order (@sluice/spool's captureStartMs); absent in older journals. */
      startMs?: number;
      deliveries: DeliveryRecord[];
    }
  | { op: "assign"; name: string; key: string; dest: string | null; path: string | null }
  | { op: "staged"; name: string; key: string; dest: string; path: string }
  | { op: "done"; name: string; key: string; dest: string; path: string }
  | { op: "cancel"; name: string; key: string }
  | { op: "complete"; name: string }
  | { op: "dropped"; name: string; reason: string };

/** A file the journal knows is not finished, with its deliveries' latest state. */
export interface JournalFile {
  name: string;
  path: string;
  size: number;
  at: number;
  startMs?: number;
  deliveries: DeliveryRecord[];
}

/** What replaying a journal found. */
export interface JournalReplay {
  /** Files not yet complete or dropped, in the order they were submitted. */
  open: JournalFile[];
  /** Names of the files the journal saw finish (for files still lying in the spool after a crash). */
  finished: Set<string>;
  /** Lines that could not be read (a torn last line after a crash is normal; anything else is logged). */
  badLines: BadLine[];
}

const FILE_NAME = "journal.ndjson";

/** The router's journal: @sluice/spool's fsynced, group-committed Journal of routing decisions. */
export type RouterJournal = Journal<JournalRecord>;

/**
 * Opens (creating) the journal in `dir`, folds what it holds into the files still open, and compacts it
 * to one snapshot line per open file. Every routing decision is appended and fsynced before it takes
 * effect, so a restart after `kill -9` at any instant knows which node each file went to and how far
 * each delivery got.
 */
export async function openJournal(dir: string): Promise<{ journal: RouterJournal; replay: JournalReplay }> {
  try {
    const { journal, records, badLines } = await Journal.open<JournalRecord>(dir, FILE_NAME);
    const replay = foldJournal(records, badLines);
    await journal.compact(snapshot(replay.open));
    return { journal, replay };
  } catch (error) {
    throw RouterError.from(error, "journal", `opening the journal in ${dir}`);
  }
}

/** One `file` line per open file: what compaction keeps. */
export function snapshot(files: readonly JournalFile[]): JournalRecord[] {
  return files.map((f) => ({ op: "file", ...f }));
}

/** Folds journal records into the open files and their deliveries' latest states. */
export function foldJournal(records: readonly JournalRecord[], badLines: BadLine[] = []): JournalReplay {
  const files = new Map<string, JournalFile>();
  const finished = new Set<string>();
  for (const record of records) apply(files, finished, record);
  return { open: [...files.values()], finished, badLines };
}

function apply(files: Map<string, JournalFile>, finished: Set<string>, record: JournalRecord): void {
  if (record.op === "file") {
    const { op: _, ...file } = record;
    files.set(record.name, { ...file, deliveries: file.deliveries.map((d) => ({ ...d })) });
    finished.delete(record.name);
    return;
  }
  const file = files.get(record.name);
  if (file === undefined) return;
  if (record.op === "complete" || record.op === "dropped") {
    files.delete(record.name);
    finished.add(record.name);
    return;
  }
  const delivery = file.deliveries.find((d) => d.key === record.key);
  if (delivery === undefined) return;
  switch (record.op) {
    case "assign":
      delivery.dest = record.dest;
      delivery.path = record.path;
      delivery.state = "pending";
      break;
    case "staged":
    case "done":
      delivery.dest = record.dest;
      delivery.path = record.path;
      delivery.state = record.op;
      break;
    case "cancel":
      delivery.state = "cancelled";
      break;
  }
}
