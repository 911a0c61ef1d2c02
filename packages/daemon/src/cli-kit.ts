import { parseArgs } from "node:util";
import { z } from "zod";
import { ConfigError, formatProblem, loadConfigFile } from "./config-file.js";
import { configReference } from "./config-reference.js";
import { parseMetrics, type Sample } from "./metrics.js";
import { fetchMetricsText } from "./metrics-server.js";
import { type Command, UsageError } from "./run-cli.js";

/**
 * `check-config FILE...`: each file's problems with their JSON paths, or one "ok" line from `describe`;
 * exit 1 when any file has a problem.
 */
export function checkConfigCommand<S extends z.ZodType>(
  schema: S,
  describe: (config: z.output<S>) => string,
): Command {
  return (args) => {
    const unknown = args.find((a) => a.startsWith("-"));
    if (unknown !== undefined) throw new UsageError(`unknown option ${unknown}`);
    if (args.length === 0) throw new UsageError("check-config needs a config FILE");
    let failed = false;
    for (const file of args) {
      try {
        process.stdout.write(`${file}: ok (${describe(loadConfigFile(schema, file))})\n`);
      } catch (error) {
        if (!ConfigError.isInstance(error)) throw error;
        failed = true;
        for (const problem of error.problems) process.stdout.write(`${file}: ${formatProblem(problem)}\n`);
      }
    }
    return failed ? 1 : 0;
  };
}

/** How `status` finds and shows a running daemon. */
export interface StatusCommandOptions<S extends z.ZodType> {
  /** Binary name for messages (`sluice-node`). */
  app: string;
  /** What answers, for "no node answers at …". */
  what: string;
  /** The config schema, whose `metrics.listen` says where to ask. */
  schema: S;
  defaultConfig: string;
  listenOf: (config: z.output<S>) => string | undefined;
  /** The human summary of the samples. */
  format: (samples: Sample[]) => string;
}

/**
 * `status [--config FILE | --metrics HOST:PORT] [--json]`: reads a running daemon's metrics endpoint and
 * prints a human summary (or the samples as JSON).
 */
export function statusCommand<S extends z.ZodType>(options: StatusCommandOptions<S>): Command {
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
    if (listen === undefined) {
      const file = values.config ?? options.defaultConfig;
      try {
        listen = options.listenOf(loadConfigFile(options.schema, file));
      } catch (error) {
        if (!ConfigError.isInstance(error)) throw error;
        process.stderr.write(`${options.app}: ${error.message}\n`);
        return 1;
      }
      if (listen === undefined) {
        process.stderr.write(
          `${options.app}: ${file} has no metrics.listen: nothing to ask (add one, or pass --metrics)\n`,
        );
        return 1;
      }
    }
    let samples: Sample[];
    try {
      samples = parseMetrics(await fetchMetricsText(listen));
    } catch (error) {
      process.stderr.write(
        `${options.app}: no ${options.what} answers at ${listen}: ${(error as Error).message}\n`,
      );
      return 1;
    }
    process.stdout.write(values.json ? `${JSON.stringify(samples)}\n` : options.format(samples));
    return 0;
  };
}

/** The config a `run --config FILE` command line names, loaded, with the file it came from. */
export interface RunConfig<T> {
  file: string;
  config: T;
}

/**
 * Reads `--config FILE` from a `run` command line and loads it: a UsageError without one, or the config
 * errors printed (with their JSON paths) and null, for the caller to exit 1.
 */
export function loadRunConfig<S extends z.ZodType>(
  app: string,
  schema: S,
  args: string[],
): RunConfig<z.output<S>> | null {
  let values: { config?: string | undefined };
  try {
    ({ values } = parseArgs({ args, options: { config: { type: "string", short: "c" } }, strict: true }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const file = values.config;
  if (file === undefined || file === "") throw new UsageError("run needs --config FILE");
  try {
    return { file, config: loadConfigFile(schema, file) };
  } catch (error) {
    if (!ConfigError.isInstance(error)) throw error;
    process.stderr.write(`${app}: ${error.message}\n`);
    return null;
  }
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
