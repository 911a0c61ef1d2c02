import { parseArgs } from "node:util";
import { z } from "zod";
import type { MetricsSettings } from "./config-fields.js";
import {
  type ConfigCheck,
  ConfigError,
  examineConfigFile,
  formatProblem,
  loadConfigFile,
} from "./config-file.js";
import { configReference } from "./config-reference.js";
import type { MetricsAuth } from "./http-auth.js";
import { fetchStatus } from "./metrics-server.js";
import { type Command, UsageError } from "./run-cli.js";

/**
 * `check-config [--schema-only] FILE...`: each file's problems with their JSON paths (the schema's and
 * `check`'s against this machine, all of them; `--schema-only` skips the machine's, for a config written
 * for another machine), or one "ok" line from `describe`; exit 1 when any file has a problem.
 */
export function checkConfigCommand<S extends z.ZodType>(
  schema: S,
  describe: (config: z.output<S>) => string,
  check?: ConfigCheck,
): Command {
  return async (args) => {
    const schemaOnly = args.includes("--schema-only");
    const files = args.filter((a) => a !== "--schema-only");
    const unknown = files.find((a) => a.startsWith("-"));
    if (unknown !== undefined) throw new UsageError(`unknown option ${unknown}`);
    if (files.length === 0) throw new UsageError("check-config needs a config FILE");
    let failed = false;
    for (const file of files) {
      const { config, problems } = await examineConfigFile(schema, file, schemaOnly ? undefined : check);
      if (config !== null) {
        process.stdout.write(`${file}: ok (${describe(config)})\n`);
        continue;
      }
      failed = true;
      for (const problem of problems) process.stdout.write(`${file}: ${formatProblem(problem)}\n`);
    }
    return failed ? 1 : 0;
  };
}

/** How `status` finds and shows a running daemon. */
export interface StatusCommandOptions<S extends z.ZodType<{ metrics?: MetricsSettings | undefined }>, T> {
  /** Binary name for messages (`sluice-node`). */
  app: string;
  /** What answers, for "no node answers at …". */
  what: string;
  /** The config schema, whose `metrics` says where to ask and with which credentials. */
  schema: S;
  defaultConfig: string;
  /** The human summary of the status document (what the status page shows). */
  format: (status: T) => string;
}

/**
 * `status [--config FILE] [--metrics HOST:PORT|URL] [--json]`: reads a running daemon's status document
 * (`GET /status.json`, what its status page shows) and prints a human summary, or the document itself.
 * The config gives the address and the credentials (`metrics.auth`); `--metrics` another address.
 */
export function statusCommand<S extends z.ZodType<{ metrics?: MetricsSettings | undefined }>, T>(
  options: StatusCommandOptions<S, T>,
): Command {
  return async (args) => {
    let values: { config?: string | undefined; metrics?: string | undefined; json?: boolean | undefined };
    try {
      ({ values } = parseArgs({
        args,
        options: {
          config: { type: "string", short: "c" },
          metrics: { type: "string" },
          json: { type: "boolean" },
        },
        strict: true,
      }));
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    let listen = values.metrics;
    let auth: MetricsAuth | undefined;
    if (listen === undefined || values.config !== undefined) {
      const file = values.config ?? options.defaultConfig;
      let metrics: MetricsSettings | undefined;
      try {
        metrics = loadConfigFile(options.schema, file).metrics;
      } catch (error) {
        if (!ConfigError.isInstance(error)) throw error;
        process.stderr.write(`${options.app}: ${error.message}\n`);
        return 1;
      }
      auth = metrics?.auth;
      listen ??= metrics?.listen;
      if (listen === undefined) {
        process.stderr.write(
          `${options.app}: ${file} has no metrics.listen: nothing to ask (add one, or pass --metrics)\n`,
        );
        return 1;
      }
    }
    let status: unknown;
    try {
      status = await fetchStatus(listen, { auth });
    } catch (error) {
      process.stderr.write(
        `${options.app}: no ${options.what} answers at ${listen}: ${(error as Error).message}\n`,
      );
      return 1;
    }
    process.stdout.write(values.json ? `${JSON.stringify(status, null, 2)}\n` : options.format(status as T));
    return 0;
  };
}

/** The config a `run --config FILE` command line names, loaded, with the file it came from. */
export interface RunConfig<T> {
  file: string;
  config: T;
}

/**
 * Reads `--config FILE` from a `run` command line and examines it as `check-config` does (`check` too): a
 * UsageError without one, or every problem printed (with its JSON path) and null, for the caller to exit 1.
 */
export async function loadRunConfig<S extends z.ZodType>(
  app: string,
  schema: S,
  args: string[],
  check?: ConfigCheck,
): Promise<RunConfig<z.output<S>> | null> {
  let values: { config?: string | undefined };
  try {
    ({ values } = parseArgs({ args, options: { config: { type: "string", short: "c" } }, strict: true }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const file = values.config;
  if (file === undefined || file === "") throw new UsageError("run needs --config FILE");
  const { config, problems } = await examineConfigFile(schema, file, check);
  if (config !== null) return { file, config };
  process.stderr.write(`${app}: ${ConfigError.of("invalid", file, problems).message}\n`);
  return null;
}

/** A config's JSON Schema, generated from its zod schema: what editors validate a config file against. */
export function jsonSchemaOf(schema: z.ZodType, app: string): Record<string, unknown> {
  return {
    ...z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }),
    $id: `https://sluice.dev/schema/${app}.schema.json`,
    title: `${app} configuration`,
  };
}

/** `schema [--markdown]`: the config's JSON Schema, or its reference table. */
export function schemaCommand(schema: z.ZodType, app: string): Command {
  return (args) => {
    const unknown = args.find((a) => a !== "--markdown");
    if (unknown !== undefined) throw new UsageError(`schema takes only --markdown, not ${unknown}`);
    const json = jsonSchemaOf(schema, app);
    process.stdout.write(
      args.includes("--markdown") ? configReference(json) : `${JSON.stringify(json, null, 2)}\n`,
    );
    return 0;
  };
}
