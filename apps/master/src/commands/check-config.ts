import { ConfigError, formatProblem, loadConfigFile } from "@sluice/daemon";
import { MasterConfig } from "../config.js";
import { UsageError } from "../usage.js";

/** `sluice-master check-config FILE...`: every problem with its JSON path; exit 1 on any. */
export function runCheckConfig(args: string[]): number {
  const files = args.filter((a) => !a.startsWith("-"));
  const unknown = args.find((a) => a.startsWith("-"));
  if (unknown !== undefined) throw new UsageError(`unknown option ${unknown}`);
  if (files.length === 0) throw new UsageError("check-config needs a config FILE");
  let failed = false;
  for (const file of files) {
    try {
      const config = loadConfigFile(MasterConfig, file);
      const nodes = config.pools.reduce((n, p) => n + p.nodes.length, 0);
      process.stdout.write(
        `${file}: ok (${config.sources.length} sources, ${config.pools.length} pools of ${nodes} nodes, ${config.alone.length} alone)\n`,
      );
    } catch (error) {
      if (!ConfigError.isInstance(error)) throw error;
      failed = true;
      for (const problem of error.problems) process.stdout.write(`${file}: ${formatProblem(problem)}\n`);
    }
  }
  return failed ? 1 : 0;
}
