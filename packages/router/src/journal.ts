import { type FileHandle, mkdir, open, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
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
  deliveries: DeliveryRecord[];
}

/** What replaying a journal found. */
export interface JournalReplay {
  /** Files not yet complete or dropped, in the order they were submitted. */
  open: JournalFile[];
  /** Names of the files the journal saw finish (for files still lying in the spool after a crash). */
  finished: Set<string>;
  /** Lines that could not be read (a torn last line after a crash is normal; anything else is logged). */
  badLines: { line: number; text: string }[];
}

const FILE_NAME = "journal.ndjson";

/**
 * An append-only log of every routing decision, fsynced before the decision takes effect, so that a
 * restart after `kill -9` at any instant knows which node each file went to and how far each delivery got.
 * Appends that arrive while a write is in flight are gathered into the next write: one fsync covers many
 * decisions (group commit).
 */
export class Journal {
  readonly path: string;
  private handle: FileHandle | null = null;
  private queue: { line: string; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private writing: Promise<void> | null = null;
  private appendedSinceCompaction = 0;

  private constructor(readonly dir: string) {
    this.path = join(dir, FILE_NAME);
  }

  /** Opens (creating) the journal in `dir` and replays what it holds. */
  static async open(dir: string): Promise<{ journal: Journal; replay: JournalReplay }> {
    await mkdir(dir, { recursive: true });
    const journal = new Journal(dir);
    let text = "";
    try {
      text = await readFile(journal.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
        throw RouterError.from(error, "journal", `reading the journal ${journal.path}`);
      }
    }
    const replay = replayJournal(text);
    await journal.compact(replay.open);
    return { journal, replay };
  }

  /** Lines appended since the last compaction. */
  get backlog(): number {
    return this.appendedSinceCompaction;
  }

  /** Appends records; resolves once they are on disk (fsynced). */
  append(...records: JournalRecord[]): Promise<void> {
    if (this.handle === null) return Promise.reject(new RouterError("journal", "the journal is closed"));
    const line = records.map((r) => `${JSON.stringify(r)}\n`).join("");
    this.appendedSinceCompaction += records.length;
    return new Promise((resolve, reject) => {
      this.queue.push({ line, resolve, reject });
      if (this.writing === null) this.writing = this.drain();
    });
  }

  /**
   * Appends records without waiting for them to reach the disk: for decisions a restart can work out
   * again from the destinations (a delivery done, a file complete). They go out, in order, with the next
   * write; a failure surfaces on the next `append`.
   */
  appendLater(...records: JournalRecord[]): void {
    this.append(...records).catch(() => {});
  }

  /**
   * Rewrites the journal with one snapshot line per open file (hidden name, fsync, rename), so it stays
   * as small as the work in progress.
   */
  async compact(files: readonly JournalFile[]): Promise<void> {
    await this.idle();
    const temporary = join(this.dir, `.${FILE_NAME}.compact`);
    const text = files
      .map((f) => `${JSON.stringify({ op: "file", ...f } satisfies JournalRecord)}\n`)
      .join("");
    try {
      const handle = await open(temporary, "w");
      try {
        await handle.writeFile(text);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, this.path);
      await syncDirectory(this.dir);
      await this.handle?.close();
      this.handle = await open(this.path, "a");
      this.appendedSinceCompaction = 0;
    } catch (error) {
      await unlink(temporary).catch(() => {});
      throw RouterError.from(error, "journal", `compacting the journal ${this.path}`);
    }
  }

  /** Waits for pending appends, then closes the file. */
  async close(): Promise<void> {
    await this.idle();
    await this.handle?.close();
    this.handle = null;
  }

  private async idle(): Promise<void> {
    while (this.writing !== null) await this.writing;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        try {
          const handle = this.handle;
          if (handle === null) throw new RouterError("journal", "the journal is closed");
          await handle.write(batch.map((b) => b.line).join(""));
          await handle.datasync();
          for (const b of batch) b.resolve();
        } catch (error) {
          const failure = RouterError.from(error, "journal", `writing the journal ${this.path}`);
          for (const b of batch) b.reject(failure);
        }
      }
    } finally {
      this.writing = null;
    }
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Folds journal text into the open files and their deliveries' latest states. */
export function replayJournal(text: string): JournalReplay {
  const files = new Map<string, JournalFile>();
  const finished = new Set<string>();
  const badLines: JournalReplay["badLines"] = [];
  const lines = text.split("\n");
  lines.forEach((raw, index) => {
    if (raw.trim() === "") return;
    let record: JournalRecord;
    try {
      record = JSON.parse(raw) as JournalRecord;
    } catch {
      badLines.push({ line: index + 1, text: raw.slice(0, 200) });
      return;
    }
    apply(files, finished, record);
  });
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
