import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";

/** A file as it was when its replay finished: the same name with another size or time is another file. */
export interface FileIdentity {
  name: string;
  size: number;
  mtimeMs: number;
}

/** A journal line: this file was replayed completely at `at`. */
export interface ReplayedEntry extends FileIdentity {
  at: string;
}

const FILE = "replayed.jsonl";

/**
 * The record of files whose replay finished but whose delete/move may not have happened (kill -9 between
 * the two). Written and fsynced after each replay, before the file is deleted or moved, so a restart
 * finishes the job instead of replaying the file again. Lines for files no longer in incoming are dropped
 * when the journal is compacted at start.
 */
export class ReplayJournal {
  readonly path: string;
  private readonly entries = new Map<string, ReplayedEntry>();
  private fd: number | null = null;
  private lines = 0;

  constructor(readonly dir: string) {
    this.path = join(dir, FILE);
  }

  /** Reads the journal (a torn last line from a crash is ignored) and rewrites it with `keep`'s entries only. */
  open(keep: (entry: ReplayedEntry) => boolean): ReplayedEntry[] {
    mkdirSync(this.dir, { recursive: true });
    let text = "";
    try {
      text = readFileSync(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      try {
        const entry = JSON.parse(line) as ReplayedEntry;
        if (typeof entry.name === "string") this.entries.set(entry.name, entry);
      } catch {}
    }
    for (const [name, entry] of this.entries) if (!keep(entry)) this.entries.delete(name);
    this.compact();
    return [...this.entries.values()];
  }

  /** True when `file` (same name, size and time) finished replaying before. */
  finished(file: FileIdentity): boolean {
    const entry = this.entries.get(file.name);
    return entry !== undefined && entry.size === file.size && entry.mtimeMs === file.mtimeMs;
  }

  /** Records a finished replay durably (fsync) before the caller deletes or moves the file. */
  record(file: FileIdentity): void {
    const entry: ReplayedEntry = { ...file, at: new Date().toISOString() };
    this.entries.set(file.name, entry);
    if (this.fd === null) throw new Error("journal not open");
    writeSync(this.fd, `${JSON.stringify(entry)}\n`);
    fsyncSync(this.fd);
    if (++this.lines > 1000) this.compact();
  }

  /** Forgets a file once it is deleted or moved. */
  forget(name: string): void {
    this.entries.delete(name);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private compact(): void {
    this.close();
    const temp = `${this.path}.tmp`;
    const body = [...this.entries.values()].map((e) => `${JSON.stringify(e)}\n`).join("");
    writeFileSync(temp, body);
    const tfd = openSync(temp, "r");
    fsyncSync(tfd);
    closeSync(tfd);
    renameSync(temp, this.path);
    const dfd = openSync(this.dir, "r");
    fsyncSync(dfd);
    closeSync(dfd);
    this.fd = openSync(this.path, "a");
    this.lines = this.entries.size;
  }
}
