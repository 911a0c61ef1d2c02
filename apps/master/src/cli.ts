import { runCapture } from "./commands/capture.js";
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
