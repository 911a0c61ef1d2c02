// Entry point of a capture child process: opens one live capture, optionally drops privileges, and
// hands packets on until told to stop (IPC "stop", SIGTERM, SIGINT, or the parent going away). Stopping
// waits one buffer timeout, drains the ring, flushes, reports final stats and exits 0.
import { spawnSync } from "node:child_process";
import type { ChildConfig, ChildMessage, ParentMessage } from "./child-protocol.js";
import { CaptureError } from "./errors.js";
import { LiveHandle } from "./live-handle.js";
import type { CaptureStats } from "./source.js";
import { StreamOutput } from "./stream-output.js";

const config = JSON.parse(process.argv[2] ?? "{}") as ChildConfig;
const send = (message: ChildMessage): void => {
  if (process.connected) process.send?.(message);
};

function fail(error: unknown): never {
  const captureError = CaptureError.isInstance(error)
    ? error
    : new CaptureError("open-failed", error instanceof Error ? error.message : String(error));
  if (!process.connected) process.exit(3);
  process.send!({ type: "error", error: captureError.toJSON() } satisfies ChildMessage, () =>
    process.exit(3),
  );
  // Wait for the message to go out; nothing else runs after a failed open.
  return new Promise<never>(() => {}) as never;
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

let handle: LiveHandle;
let output: StreamOutput;
try {
  handle = LiveHandle.open(config.live, (message) => send({ type: "warning", message }));
  dropPrivileges(config.user, config.group);
  output = new StreamOutput(3, handle.linkType, handle.snaplen, config.output.maxQueuedBytes);
} catch (error) {
  fail(error);
}

const stats = (): CaptureStats => ({
  ...handle.stats(),
  droppedByConsumer: output.dropped,
  captured: output.captured,
});

const ticker = setInterval(() => output.tick(), config.live.bufferTimeoutMs);
handle.start((header, data) => output.packet(header, data));
send({ type: "ready", linkType: handle.linkType, snaplen: handle.snaplen, pid: process.pid });

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(ticker);
  // libpcap hands over a ring block when it fills or its timeout passes: wait out the timeout, then
  // take what is left, so stopping loses nothing already captured.
  await new Promise((resolve) => setTimeout(resolve, config.live.bufferTimeoutMs + 20));
  handle.drain();
  const final = stats();
  await output.close();
  if (!process.connected) process.exit(0);
  process.send!({ type: "stopped", stats: final } satisfies ChildMessage, () => {
    process.disconnect?.();
    process.exit(0);
  });
}

process.on("message", (message: ParentMessage) => {
  if (message.type === "stats") send({ type: "stats", id: message.id, stats: stats() });
  else if (message.type === "stop") void stop();
});
process.on("disconnect", () => void stop());
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
