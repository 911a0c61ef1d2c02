import { join, resolve } from "node:path";
import { runDaemon } from "@sluice/daemon";
import { DirectoryLock } from "@sluice/spool";
import { MasterConfig } from "../config.js";
import { Dispatcher } from "../dispatcher.js";
import { checkMasterConfig } from "../preflight.js";
import { renderMasterStatus } from "../status-page.js";
import { MASTER_HISTORY, masterStatus } from "../status-report.js";

/** `sluice-master run --config FILE`: sources, rotation and dispatch until SIGTERM. */
export function runRun(args: string[]): Promise<number> {
  return runDaemon(
    {
      app: "sluice-master",
      schema: MasterConfig,
      check: checkMasterConfig,
      // The lock is on <spool>/ready, where capture children write and start salvages: also what a
      // `sluice-master capture --out <spool>/ready` takes.
      lock: (config) =>
        DirectoryLock.acquire(join(resolve(config.spool), "ready"), { owner: "sluice-master run" }),
      create: (config, log, metrics) => new Dispatcher(config, log, metrics),
      describe: (dispatcher, config) => ({
        spool: dispatcher.spool,
        sources: config.sources.map((s) => `${s.type}:${s.name}`),
        pools: config.pools.map((p) => `${p.name}(${p.nodes.map((n) => n.name).join(",")})`),
        alone: config.alone.map((a) => a.name),
      }),
      status: {
        title: "sluice-master status",
        history: MASTER_HISTORY,
        build: masterStatus,
        render: renderMasterStatus,
      },
    },
    args,
  );
}
