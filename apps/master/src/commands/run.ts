import {
  ConfigError,
  Logger,
  loadConfigFile,
  loadRunConfig,
  MetricsRegistry,
  type MetricsServer,
  serveMetrics,
} from "@sluice/daemon";
import { MasterConfig } from "../config.js";
import { Dispatcher } from "../dispatcher.js";

/** `sluice-master run --config FILE`: sources, rotation and dispatch until SIGTERM. */
export async function runRun(args: string[]): Promise<number> {
  const loaded = loadRunConfig("sluice-master", MasterConfig, args);
  if (loaded === null) return 1;
  const { file, config } = loaded;
  const log = new Logger({ level: config.log.level, fields: { app: "sluice-master" } });
  const metrics = new MetricsRegistry();
  const dispatcher = new Dispatcher(config, log, metrics);
  let server: MetricsServer | null = null;
  try {
    if (config.metrics) server = await serveMetrics(metrics, config.metrics.listen);
    await dispatcher.start();
  } catch (error) {
    log.error("start-failed", { error });
    await dispatcher.stop().catch(() => {});
    await server?.close();
    return 1;
  }
  log.info("started", {
    pid: process.pid,
    config: file,
    spool: dispatcher.spool,
    sources: config.sources.map((s) => `${s.type}:${s.name}`),
    pools: config.pools.map((p) => `${p.name}(${p.nodes.map((n) => n.name).join(",")})`),
    alone: config.alone.map((a) => a.name),
    metrics: server ? `${server.host}:${server.port}` : null,
  });

  let reloading: Promise<void> = Promise.resolve();
  process.on("SIGHUP", () => {
    reloading = reloading.then(async () => {
      let next: MasterConfig;
      try {
        next = loadConfigFile(MasterConfig, file);
      } catch (error) {
        const problems = ConfigError.isInstance(error)
          ? error.problems
          : [{ path: "$", message: String(error) }];
        log.error("config-reload-refused", { config: file, problems, kept: "the running configuration" });
        return;
      }
      try {
        await dispatcher.reload(next);
      } catch (error) {
        log.error("config-reload-refused", { config: file, error, kept: "the running configuration" });
      }
    });
  });

  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  log.info("stopping", {});
  await reloading;
  const { pending } = await dispatcher.stop();
  await server?.close();
  log.info("stopped", { pending });
  return 0;
}
