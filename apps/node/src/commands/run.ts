import { parseArgs } from "node:util";
import {
  ConfigError,
  Logger,
  loadConfigFile,
  MetricsRegistry,
  type MetricsServer,
  serveMetrics,
} from "@sluice/daemon";
import { NodeConfig } from "../config.js";
import { SensorNode } from "../sensor-node.js";
import { UsageError } from "../usage.js";

/** `sluice-node run --config FILE`: watch incoming and replay until SIGTERM. */
export async function runRun(args: string[]): Promise<number> {
  let values: { config?: string | undefined };
  try {
    ({ values } = parseArgs({ args, options: { config: { type: "string", short: "c" } }, strict: true }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const file = values.config;
  if (file === undefined || file === "") throw new UsageError("run needs --config FILE");
  let config: NodeConfig;
  try {
    config = loadConfigFile(NodeConfig, file);
  } catch (error) {
    if (!ConfigError.isInstance(error)) throw error;
    process.stderr.write(`sluice-node: ${error.message}\n`);
    return 1;
  }
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
