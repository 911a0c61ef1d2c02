import { type FileHandle, mkdir, open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { errnoOf, SpoolError } from "./errors.js";
import { writeFileAtomic } from "./write-file.js";

/** A line of a journal that could not be read (a torn last line after a crash is normal). */
export interface BadLine {
  /** 1-based line number. */
  line: number;
  /** The line's first 200 characters. */
  text: string;
}

/** What opening a journal found in it. */
export interface JournalContents<R> {
  journal: Journal<R>;
  /** Every readable record, in the order written. */
  records: R[];
  badLines: BadLine[];
}

interface Pending {
  text: string;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * An append-only file of JSON lines, each record on disk (fdatasync) before `append` resolves, so a
 * decision recorded there survives `kill -9` and a power cut at any instant. Appends that arrive while a
 * write is in flight go out together in the next write: one fsync covers many records (group commit), so
 * a busy caller pays one fsync per batch, not per record. `compact` rewrites it atomically with what is
 * still worth keeping. What a record means is the caller's: the router journals deliveries, a node the
 * files it replayed.
 */
export class Journal<R> {
  readonly path: string;
  private handle: FileHandle | null = null;
  private queue: Pending[] = [];
  private writing: Promise<void> | null = null;
  private appended = 0;

  private constructor(
    readonly dir: string,
    file: string,
  ) {
    this.path = join(dir, file);
  }

  /** Opens (creating) `dir/file` for appending and reads the records it holds. */
  static async open<R>(dir: string, file = "journal.ndjson"): Promise<JournalContents<R>> {
    const journal = new Journal<R>(dir, file);
    let text = "";
    try {
      await mkdir(dir, { recursive: true });
      text = await readFile(journal.path, "utf8").catch((error: unknown) => {
        if (errnoOf(error) === "ENOENT") return "";
        throw error;
      });
      journal.handle = await open(journal.path, "a");
    } catch (error) {
      throw journalError(error, journal.path, "opening");
    }
    const { records, badLines } = parseLines<R>(text);
    journal.appended = records.length;
    return { journal, records, badLines };
  }

  /** Records appended since the journal was opened or last compacted. */
  get backlog(): number {
    return this.appended;
  }

  /** Appends records; resolves once they are on disk. */
  append(...records: R[]): Promise<void> {
    if (this.handle === null) return Promise.reject(journalError(null, this.path, "appending to a closed"));
    const text = records.map((r) => `${JSON.stringify(r)}\n`).join("");
    this.appended += records.length;
    return new Promise((resolve, reject) => {
      this.queue.push({ text, resolve, reject });
      this.writing ??= this.drain();
    });
  }

  /**
   * Appends records without waiting for the disk: for what a restart can work out again by itself. They
   * go out in order with the next write; a failure shows on the next `append`.
   */
  appendLater(...records: R[]): void {
    this.append(...records).catch(() => {});
  }

  /** Rewrites the journal with `records` only (hidden name, fsync, rename, folder fsync). */
  async compact(records: readonly R[]): Promise<void> {
    await this.idle();
    try {
      await writeFileAtomic(this.path, records.map((r) => `${JSON.stringify(r)}\n`).join(""));
      await this.handle?.close();
      this.handle = await open(this.path, "a");
      this.appended = records.length;
    } catch (error) {
      throw journalError(error, this.path, "compacting");
    }
  }

  /** Waits for the appends in flight, then closes the file. */
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
          if (handle === null) throw new Error("the journal is closed");
          await handle.write(batch.map((b) => b.text).join(""));
          await handle.datasync();
          for (const b of batch) b.resolve();
        } catch (error) {
          const failure = journalError(error, this.path, "writing");
          for (const b of batch) b.reject(failure);
        }
      }
    } finally {
      this.writing = null;
    }
  }
}

/** Splits journal text into records and the lines that are not JSON. */
export function parseLines<R>(text: string): { records: R[]; badLines: BadLine[] } {
  const records: R[] = [];
  const badLines: BadLine[] = [];
  text.split("\n").forEach((raw, index) => {
    if (raw.trim() === "") return;
    try {
      records.push(JSON.parse(raw) as R);
    } catch {
      badLines.push({ line: index + 1, text: raw.slice(0, 200) });
    }
  });
  return { records, badLines };
}

function journalError(error: unknown, path: string, doing: string): SpoolError {
  if (SpoolError.isInstance(error) && error.reason === "journal") return error;
  const errno = errnoOf(error);
  const why = error === null ? "" : `: ${(error as Error)?.message ?? String(error)}`;
  return new SpoolError(
    "journal",
    `${doing} the journal ${path}${why}`,
    { path, ...(errno && { errno }) },
    error === null ? undefined : { cause: error },
  );
}
