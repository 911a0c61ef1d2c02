import { runDaemon } from "@sluice/daemon";
import { NodeConfig } from "../config.js";
import { RunningNode } from "../node-activity.js";
import { SensorNode } from "../sensor-node.js";
import { renderNodeStatus } from "../status-page.js";
import { NODE_HISTORY, nodeStatus } from "../status-report.js";

/** `sluice-node run --config FILE`: watch incoming and replay until SIGTERM. */
export function runRun(args: string[]): Promise<number> {
  return runDaemon(
    {
      app: "sluice-node",
      schema: NodeConfig,
      create: (config, log, metrics) => new RunningNode(new SensorNode(config, log, metrics)),
      describe: (_node, config) => ({
        incoming: config.incoming,
        output: config.output,
        speed: config.speed,
        after: config.after,
      }),
      status: {
        title: "sluice-node status",
        history: NODE_HISTORY,
        build: nodeStatus,
        render: renderNodeStatus,
      },
    },
    args,
  );
}
