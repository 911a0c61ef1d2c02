import { readFileSync } from "node:fs";
import { SluiceError } from "@sluice/pcap-format";
import type { z } from "zod";
import { jsonErrorOffset } from "./json-error-offset.js";

/** Why a config file was refused. */
export type ConfigErrorReason =
  /** The file could not be read (missing, a directory, no permission). */
  | "unreadable"
  /** The file is not JSON. */
  | "bad-json"
  /** The JSON does not match the schema. */
  | "invalid";

/** One problem with a config, where it is: `$.pools[0].nodes[1].path`, or a line and column for bad JSON. */
export interface ConfigProblem {
  /** JSONPath of the offending value; "$" for the whole document. */
  path: string;
  message: string;
  /** For bad JSON: where the parser stopped (1-based). */
  line?: number;
  column?: number;
}

/** What a ConfigError is about: the file, and every problem found. */
export interface ConfigErrorDetail {
  /** The file, or null for a config given as a value. */
  file: string | null;
  problems: readonly ConfigProblem[];
  [key: string]: unknown;
}

/** A config that cannot be used, with every problem found and where. */
export class ConfigError extends SluiceError<ConfigErrorReason, ConfigErrorDetail> {
  static readonly errorCode = "ERR_CONFIG";
  readonly code = "ERR_CONFIG" as const;

  constructor(
    reason: ConfigErrorReason,
    message: string,
    detail: ConfigErrorDetail,
    options?: { cause?: unknown },
  ) {
    super(reason, message, detail, options);
    this.name = "ConfigError";
  }

  /** The error for `problems` in `file`, its message listing them one a line. */
  static of(
    reason: ConfigErrorReason,
    file: string | null,
    problems: ConfigProblem[],
    options?: { cause?: unknown },
  ): ConfigError {
    const list = problems.map((p) => `  ${formatProblem(p)}`).join("\n");
    const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
    return new ConfigError(reason, `${file ?? "config"}: ${count}\n${list}`, { file, problems }, options);
  }

  /** The file, or null for a config given as a value. */
  get file(): string | null {
    return this.detail.file;
  }

  get problems(): readonly ConfigProblem[] {
    return this.detail.problems;
  }
}

/** "$.pools[0].nodes[1].path: message", or "line 3 column 7: message" for bad JSON. */
export function formatProblem(problem: ConfigProblem): string {
  const where =
    problem.line !== undefined ? `line ${problem.line} column ${problem.column ?? 1}` : problem.path;
  return `${where}: ${problem.message}`;
}

/** JSONPath of a zod issue path: `$`, `$.pools[0].name`, `$["odd key"]`. */
export function jsonPath(path: readonly PropertyKey[]): string {
  let out = "$";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else if (typeof part === "string" && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(part)) out += `.${part}`;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out;
}

/** Every issue of a zod error as a problem with its JSONPath, unions reduced to their closest branch. */
export function problemsOf(error: z.ZodError): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const visit = (issue: z.core.$ZodIssue, prefix: readonly PropertyKey[]): void => {
    const path = [...prefix, ...issue.path];
    if (issue.code === "invalid_union" && issue.errors.length > 0) {
      // The branch that got furthest (fewest issues) explains the mistake best.
      const best = [...issue.errors].sort((a, b) => a.length - b.length)[0]!;
      const discriminated = best.every((i) => i.code === "invalid_value" && i.path.length === 1);
      if (!discriminated || issue.errors.length === 1) {
        for (const inner of best) visit(inner, path);
        return;
      }
    }
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys)
        problems.push({ path: jsonPath([...path, key]), message: "unknown field" });
      return;
    }
    const missing = issue.code === "invalid_type" && issue.message.endsWith("received undefined");
    const message = missing ? `missing (expected ${issue.expected})` : issue.message;
    problems.push({ path: jsonPath(path), message });
  };
  for (const issue of error.issues) visit(issue, []);
  return problems;
}

/** Checks a parsed value against `schema`: the typed config with defaults, or a ConfigError with every problem. */
export function parseConfig<S extends z.ZodType>(
  schema: S,
  value: unknown,
  file: string | null = null,
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw ConfigError.of("invalid", file, problemsOf(result.error));
}

/** Parses JSON text; a syntax error becomes a ConfigError with its line and column. */
export function parseJsonText(text: string, file: string | null = null): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const position = jsonErrorOffset(text);
    const problem: ConfigProblem = { path: "$", message: `not JSON: ${message}` };
    if (position >= 0) {
      const before = text.slice(0, position).split("\n");
      problem.line = before.length;
      problem.column = before.at(-1)!.length + 1;
    }
    throw ConfigError.of("bad-json", file, [problem], { cause: error });
  }
}

/** Reads a JSON config file: its parsed value, or a ConfigError ("unreadable", "bad-json") naming the file. */
export function readConfigJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw ConfigError.of("unreadable", file, [{ path: "$", message: (error as Error).message }], {
      cause: error,
    });
  }
  return parseJsonText(text, file);
}

/** Reads a JSON config file and checks it against `schema`. Throws ConfigError naming the file and every problem. */
export function loadConfigFile<S extends z.ZodType>(schema: S, file: string): z.output<S> {
  return parseConfig(schema, readConfigJson(file), file);
}

/**
 * What a daemon checks of its config against the machine before it opens anything (filters compile,
 * interfaces and users exist, folders can be written): each problem with its JSON path, none when it can
 * start. It reads the config defensively: it is also given the raw JSON of a config the schema refused,
 * so that every problem is listed at once.
 */
export type ConfigCheck = (config: unknown) => ConfigProblem[] | Promise<ConfigProblem[]>;

/** A config file's problems (the schema's, then `check`'s not already reported) and, when none, the config. */
export interface ExaminedConfig<T> {
  config: T | null;
  problems: ConfigProblem[];
}

/**
 * Reads `file`, checks it against `schema` and then with `check` against this machine: what both
 * `check-config` and `run` ask, so they cannot disagree.
 */
export async function examineConfigFile<S extends z.ZodType>(
  schema: S,
  file: string,
  check?: ConfigCheck,
): Promise<ExaminedConfig<z.output<S>>> {
  let raw: unknown;
  try {
    raw = readConfigJson(file);
  } catch (error) {
    if (!ConfigError.isInstance(error)) throw error;
    return { config: null, problems: [...error.problems] };
  }
  const result = schema.safeParse(raw);
  const problems = result.success ? [] : problemsOf(result.error);
  if (check) {
    const reported = new Set(problems.map((p) => p.path));
    for (const problem of await check(result.success ? result.data : raw)) {
      if (!reported.has(problem.path)) problems.push(problem);
    }
  }
  return { config: problems.length === 0 && result.success ? result.data : null, problems };
}
