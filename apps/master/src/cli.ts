import { createRequire } from "node:module";
import { runCli } from "@sluice/daemon";
import { runCapture } from "./commands/capture.js";
import { runCheckConfig } from "./commands/check-config.js";
import { runImportOwlh } from "./commands/import-owlh.js";
import { runRun } from "./commands/run.js";
import { runSchema } from "./commands/schema.js";
import { runStatus } from "./commands/status.js";
import { USAGE } from "./usage.js";

const { version } = createRequire(import.meta.url)("../package.json") as { version: string };

process.exitCode = await runCli(
  {
    name: "sluice-master",
    version,
    usage: USAGE,
    commands: {
      capture: runCapture,
      run: runRun,
      "check-config": runCheckConfig,
      "import-owlh": runImportOwlh,
      status: runStatus,
      schema: runSchema,
    },
  },
  process.argv.slice(2),
);
