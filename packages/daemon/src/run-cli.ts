// The part of the CLI kit a binary needs before it knows its command: no zod, no config code, so a
// command that needs neither (sluice-node replay) starts in the time Node itself takes.
// Exported on its own as "@sluice/daemon/run-cli" (and from the package root).

const marker = Symbol.for("@sluice/daemon/UsageError");

/** Thrown for a command line that cannot run: the app prints it with its usage text and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
  readonly [marker] = true;

  /**
   * True for a UsageError from any copy of this code: the CommonJS build has one in each entry point
   * (index and run-cli), and a command may throw one class while runCli came from the other.
   */
  static isInstance(error: unknown): error is UsageError {
    return typeof error === "object" && error !== null && marker in error;
  }
}

/** A subcommand: its arguments in, an exit status out. */
export type Command = (args: string[]) => number | Promise<number>;

/** What a Sluice command-line app is: its name, version, usage text and subcommands. */
export interface CliApp {
  /** Binary name, the prefix of every message (`sluice-master`). */
  name: string;
  version: string;
  usage: string;
  commands: Record<string, Command>;
}

/**
 * Runs one command line of an app: `--help`, `--version`, the subcommand, and the exit statuses every
 * Sluice binary shares — 2 with the usage text for a UsageError, 1 with the message for anything else.
 */
export async function runCli(app: CliApp, argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === "--version" || command === "-V" || command === "version") {
      process.stdout.write(`${app.name} ${app.version}\n`);
      return 0;
    }
    const help = ["--help", "-h", "help"];
    if (command !== undefined && (help.includes(command) || rest.includes("--help") || rest.includes("-h"))) {
      process.stdout.write(app.usage);
      return 0;
    }
    if (command === undefined) throw new UsageError("no command given");
    const run = Object.hasOwn(app.commands, command) ? app.commands[command] : undefined;
    if (run === undefined) throw new UsageError(`unknown command "${command}"`);
    return await run(rest);
  } catch (error) {
    if (UsageError.isInstance(error)) {
      process.stderr.write(`${app.name}: ${error.message}\n\n${app.usage}`);
      return 2;
    }
    process.stderr.write(`${app.name}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
