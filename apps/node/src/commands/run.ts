import {
  ConfigError,
  Logger,
  loadConfigFile,
  loadRunConfig,
  MetricsRegistry,
  type MetricsServer,
  serveMetrics,
} from "@sluice/daemon";
import { NodeConfig } from "../config.js";
import { SensorNode } from "../sensor-node.js";

/** `sluice-node run --config FILE`: watch incoming and replay until SIGTERM. */
export async function runRun(args: string[]): Promise<number> {
  const loaded = loadRunConfig("sluice-node", NodeConfig, args);
  if (loaded === null) return 1;
  const { file, config } = loaded;
  const log = new Logger({ level: config.log.level, fields: { app: "sluice-node" } });
  const metrics = new MetricsRegistry();
  const node = new SensorNode({ config, log, metrics });
  let server: MetricsServer | null = null;
  // Signals are caught before start so a SIGTERM during the first scan is a clean stop too.
  const stopSignal = new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  process.on("SIGHUP", () => {
    let next: NodeConfig;
    try {
      next = loadConfigFile(NodeConfig, file);
      node.reload(next);
    } catch (error) {
      const problems = ConfigError.isInstance(error)
        ? error.problems
        : [{ path: "$", message: (error as Error).message }];
      log.error("config-reload-refused", { config: file, problems, kept: "the running configuration" });
    }
  });
  try {
    if (config.metrics) server = await serveMetrics(metrics, config.metrics.listen);
    await node.start();
  } catch (error) {
    log.error("start-failed", { error });
    await node.stop().catch(() => {});
    await server?.close();
    return 1;
  }
  log.info("started", {
    pid: process.pid,
    config: file,
    incoming: config.incoming,
    output: config.output,
    speed: config.speed,
    after: config.after,
    metrics: server ? `${server.host}:${server.port}` : null,
  });
  await stopSignal;
  log.info("stopping", {});
  const { pending } = await node.stop();
  await server?.close();
  log.info("stopped", { pending });
  return 0;
}
