import { runCapture } from "./commands/capture.js";
import { runCheckConfig } from "./commands/check-config.js";
import { runImportOwlh } from "./commands/import-owlh.js";
import { runRun } from "./commands/run.js";
import { runSchema } from "./commands/schema.js";
import { runStatus } from "./commands/status.js";
import { USAGE, UsageError } from "./usage.js";

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (
    rest.includes("--help") ||
    rest.includes("-h") ||
    command === "--help" ||
    command === "-h" ||
    command === "help"
  ) {
    process.stdout.write(USAGE);
    return 0;
  }
  switch (command) {
    case "capture":
      return runCapture(rest);
    case "run":
      return runRun(rest);
    case "check-config":
      return runCheckConfig(rest);
    case "import-owlh":
      return runImportOwlh(rest);
    case "status":
      return runStatus(rest);
    case "schema":
      return runSchema(rest);
    case undefined:
      throw new UsageError("no command given");
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`sluice-master: ${error.message}\n\n${USAGE}`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`sluice-master: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
