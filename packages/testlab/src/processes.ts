import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);
/** Output kept per stream: enough for every message the lab parses, bounded for chatty processes. */
const KEEP_OUTPUT = 1 << 20;

/**
 * A child process the lab started, with its output collected; the lab kills it on destroy.
 * Lets a test wait for readiness and stop gracefully without handling streams itself.
 */
export interface LabProcess {
  readonly child: ChildProcess;
  /** Resolves with the exit code, or the signal name, once the process has exited. */
  readonly exited: Promise<number | string>;
  /** Everything written to stdout so far (the last MiB). */
  stdout(): string;
  /** Everything written to stderr so far (the last MiB). */
  stderr(): string;
  /** Resolves when `pattern` appears on stdout or stderr; rejects if the process exits or time runs out. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Sends `signal` (default SIGTERM) and resolves after exit; SIGKILL after `graceMs` (default 5000). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | string>;
}

/**
 * How to start a process.
 * A piped stdin is a lifeline: the lab's own scripts exit when it closes, so they die with their parent.
 */
export interface StartOptions {
  /** "pipe" keeps stdin open until the process ends (default "ignore"). */
  stdin?: "ignore" | "pipe";
  /** Extra environment variables on top of this process's. */
  env?: Record<string, string>;
}

/**
 * Starts a process and collects its output.
 * The building block for everything the lab runs in a namespace.
 */
export function startProcess(
  command: string,
  args: readonly string[],
  options: StartOptions = {},
): LabProcess {
  const child = spawn(command, args, {
    stdio: [options.stdin ?? "ignore", "pipe", "pipe"],
    ...(options.env !== undefined && { env: { ...process.env, ...options.env } }),
  });
  let out = "";
  let err = "";
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const listener of listeners) listener();
  };
  child.stdout?.setEncoding("utf8").on("data", (s: string) => {
    out = (out + s).slice(-KEEP_OUTPUT);
    notify();
  });
  child.stderr?.setEncoding("utf8").on("data", (s: string) => {
    err = (err + s).slice(-KEEP_OUTPUT);
    notify();
  });
  // A lifeline nobody writes to; EPIPE after the child exits is expected.
  child.stdin?.on("error", () => {});
  let running = true;
  const exited = new Promise<number | string>((resolve) => {
    child.once("error", (error) => {
      err += String(error);
      resolve("error");
    });
    child.once("close", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  void exited.then(() => {
    running = false;
    notify();
  });
  const describe = `${command} ${args.join(" ")}`;
  return {
    child,
    exited,
    stdout: () => out,
    stderr: () => err,
    waitFor(pattern, timeoutMs = 10_000) {
      return new Promise<void>((resolve, reject) => {
        const done = (error: Error | null): void => {
          clearTimeout(timer);
          listeners.delete(check);
          if (error) reject(error);
          else resolve();
        };
        const check = (): void => {
          if (pattern.test(out) || pattern.test(err)) done(null);
          else if (!running) done(new Error(`${describe} exited before printing ${pattern}: ${err.trim()}`));
        };
        const timer = setTimeout(
          () => done(new Error(`${describe} did not print ${pattern} within ${timeoutMs} ms: ${err.trim()}`)),
          timeoutMs,
        );
        listeners.add(check);
        check();
      });
    },
    async stop(signal = "SIGTERM", graceMs = 5000) {
      if (!running) return exited;
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/**
 * Runs a command to completion and returns its stdout; a non-zero exit throws with its stderr.
 * For setup steps, which must succeed or abort the lab.
 */
export async function runCommand(command: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, { encoding: "utf8", maxBuffer: 16 << 20 });
    return stdout;
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? "").trim();
    throw new Error(`${command} ${args.join(" ")} failed: ${stderr || (error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * Synchronous runCommand.
 * For places that cannot wait: exit handlers and the availability probe.
 */
export function runSync(command: string, args: readonly string[]): string {
  const result = spawnSync(command, args, { encoding: "utf8" });
  if (result.status !== 0) {
    const why = result.error?.message ?? result.stderr.trim();
    throw new Error(`${command} ${args.join(" ")} failed (${result.status ?? result.signal}): ${why}`);
  }
  return result.stdout;
}

/**
 * Runs a command synchronously and ignores failure.
 * For removing things that may already be gone.
 */
export function runQuietly(command: string, args: readonly string[]): void {
  spawnSync(command, args, { stdio: "ignore" });
}
