import { checkConfigCommand } from "@sluice/daemon";
import { MasterConfig } from "../config.js";

/** `sluice-master check-config FILE...`: every problem with its JSON path; exit 1 on any. */
export const runCheckConfig = checkConfigCommand(MasterConfig, (config) => {
  const nodes = config.pools.reduce((n, p) => n + p.nodes.length, 0);
  return `${config.sources.length} sources, ${config.pools.length} pools of ${nodes} nodes, ${config.alone.length} alone`;
});
