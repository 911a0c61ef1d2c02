import { checkConfigCommand } from "@sluice/daemon";
import { MasterConfig } from "../config.js";
import { checkMasterConfig } from "../preflight.js";

/**
 * `sluice-master check-config [--schema-only] FILE...`: every problem with its JSON path, the schema's and
 * then what `run` checks on this machine; exit 1 on any.
 */
export const runCheckConfig = checkConfigCommand(
  MasterConfig,
  (config) => {
    const nodes = config.pools.reduce((n, p) => n + p.nodes.length, 0);
    return `${config.sources.length} sources, ${config.pools.length} pools of ${nodes} nodes, ${config.alone.length} alone`;
  },
  checkMasterConfig,
);
