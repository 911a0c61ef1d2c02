import { SluiceError, type SluiceErrorJSON } from "@sluice/pcap-format";
import { SpoolError, type SpoolErrorDetail } from "@sluice/spool";

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

/** What a RouterError is about: the file or folder, the system error code, the option refused. */
export type RouterErrorDetail = SpoolErrorDetail;

/** The one error this package throws: a literal `code`, a `reason` to branch on, and the path involved. */
export class RouterError extends SluiceError<RouterErrorReason, RouterErrorDetail> {
  static readonly errorCode = "ERR_ROUTER";
  readonly code = "ERR_ROUTER" as const;

  constructor(
    reason: RouterErrorReason,
    message: string,
    detail: RouterErrorDetail = {},
    options?: { cause?: unknown },
  ) {
    super(reason, message, detail, options);
    this.name = "RouterError";
  }

  /** The file or folder involved (null when none) and the system error code (ENOSPC, ...; or null). */
  get path(): string | null {
    return this.detail.path ?? null;
  }
  get errno(): string | null {
    return this.detail.errno ?? null;
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
    const detail = { ...(path !== undefined && { path }), ...(errno !== undefined && { errno }) };
    return new RouterError(reason, message, detail, { cause: error });
  }

  /** A plain object for JSON logs, with `path` and `errno` at the top as before. */
  override toJSON(): SluiceErrorJSON<RouterErrorReason> & { path: string | null; errno: string | null } {
    return { ...super.toJSON(), path: this.path, errno: this.errno };
  }
}
