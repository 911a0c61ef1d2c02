import { createRequire } from "node:module";
import { runCheckConfig } from "./commands/check-config.js";
import { runReplay } from "./commands/replay.js";
import { runRun } from "./commands/run.js";
import { runSchema } from "./commands/schema.js";
import { runSetupInterface } from "./commands/setup-interface.js";
import { runStatus } from "./commands/status.js";
import { USAGE, UsageError } from "./usage.js";

function version(): string {
  const pkg = createRequire(import.meta.url)("../package.json") as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "--version" || command === "-V" || command === "version") {
    process.stdout.write(`sluice-node ${version()}\n`);
    return 0;
  }
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
    case "run":
      return runRun(rest);
    case "check-config":
      return runCheckConfig(rest);
    case "setup-interface":
      return runSetupInterface(rest);
    case "replay":
      return runReplay(rest);
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
      process.stderr.write(`sluice-node: ${error.message}\n\n${USAGE}`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`sluice-node: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
