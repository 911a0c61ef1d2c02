import { checkConfigCommand } from "@sluice/daemon";
import { NodeConfig } from "../config.js";
import { checkNodeConfig } from "../preflight.js";

/**
 * `sluice-node check-config [--schema-only] FILE...`: every problem with its JSON path, the schema's and
 * then what `run` checks on this machine; exit 1 on any.
 */
export const runCheckConfig = checkConfigCommand(
  NodeConfig,
  (config) => {
    const output =
      config.output.type === "interface"
        ? `interface ${config.output.interface}${config.output.netns ? ` in ${config.output.netns}` : ""}`
        : `fifo ${config.output.path}`;
    const speed = typeof config.speed === "string" ? config.speed : JSON.stringify(config.speed);
    return `${config.incoming} → ${output}, speed ${speed}, after: ${config.after.action}`;
  },
  checkNodeConfig,
);
