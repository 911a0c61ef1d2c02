// @sluice/capture/child-process: the one way Sluice runs work in a Node child process (the capture
// child, the rotator's capture child, the replayer's inject child). The parent spawns `node SCRIPT CONFIG`
// (inside `ip netns exec` when asked) with an IPC channel, keeps the tail of its stderr, waits for its
// ready message, and stops it by asking it to exit, with SIGKILL when it does not; the child sends over
// the channel and stops when asked, when the parent goes away, or on SIGTERM/SIGINT. A live libpcap
// handle is only ever closed cleanly by exiting its process (see the developers' guide), hence a child.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { firstSettled } from "./first-settled.js";

/** What the parent keeps of a child's stderr for its error messages. */
const STDERR_TAIL = 4096;

/** How a child is started. */
export interface NodeChildOptions {
  /** The child's entry script: built JavaScript (see builtScript). */
  script: string;
  /** Handed to the child as JSON in argv[2]. */
  config: unknown;
  /** Run the child inside this network namespace (`ip netns exec`). */
  netns?: string;
  /** The child's stdout (default "ignore"). */
  stdout?: "ignore" | "inherit";
  /** Descriptors from fd 3 on, before the IPC channel (a pipe for a stream of packets, say). */
  extraFds?: ("pipe" | "ignore")[];
}

/** How a child exited. */
export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * A Node child process with an IPC channel, seen from the parent: `Out` is what the parent sends,
 * `In` what the child sends back.
 */
export class NodeChild<Out, In> {
  readonly process: ChildProcess;
  /** Resolves once the child exited. */
  readonly exited: Promise<ChildExit>;
  private tail = "";

  constructor(options: NodeChildOptions) {
    const nodeArgs = [options.script, JSON.stringify(options.config)];
    const [command, args] = options.netns
      ? ["ip", ["netns", "exec", options.netns, process.execPath, ...nodeArgs]]
      : [process.execPath, nodeArgs];
    const child = spawn(command, args, {
      stdio: ["ignore", options.stdout ?? "ignore", "pipe", ...(options.extraFds ?? []), "ipc"],
    });
    this.process = child;
    child.stderr!.setEncoding("utf8").on("data", (text: string) => {
      this.tail = (this.tail + text).slice(-STDERR_TAIL);
    });
    this.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  }

  /** The child's process id. */
  get pid(): number | null {
    return this.process.pid ?? null;
  }

  /** The last 4 KiB the child wrote to stderr. */
  get stderr(): string {
    return this.tail;
  }

  /** The channel is open. */
  get connected(): boolean {
    return this.process.connected;
  }

  /**
   * The handshake: resolves with the first value `settle` returns for a message (undefined: not yet),
   * rejects with what it throws, or with `exited(…)` when the child exits first (once its stdio closed,
   * so `stderr` then holds all it wrote).
   */
  ready<T>(settle: (message: In) => T | undefined, exited: (how: ChildExit) => Error): Promise<T> {
    return firstSettled(this.process, settle, exited);
  }

  /** Every message the child sends from now on. */
  onMessage(listener: (message: In) => void): void {
    this.process.on("message", listener);
  }

  /** Sends a message while the channel is open; false when it is closed. */
  send(message: Out): boolean {
    if (!this.process.connected) return false;
    this.process.send(message as object);
    return true;
  }

  /**
   * Asks the child to exit (`message` over the channel, SIGTERM without one), SIGKILL when it has not
   * after `killAfterMs`; resolves once it exited.
   */
  async stop(message: Out, killAfterMs: number): Promise<ChildExit> {
    const killer = setTimeout(() => this.process.kill("SIGKILL"), killAfterMs);
    if (!this.send(message)) this.process.kill("SIGTERM");
    try {
      return await this.exited;
    } finally {
      clearTimeout(killer);
    }
  }
}

/** In a child: sends a message to the parent; `then` runs once it is sent (at once without a channel). */
export function sendToParent(message: unknown, then?: () => void): void {
  if (!process.connected) {
    then?.();
    return;
  }
  if (then) process.send!(message as object, () => then());
  else process.send!(message as object);
}

/**
 * In a child: calls `stop` when the parent asks (an IPC message `{ type: "stop" }`), when it goes away
 * (the channel closes), and on SIGTERM or SIGINT. `stop` may be called more than once.
 */
export function onStopRequest(stop: () => void): void {
  process.on("message", (message: { type?: unknown }) => {
    if (message?.type === "stop") stop();
  });
  process.on("disconnect", stop);
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

/**
 * The built entry script `file` of the package whose module is at `moduleUrl` (pass `import.meta.url`):
 * a child always runs from dist/ (plain JavaScript), whether the caller was loaded from dist/ or, under
 * vitest, from src/.
 */
export function builtScript(moduleUrl: string, file: string, packageName: string): string {
  const here = dirname(fileURLToPath(moduleUrl));
  const dist = basename(here) === "dist" ? here : join(here, "..", "dist");
  const path = join(dist, file);
  if (!existsSync(path)) throw new Error(`${path} is missing: build ${packageName} first (npm run build)`);
  return path;
}
