// The life of a capture child process: open one live capture, drop privileges, hand packets to an
// output until told to stop (IPC "stop", SIGTERM, SIGINT, or the parent going away), then wait out one
// buffer timeout, drain the ring, close the output, report final stats and exit 0.
import { spawnSync } from "node:child_process";
import type { ChildConfig, ChildMessage, ParentMessage } from "./child-protocol.js";
import { CaptureError } from "./errors.js";
import { LiveHandle } from "./live-handle.js";
import type { CaptureStats } from "./source.js";

/** libpcap's counters, as an output sees them on every tick. */
export interface HandleStats {
  received: number;
  droppedByKernel: number;
  droppedByInterface: number;
}

/** Where a capture child puts packets: the hot path, called once per packet with reused buffers. */
export interface PacketOutput {
  /** One packet: `header` is its pcap record header (host order, microseconds), `data` its bytes. */
  packet(header: Buffer, data: Buffer): void;
  /** Called every buffer timeout with libpcap's counters. */
  tick(stats: HandleStats): void;
  /** Finishes everything (flush, finalize files); the child exits after it resolves. */
  close(stats: HandleStats): Promise<void>;
  /** Packets taken, and dropped because the output could not keep up. */
  readonly captured: number;
  readonly dropped: number;
}

/** What an output is built from. */
export interface ChildContext {
  config: ChildConfig;
  linkType: number;
  snaplen: number;
  /** Sends a message to the parent (it arrives as the source's "output" event). */
  send(payload: unknown): void;
  /** Sends a warning to the parent. */
  warn(message: string): void;
}

function sendMessage(message: ChildMessage, then?: () => void): void {
  if (!process.connected) {
    then?.();
    return;
  }
  if (then) process.send!(message, () => then());
  else process.send!(message);
}

function fail(error: unknown): void {
  const captureError = CaptureError.isInstance(error)
    ? error
    : new CaptureError("open-failed", error instanceof Error ? error.message : String(error));
  sendMessage({ type: "error", error: captureError.toJSON() }, () => process.exit(3));
}

// Like tcpdump -Z: the user's primary group (or the one given) and supplementary groups, then the user.
function dropPrivileges(user: string | undefined, group: string | undefined): void {
  if (user === undefined && group === undefined) return;
  try {
    if (user === undefined) {
      process.setgid!(group!);
      process.setgroups!([group!]);
      return;
    }
    const entry = spawnSync("getent", ["passwd", user], { encoding: "utf8" }).stdout.trim();
    const [, , uid, gid] = entry.split(":");
    if (!uid || !gid) throw new Error(`no user named ${user}`);
    const primary = group ?? Number(gid);
    process.setgid!(primary);
    (process as unknown as { initgroups(user: string, group: string | number): void }).initgroups(
      user,
      primary,
    );
    process.setuid!(Number(uid));
  } catch (error) {
    throw new CaptureError(
      "permission-denied",
      `cannot switch to user ${user ?? "(unchanged)"} group ${group ?? "(the user's)"}: ${(error as Error).message}`,
      { user, group },
    );
  }
}

/**
 * Runs a capture child: reads its config from argv[2], opens the capture, builds the output with
 * `makeOutput` (after privileges are dropped, so files it creates belong to the configured user) and
 * runs until stopped. The entry script of every capture child calls this once.
 */
export function runCaptureChild(
  makeOutput: (context: ChildContext) => PacketOutput | Promise<PacketOutput>,
): void {
  const config = JSON.parse(process.argv[2] ?? "{}") as ChildConfig;
  const warn = (message: string): void => sendMessage({ type: "warning", message });
  let handle: LiveHandle;
  try {
    handle = LiveHandle.open(config.live, warn);
    dropPrivileges(config.user, config.group);
  } catch (error) {
    fail(error);
    return;
  }
  const context: ChildContext = {
    config,
    linkType: handle.linkType,
    snaplen: handle.snaplen,
    send: (payload) => sendMessage({ type: "output", payload }),
    warn,
  };
  Promise.resolve()
    .then(() => makeOutput(context))
    .then((output) => run(config, handle, output, warn), fail);
}

function run(
  config: ChildConfig,
  handle: LiveHandle,
  output: PacketOutput,
  warn: (message: string) => void,
): void {
  const stats = (): CaptureStats => ({
    ...handle.stats(),
    droppedByConsumer: output.dropped,
    captured: output.captured,
  });
  const ticker = setInterval(() => output.tick(handle.stats()), config.live.bufferTimeoutMs);
  handle.start((header, data) => output.packet(header, data));
  sendMessage({ type: "ready", linkType: handle.linkType, snaplen: handle.snaplen, pid: process.pid });

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    clearInterval(ticker);
    // libpcap hands a ring block over when it fills or its timeout passes: wait out the timeout, then
    // take what is left, so stopping loses nothing already captured.
    await new Promise((resolve) => setTimeout(resolve, config.live.bufferTimeoutMs + 20));
    handle.drain();
    try {
      await output.close(handle.stats());
    } catch (error) {
      warn(`closing the output failed: ${(error as Error).message}`);
    }
    sendMessage({ type: "stopped", stats: stats() }, () => {
      process.disconnect?.();
      process.exit(0);
    });
  };
  process.on("message", (message: ParentMessage) => {
    if (message.type === "stats") sendMessage({ type: "stats", id: message.id, stats: stats() });
    else if (message.type === "stop") void stop();
  });
  process.on("disconnect", () => void stop());
  process.on("SIGTERM", () => void stop());
  process.on("SIGINT", () => void stop());
}
