import { type ChildProcess, spawn } from "node:child_process";

/**
 * A daemon child (`sluice-master run`, `sluice-node run`) and the JSON lines it logs.
 * Tests wait for log events instead of sleeping.
 */
export interface DaemonProcess {
  child: ChildProcess;
  events: Record<string, unknown>[];
  stderr: () => string;
  exited: Promise<number | null>;
  /** Resolves with the first logged event `name` matching `where` (also one logged before the call). */
  event(
    name: string,
    where?: (e: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  count(name: string): number;
}

/** Starts a Node.js CLI (`cli`, a path) with `args` and collects the JSON lines it logs on stdout. */
export function startDaemon(cli: string, args: readonly string[]): DaemonProcess {
  const child = spawn(process.execPath, [cli, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const events: Record<string, unknown>[] = [];
  let partial = "";
  let err = "";
  child.stdout!.on("data", (d) => {
    partial += d;
    const lines = partial.split("\n");
    partial = lines.pop()!;
    for (const line of lines) if (line.trim()) events.push(JSON.parse(line));
  });
  child.stderr!.on("data", (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    child,
    events,
    stderr: () => err,
    exited,
    count: (name) => events.filter((e) => e["event"] === name).length,
    async event(name, where = () => true, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = events.find((e) => e["event"] === name && where(e));
        if (found) return found;
        if (child.exitCode !== null || Date.now() > deadline) {
          throw new Error(
            `no "${name}" event (exit ${child.exitCode}); stderr: ${err}\nevents: ${events.map((e) => e["event"]).join(" ")}\nlast: ${JSON.stringify(events.at(-1))}`,
          );
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}
