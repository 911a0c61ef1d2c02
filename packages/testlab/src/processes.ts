import { type ChildProcess, spawn, spawnSync } from "node:child_process";

/** A child process the lab started; all of them are killed when the lab is destroyed. */
export interface LabProcess {
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** Everything written to stdout and stderr so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves when `pattern` appears on stdout or stderr; rejects if the process exits or time runs out. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Sends `signal` and resolves after exit; SIGKILL after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | string>;
}

/** Starts a process and collects its output. */
export function startProcess(command: string, args: string[]): LabProcess {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  const listeners = new Set<() => void>();
  child.stdout!.setEncoding("utf8").on("data", (s: string) => {
    out += s;
    for (const l of listeners) l();
  });
  child.stderr!.setEncoding("utf8").on("data", (s: string) => {
    err += s;
    for (const l of listeners) l();
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once("error", (error) => {
      err += String(error);
      resolve("error");
    });
    child.once("close", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  let running = true;
  void exited.then(() => {
    running = false;
    for (const l of listeners) l();
  });
  return {
    child,
    exited,
    stdout: () => out,
    stderr: () => err,
    waitFor(pattern, timeoutMs = 10_000) {
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (pattern.test(out) || pattern.test(err)) done(null);
          else if (!running)
            done(new Error(`${command} ${args.join(" ")} exited before printing ${pattern}: ${err.trim()}`));
        };
        const timer = setTimeout(
          () => done(new Error(`${command} did not print ${pattern} within ${timeoutMs} ms: ${err.trim()}`)),
          timeoutMs,
        );
        const done = (error: Error | null): void => {
          clearTimeout(timer);
          listeners.delete(check);
          if (error) reject(error);
          else resolve();
        };
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

/** Runs a command to completion; a non-zero exit throws with its stderr. */
export function runSync(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: "utf8" });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} failed (${result.status ?? result.signal}): ${result.stderr.trim()}`,
    );
  }
  return result.stdout;
}

/** Like runSync, ignoring failure (cleanup of things that may already be gone). */
export function runQuietly(command: string, args: string[]): void {
  spawnSync(command, args, { stdio: "ignore" });
}
