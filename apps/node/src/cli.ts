import { createRequire } from "node:module";
import { runCli } from "@sluice/daemon";
import { runCheckConfig } from "./commands/check-config.js";
import { runReplay } from "./commands/replay.js";
import { runRun } from "./commands/run.js";
import { runSchema } from "./commands/schema.js";
import { runSetupInterface } from "./commands/setup-interface.js";
import { runStatus } from "./commands/status.js";
import { USAGE } from "./usage.js";

const { version } = createRequire(import.meta.url)("../package.json") as { version: string };

process.exitCode = await runCli(
  {
    name: "sluice-node",
    version,
    usage: USAGE,
    commands: {
      run: runRun,
      "check-config": runCheckConfig,
      "setup-interface": runSetupInterface,
      replay: runReplay,
      status: runStatus,
      schema: runSchema,
    },
  },
  process.argv.slice(2),
);
