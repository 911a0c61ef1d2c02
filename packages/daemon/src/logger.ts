/** How much a log line matters; lines under the logger's level are not written. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Fields of a log line besides `time`, `level` and `event`. */
export type LogFields = Record<string, unknown>;

/** Options of a Logger. */
export interface LoggerOptions {
  /** Where each line goes, newline included (default: process.stdout). */
  write?: (line: string) => void;
  /** Lowest level written (default "info"). */
  level?: LogLevel;
  /** Fields added to every line (e.g. `{ app: "sluice-master" }`). */
  fields?: LogFields;
  /** Clock, for tests. */
  now?: () => Date;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * Writes one JSON object per line with a stable `event` name, so logs can be grepped and shipped
 * (journald, Loki, Elasticsearch) without parsing prose: `{"time","level","event",...fields}`.
 */
export class Logger {
  private readonly write: (line: string) => void;
  private readonly threshold: number;
  private readonly fields: LogFields;
  private readonly now: () => Date;
  readonly level: LogLevel;

  constructor(options: LoggerOptions = {}) {
    this.write = options.write ?? ((line) => process.stdout.write(line));
    this.level = options.level ?? "info";
    this.threshold = RANK[this.level];
    this.fields = options.fields ?? {};
    this.now = options.now ?? (() => new Date());
  }

  /** A logger that adds `fields` to every line (and writes where this one does). */
  child(fields: LogFields): Logger {
    return new Logger({
      write: this.write,
      level: this.level,
      fields: { ...this.fields, ...fields },
      now: this.now,
    });
  }

  debug(event: string, fields?: LogFields): void {
    this.log("debug", event, fields);
  }

  info(event: string, fields?: LogFields): void {
    this.log("info", event, fields);
  }

  warn(event: string, fields?: LogFields): void {
    this.log("warn", event, fields);
  }

  error(event: string, fields?: LogFields): void {
    this.log("error", event, fields);
  }

  /** Writes one line at `level`. */
  log(level: LogLevel, event: string, fields?: LogFields): void {
    if (RANK[level] < this.threshold) return;
    const line = { time: this.now().toISOString(), level, event, ...this.fields, ...fields };
    this.write(`${JSON.stringify(line, replacer)}\n`);
  }
}

/** A logger that writes nothing: for library users who do not want logs. */
export const silentLogger = new Logger({ write: () => {}, level: "error" });

// Errors become their message plus the typed fields Sluice errors carry (code, reason, offset, path, ...).
function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const out: Record<string, unknown> = { message: value.message };
    for (const [k, v] of Object.entries(value)) if (k !== "stack") out[k] = v;
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out["code"] = code;
    return out;
  }
  if (typeof value === "bigint") return value.toString();
  return value;
}
