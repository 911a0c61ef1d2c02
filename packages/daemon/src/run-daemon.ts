import { hostname } from "node:os";
import type { z } from "zod";
import { loadRunConfig } from "./cli-kit.js";
import { type ConfigCheck, examineConfigFile } from "./config-file.js";
import type { MetricsAuth } from "./http-auth.js";
import { type LogFields, Logger, type LogLevel } from "./logger.js";
import { MetricsRegistry, type Sample } from "./metrics.js";
import { MetricsHistory } from "./metrics-history.js";
import { type MetricsServer, serveMetrics } from "./metrics-server.js";
import type { StatusKit } from "./status-kit.js";
import type { StatusHeader } from "./status-page.js";

/** What every daemon config has: a log level, and maybe a metrics endpoint. */
export interface DaemonConfig {
  log: { level: LogLevel };
  metrics?: { listen: string; auth?: MetricsAuth | undefined } | undefined;
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
  /** The status page (GET /) and its document (GET /status.json), served beside the metrics. */
  status?: DaemonStatus<D, z.output<S>>;
  /**
   * The config's checks against this machine, run before anything is opened (at start: problems printed,
   * exit 1) and on SIGHUP (problems refuse the reload); `check-config` runs the same.
   */
  check?: ConfigCheck;
  /**
   * Takes what must be this process's alone (a spool, a state dir) before anything is opened, the metrics
   * listener included; throws (typed, naming the holder) when another process has it. Released on exit.
   */
  lock?: (config: z.output<S>) => Promise<{ release(): Promise<void> }>;
}

/** What a status document is built from, at each request. */
export interface StatusContext<D, C> {
  daemon: D;
  /** The running config (the last one a reload took). */
  config: C;
  /** The registry's samples, collected for this document: the numbers /metrics shows now. */
  samples: Sample[];
  /** The last minute of the metrics named in `history`, for rates and charts. */
  history: MetricsHistory;
  /** When this document is made (ms since the epoch). */
  now: number;
}

/** A daemon's status page and document. */
// biome-ignore lint/suspicious/noExplicitAny: each daemon has its own document type
export interface DaemonStatus<D, C, T extends object = any> {
  /** The page's title (`sluice-master status`). */
  title: string;
  /** Metric names whose last minute the page shows (a snapshot every second). */
  history: readonly string[];
  /** The document after its header (app, host, pid, startedAt, now). */
  build(context: StatusContext<D, C>): T | Promise<T>;
  /** Renders the whole document; it also runs in the browser, as its source text (see StatusPage). */
  render(status: StatusHeader & T, kit: StatusKit): string;
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
  const loaded = await loadRunConfig(spec.app, spec.schema, args, spec.check);
  if (loaded === null) return 1;
  const { file, config } = loaded;
  const startedAt = new Date().toISOString();
  let running = config;
  const log = new Logger({ level: config.log.level, fields: { app: spec.app } });
  let held: { release(): Promise<void> } | null = null;
  try {
    held = (await spec.lock?.(config)) ?? null;
  } catch (error) {
    log.error("start-failed", { error });
    process.stderr.write(`${spec.app}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
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
      const { config: next, problems } = await examineConfigFile(spec.schema, file, spec.check).catch(
        (error: unknown) => ({ config: null, problems: [{ path: "$", message: String(error) }] }),
      );
      if (next === null) {
        log.error("config-reload-refused", { config: file, problems, kept: "the running configuration" });
        return;
      }
      try {
        await daemon.reload(next);
        running = next;
      } catch (error) {
        const problems = [{ path: "$", message: error instanceof Error ? error.message : String(error) }];
        log.error("config-reload-refused", { config: file, problems, kept: "the running configuration" });
      }
    });
  });
  let server: MetricsServer | null = null;
  const status = spec.status;
  const history = status ? new MetricsHistory({ names: status.history }) : null;
  try {
    if (config.metrics) {
      server = await serveMetrics(metrics, config.metrics.listen, {
        auth: () => running.metrics?.auth,
        realm: spec.app,
        ...(status &&
          history && {
            status: async (): Promise<StatusHeader> => {
              const samples = await metrics.samples();
              const now = Date.now();
              const context = { daemon, config: running, samples, history, now };
              const header = { app: spec.app, host: hostname(), pid: process.pid, startedAt };
              return { ...header, now: new Date(now).toISOString(), ...(await status.build(context)) };
            },
            page: { title: status.title, render: status.render },
          }),
      });
      history?.start(metrics);
    }
    await daemon.start();
    started();
  } catch (error) {
    log.error("start-failed", { error });
    await daemon.stop().catch(() => {});
    await history?.stop();
    await server?.close();
    await held?.release().catch(() => {});
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
  await history?.stop();
  await server?.close();
  await held?.release();
  log.info("stopped", { pending });
  return 0;
}
