import { runDaemon } from "@sluice/daemon";
import { DirectoryLock } from "@sluice/spool";
import { NodeConfig } from "../config.js";
import { RunningNode } from "../node-activity.js";
import { checkNodeConfig } from "../preflight.js";
import { SensorNode } from "../sensor-node.js";
import { renderNodeStatus } from "../status-page.js";
import { NODE_HISTORY, nodeStatus } from "../status-report.js";

/** `sluice-node run --config FILE`: watch incoming and replay until SIGTERM. */
export function runRun(args: string[]): Promise<number> {
  return runDaemon(
    {
      app: "sluice-node",
      schema: NodeConfig,
      check: checkNodeConfig,
      // The state dir holds the journal of replayed files: two nodes on it would replay files twice.
      lock: (config) => DirectoryLock.acquire(config.stateDir, { owner: "sluice-node run" }),
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
