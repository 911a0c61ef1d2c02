import { createRequire } from "node:module";
import { type Command, runCli } from "@sluice/daemon/run-cli";
import { USAGE } from "./usage.js";

const { version } = createRequire(import.meta.url)("../package.json") as { version: string };

// Each command is loaded when it runs: `replay` then starts without the config schema (zod), the
// watcher (chokidar) and the metrics code, about 0.1 s of a one-shot replay's start-up.
const lazy =
  (load: () => Promise<Command>): Command =>
  async (args) =>
    (await load())(args);

process.exitCode = await runCli(
  {
    name: "sluice-node",
    version,
    usage: USAGE,
    commands: {
      run: lazy(async () => (await import("./commands/run.js")).runRun),
      "check-config": lazy(async () => (await import("./commands/check-config.js")).runCheckConfig),
      "setup-interface": lazy(async () => (await import("./commands/setup-interface.js")).runSetupInterface),
      replay: lazy(async () => (await import("./commands/replay.js")).runReplay),
      status: lazy(async () => (await import("./commands/status.js")).runStatus),
      schema: lazy(async () => (await import("./commands/schema.js")).runSchema),
    },
  },
  process.argv.slice(2),
);
