import { SpoolError } from "@sluice/spool";

/** Why routing could not go on. */
export type RouterErrorReason =
  /** The journal could not be read, written or fsynced: decisions can no longer be made durable. */
  | "journal"
  /** A destination refused a file: missing, unwritable, full, or not the mount it should be. */
  | "destination"
  /** A destination already holds a different file under the name being delivered. */
  | "conflict"
  /** The spool file to deliver is gone. */
  | "spool"
  /** The options make no sense (duplicate names, two destinations sharing a folder, ...). */
  | "bad-option";

const marker = Symbol.for("@sluice/router/RouterError");

/** The one error this package throws: a literal `code`, a `reason` to branch on, and the path involved. */
export class RouterError extends Error {
  readonly code = "ERR_ROUTER" as const;
  readonly reason: RouterErrorReason;
  /** The file or folder involved, when there is one. */
  readonly path: string | null;
  /** The system error code (ENOSPC, EACCES, EXDEV, ...), when there is one. */
  readonly errno: string | null;
  readonly [marker] = true;

  constructor(
    reason: RouterErrorReason,
    message: string,
    options: { cause?: unknown; path?: string; errno?: string } = {},
  ) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
    this.name = "RouterError";
    this.reason = reason;
    this.path = options.path ?? null;
    this.errno = options.errno ?? null;
  }

  /** True for a RouterError from any copy of this package. */
  static isInstance(error: unknown): error is RouterError {
    return typeof error === "object" && error !== null && marker in error;
  }

  /** Wraps a system error from `doing` something to `path`. */
  static from(error: unknown, reason: RouterErrorReason, doing: string, path?: string): RouterError {
    if (RouterError.isInstance(error)) return error;
    // The spool's conflicts and journal failures keep their meaning: the router branches on them.
    if (SpoolError.isInstance(error) && (error.reason === "conflict" || error.reason === "journal")) {
      reason = error.reason;
    }
    const errno = SpoolError.isInstance(error)
      ? (error.errno ?? undefined)
      : (error as NodeJS.ErrnoException)?.code;
    const message = `${doing}: ${(error as Error)?.message ?? String(error)}`;
    return new RouterError(reason, message, {
      cause: error,
      ...(path !== undefined && { path }),
      ...(errno !== undefined && { errno }),
    });
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      reason: this.reason,
      path: this.path,
      errno: this.errno,
      message: this.message,
    };
  }
}
