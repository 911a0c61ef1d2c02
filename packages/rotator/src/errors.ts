/** Why the spool could not take a file. */
export type SpoolErrorReason =
  /** No space left on the spool's filesystem (ENOSPC, EDQUOT). */
  | "spool-full"
  /** The spool directory cannot be written (EACCES, EPERM, EROFS, or it is missing). */
  | "spool-unwritable"
  /** Any other I/O failure while writing or finalizing a file. */
  | "io";

const marker = Symbol.for("@sluice/rotator/SpoolError");

/** A file could not be written or finalized; `path` names the file or directory involved. */
export class SpoolError extends Error {
  readonly code = "ERR_SPOOL" as const;
  readonly reason: SpoolErrorReason;
  readonly path: string;
  /** The system error code (ENOSPC, EACCES, ...), when there is one. */
  readonly errno: string | null;
  readonly [marker] = true;

  constructor(
    reason: SpoolErrorReason,
    path: string,
    message: string,
    options?: { cause?: unknown; errno?: string },
  ) {
    super(message, options);
    this.name = "SpoolError";
    this.reason = reason;
    this.path = path;
    this.errno = options?.errno ?? null;
  }

  /** True for a SpoolError from any copy of this package. */
  static isInstance(error: unknown): error is SpoolError {
    return typeof error === "object" && error !== null && marker in error;
  }

  /** Sorts a system error from writing `path` into a SpoolError. */
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
    return new SpoolError(reason, path, message, { cause: error, errno });
  }

  toJSON(): { code: string; reason: SpoolErrorReason; path: string; errno: string | null; message: string } {
    return {
      code: this.code,
      reason: this.reason,
      path: this.path,
      errno: this.errno,
      message: this.message,
    };
  }
}
