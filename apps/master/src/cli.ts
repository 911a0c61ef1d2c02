import { createRequire } from "node:module";
import { type Command, runCli } from "@sluice/daemon/run-cli";
import { USAGE } from "./usage.js";

const { version } = createRequire(import.meta.url)("../package.json") as { version: string };

// Each command's modules load when it runs: `capture` starts without the dispatcher's (router, config
// schema, metrics), which is CPU a short capture would otherwise pay for.
const lazy =
  <K extends string>(load: () => Promise<Record<K, Command>>, name: K): Command =>
  async (args) =>
    (await load())[name](args);

process.exitCode = await runCli(
  {
    name: "sluice-master",
    version,
    usage: USAGE,
    commands: {
      capture: lazy(() => import("./commands/capture.js"), "runCapture"),
      run: lazy(() => import("./commands/run.js"), "runRun"),
      "check-config": lazy(() => import("./commands/check-config.js"), "runCheckConfig"),
      "import-owlh": lazy(() => import("./commands/import-owlh.js"), "runImportOwlh"),
      status: lazy(() => import("./commands/status.js"), "runStatus"),
      schema: lazy(() => import("./commands/schema.js"), "runSchema"),
    },
  },
  process.argv.slice(2),
);
