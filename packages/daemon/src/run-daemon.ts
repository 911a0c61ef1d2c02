import type { z } from "zod";
import { loadRunConfig } from "./cli-kit.js";
import { ConfigError, loadConfigFile } from "./config-file.js";
import { type LogFields, Logger, type LogLevel } from "./logger.js";
import { MetricsRegistry } from "./metrics.js";
import { type MetricsServer, serveMetrics } from "./metrics-server.js";

/** What every daemon config has: a log level, and maybe a metrics endpoint. */
export interface DaemonConfig {
  log: { level: LogLevel };
  metrics?: { listen: string } | undefined;
}

/** The long-running part of a daemon, as `runDaemon` drives it. */
export interface Daemon<C> {
  start(): Promise<void>;
  /** Stops cleanly; `pending` is what is left for the next start (logged). */
  stop(): Promise<{ pending: number }>;
  /** Takes a new config on SIGHUP; throws to refuse it (the running one is kept). */
  reload(next: C): void | Promise<void>;
}

/** One daemon binary's `run` command. */
export interface DaemonSpec<S extends z.ZodType<DaemonConfig>, D extends Daemon<z.output<S>>> {
  app: string;
  schema: S;
  create(config: z.output<S>, log: Logger, metrics: MetricsRegistry): D;
  /** What the `started` line says besides pid, config file and metrics address. */
  describe(daemon: D, config: z.output<S>): LogFields;
}

/**
 * `run --config FILE` of a daemon: loads the config (exit 1 with every problem), logs JSON lines, serves
 * metrics, starts the daemon, reloads it on SIGHUP (one reload at a time; an invalid config or a refused
 * reload is logged as `config-reload-refused` and the running one kept) and stops it on SIGTERM or SIGINT,
 * also one that comes while it starts, after any reload under way. Returns the exit status.
 */
export async function runDaemon<S extends z.ZodType<DaemonConfig>, D extends Daemon<z.output<S>>>(
  spec: DaemonSpec<S, D>,
  args: string[],
): Promise<number> {
  const loaded = loadRunConfig(spec.app, spec.schema, args);
  if (loaded === null) return 1;
  const { file, config } = loaded;
  const log = new Logger({ level: config.log.level, fields: { app: spec.app } });
  const metrics = new MetricsRegistry();
  const daemon = spec.create(config, log, metrics);
  // Caught before start, so a SIGTERM during start is a clean stop too.
  const stopSignal = new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  // A SIGHUP during start waits for start to be over.
  let started = (): void => {};
  let reloading = new Promise<void>((resolve) => {
    started = resolve;
  });
  process.on("SIGHUP", () => {
    reloading = reloading.then(async () => {
      let next: z.output<S>;
      try {
        next = loadConfigFile(spec.schema, file);
      } catch (error) {
        const problems = ConfigError.isInstance(error)
          ? error.problems
          : [{ path: "$", message: String(error) }];
        log.error("config-reload-refused", { config: file, problems, kept: "the running configuration" });
        return;
      }
      try {
        await daemon.reload(next);
      } catch (error) {
        const problems = [{ path: "$", message: error instanceof Error ? error.message : String(error) }];
        log.error("config-reload-refused", { config: file, problems, kept: "the running configuration" });
      }
    });
  });
  let server: MetricsServer | null = null;
  try {
    if (config.metrics) server = await serveMetrics(metrics, config.metrics.listen);
    await daemon.start();
    started();
  } catch (error) {
    log.error("start-failed", { error });
    await daemon.stop().catch(() => {});
    await server?.close();
    return 1;
  }
  log.info("started", {
    pid: process.pid,
    config: file,
    ...spec.describe(daemon, config),
    metrics: server ? `${server.host}:${server.port}` : null,
  });
  await stopSignal;
  log.info("stopping", {});
  await reloading;
  const { pending } = await daemon.stop();
  await server?.close();
  log.info("stopped", { pending });
  return 0;
}
