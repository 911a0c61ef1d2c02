import { runDaemon } from "@sluice/daemon";
import { NodeConfig } from "../config.js";
import { SensorNode } from "../sensor-node.js";

/** `sluice-node run --config FILE`: watch incoming and replay until SIGTERM. */
export function runRun(args: string[]): Promise<number> {
  return runDaemon(
    {
      app: "sluice-node",
      schema: NodeConfig,
      create: (config, log, metrics) => new SensorNode(config, log, metrics),
      describe: (_node, config) => ({
        incoming: config.incoming,
        output: config.output,
        speed: config.speed,
        after: config.after,
      }),
    },
    args,
  );
}
