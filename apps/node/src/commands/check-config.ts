import { ConfigError, formatProblem, loadConfigFile } from "@sluice/daemon";
import { NodeConfig } from "../config.js";
import { UsageError } from "../usage.js";

/** `sluice-node check-config FILE...`: every problem with its JSON path; exit 1 on any. */
export function runCheckConfig(args: string[]): number {
  const files = args.filter((a) => !a.startsWith("-"));
  const unknown = args.find((a) => a.startsWith("-"));
  if (unknown !== undefined) throw new UsageError(`unknown option ${unknown}`);
  if (files.length === 0) throw new UsageError("check-config needs a config FILE");
  let failed = false;
  for (const file of files) {
    try {
      const config = loadConfigFile(NodeConfig, file);
      const output =
        config.output.type === "interface"
          ? `interface ${config.output.interface}${config.output.netns ? ` in ${config.output.netns}` : ""}`
          : `fifo ${config.output.path}`;
      const speed = typeof config.speed === "string" ? config.speed : JSON.stringify(config.speed);
      process.stdout.write(
        `${file}: ok (${config.incoming} → ${output}, speed ${speed}, after: ${config.after.action})\n`,
      );
    } catch (error) {
      if (!ConfigError.isInstance(error)) throw error;
      failed = true;
      for (const problem of error.problems) process.stdout.write(`${file}: ${formatProblem(problem)}\n`);
    }
  }
  return failed ? 1 : 0;
}
