import { SluiceError, type SluiceErrorJSON } from "@sluice/pcap-format";

/** Why a file could not be written, published, moved or journaled. */
export type SpoolErrorReason =
  /** No space left on the file system (ENOSPC, EDQUOT). */
  | "spool-full"
  /** The folder cannot be written (EACCES, EPERM, EROFS, or it is missing). */
  | "spool-unwritable"
  /** Any other I/O failure while writing, publishing or moving a file. */
  | "io"
  /** The final name already holds a different file, and the caller asked not to take another name. */
  | "conflict"
  /** The journal could not be read, written or fsynced: decisions can no longer be made durable. */
  | "journal"
  /** An option out of range or of the wrong kind; `detail.option` names it. */
  | "bad-option"
  /** Another live process holds the folder's lock (DirectoryLock); `detail.pid` names it. */
  | "locked";

/** What a SpoolError is about. */
export interface SpoolErrorDetail {
  /** The file or folder involved. */
  path?: string;
  /** The system error code (ENOSPC, EACCES, EXDEV, ...), when there is one. */
  errno?: string;
  /** The option that was refused (reason "bad-option"). */
  option?: string;
  /** The process holding the lock (reason "locked"). */
  pid?: number;
  [key: string]: unknown;
}

/** The error this package throws: a literal `code`, a `reason` to branch on, and the path involved. */
export class SpoolError extends SluiceError<SpoolErrorReason, SpoolErrorDetail> {
  static readonly errorCode = "ERR_SPOOL";
  readonly code = "ERR_SPOOL" as const;

  /** The file or folder involved, or "" when there is none. */
  get path(): string {
    return this.detail.path ?? "";
  }

  /** The system error code (ENOSPC, EACCES, ...), or null. */
  get errno(): string | null {
    return this.detail.errno ?? null;
  }

  /** Sorts a system error from `doing` something to `path` into a SpoolError (one passes through). */
  static from(error: unknown, path: string, doing: string): SpoolError {
    if (SpoolError.isInstance(error)) return error;
    const errno = (error as NodeJS.ErrnoException)?.code ?? "";
    const reason: SpoolErrorReason =
      errno === "ENOSPC" || errno === "EDQUOT"
        ? "spool-full"
        : ["EACCES", "EPERM", "EROFS", "ENOENT", "ENOTDIR"].includes(errno)
          ? "spool-unwritable"
          : "io";
    const message = `${doing} ${path}: ${(error as Error)?.message ?? String(error)}`;
    return new SpoolError(reason, message, { path, ...(errno && { errno }) }, { cause: error });
  }

  /** A plain object for JSON logs and IPC (`path` and `errno` also at the top, as the rotator sends them). */
  override toJSON(): SluiceErrorJSON<SpoolErrorReason> & { path: string; errno: string | null } {
    return { ...super.toJSON(), path: this.path, errno: this.errno };
  }
}

/** The system error code of `error` (ENOENT, EEXIST, ...), or "". */
export function errnoOf(error: unknown): string {
  return (error as NodeJS.ErrnoException | null)?.code ?? "";
}

/** Resolves to null when `promise` fails with ENOENT; other failures pass. */
export function unlessMissing<T>(promise: Promise<T>): Promise<T | null> {
  return promise.catch((error: unknown) => {
    if (errnoOf(error) === "ENOENT") return null;
    throw error;
  });
}
