import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));

/** A `sluice-node run` child and the JSON lines it logs. */
export interface NodeProcess {
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

/** Starts `sluice-node run --config FILE`. */
export function runNode(config: string): NodeProcess {
  const child = spawn(process.execPath, [CLI, "run", "--config", config], {
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
