const BRAND = Symbol.for("@sluice/error");

/** What an error is about (the option, path, byte offset, interface, ...): data to log, not prose to parse. */
export type ErrorDetail = Readonly<Record<string, unknown>>;

/** A SluiceError as JSON: what logs and child processes carry. */
export interface SluiceErrorJSON<R extends string = string> {
  name: string;
  code: string;
  reason: R;
  message: string;
  detail: Record<string, unknown>;
}

/**
 * The base of every error a Sluice package throws, so that all of them look alike to a caller:
 *
 * - a literal `code` per package (`ERR_PCAP_FORMAT`, `ERR_SPOOL`, `ERR_ROUTER`, ...);
 * - a `reason` from a small, documented union per package, to branch on instead of parsing messages;
 * - `detail`, what the error is about (option, path, offset, ...), and the standard `cause`;
 * - one constructor shape: `new XError(reason, message, detail?, { cause }?)`;
 * - `XError.isInstance(e)` that works across duplicate copies of a package (a brand from Symbol.for,
 *   checked with the class's code), and `SluiceError.isInstance(e)` for any of them;
 * - `toJSON()` for JSON logs and IPC.
 */
export abstract class SluiceError<
  R extends string = string,
  D extends ErrorDetail = ErrorDetail,
> extends Error {
  /** The package's literal code; subclasses set it (and `static errorCode` to the same value). */
  abstract readonly code: string;
  readonly reason: R;
  readonly detail: D;
  readonly [BRAND] = true;

  constructor(reason: R, message: string, detail?: D, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.reason = reason;
    this.detail = detail ?? ({} as D);
  }

  /**
   * True for an error of this class from any copy of its package (for SluiceError itself: any Sluice
   * error). Compares the brand and the code, never the prototype: a second copy of a package in
   * node_modules makes `instanceof` lie.
   */
  static isInstance<T>(this: { prototype: T; errorCode?: string }, error: unknown): error is T {
    if (typeof error !== "object" || error === null || !(BRAND in error)) return false;
    // biome-ignore lint/complexity/noThisInStatic: `this` is the subclass it is called on (its own code).
    return this.errorCode === undefined || (error as { code?: unknown }).code === this.errorCode;
  }

  /** A plain object that survives JSON logs and IPC. */
  toJSON(): SluiceErrorJSON<R> {
    return {
      name: this.name,
      code: this.code,
      reason: this.reason,
      message: this.message,
      detail: { ...this.detail },
    };
  }
}
