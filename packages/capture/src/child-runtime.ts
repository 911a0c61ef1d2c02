// The life of a capture child process: open one live capture, drop privileges, hand packets to an
// output until told to stop (IPC "stop", SIGTERM, SIGINT, or the parent going away), then wait out one
// buffer timeout, drain the ring, close the output, report final stats and exit 0. A capture that breaks
// (the interface deleted) is reported as "lost" and then stopped the same way: what was taken is kept. A
// successor (a child that takes over from a running one on a reload) opens its capture and waits to be
// told from which timestamp on the frames are its own.
import { spawnSync } from "node:child_process";
import { onStopRequest, sendToParent } from "./child-process.js";
import type { ChildConfig, ChildMessage, ParentMessage } from "./child-protocol.js";
import { CutoverOutput } from "./cutover.js";
import { CaptureError } from "./errors.js";
import { type HandleStats, type LiveHandle, openLiveHandle } from "./live-handle.js";
import type { CaptureStats } from "./source.js";

export type { HandleStats };

/**
 * Where a capture child puts packets: the hot path. With the packet-io addon, `batch` gets whole batches
 * (no JavaScript runs per packet); with node_pcap, `packet` is called once per packet.
 */
export interface PacketOutput {
  /** One packet: `header` is its pcap record header (host order, microseconds), `data` its bytes; both reused. */
  packet(header: Buffer, data: Buffer): void;
  /**
   * A batch of `count` records, already laid out as classic pcap records (16-byte header in host byte
   * order with microseconds, then the bytes) in `buffer[offsets[0], offsets[count])`, record i starting
   * at `offsets[i]`. The buffer is reused once this returns. Without it, the addon's batches are handed
   * to `packet` one record at a time.
   */
  batch?(buffer: Buffer, offsets: Uint32Array, count: number): void;
  /** Called every buffer timeout with libpcap's counters. */
  tick(stats: HandleStats): void;
  /** Finishes everything (flush, finalize files); the child exits after it resolves. */
  close(stats: HandleStats): Promise<void>;
  /** Packets taken, and dropped because the output could not keep up (or write them). */
  readonly captured: number;
  readonly dropped: number;
  /** Packets kept (written to files); without it, `captured - dropped`. */
  readonly written?: number;
  /** `dropped` by why, where the output knows. */
  readonly droppedReasons?: Record<string, number>;
}

/** What an output is built from. */
export interface ChildContext {
  config: ChildConfig;
  linkType: number;
  snaplen: number;
  /** Which packet I/O carries the packets: the packet-io addon or node_pcap. */
  packetIo: "native" | "pcap";
  /** Sends a message to the parent (it arrives as the source's "output" event). */
  send(payload: unknown): void;
  /** Sends a warning to the parent. */
  warn(message: string): void;
}

function sendMessage(message: ChildMessage, then?: () => void): void {
  sendToParent(message, then);
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
  let openedAtUs: number;
  try {
    handle = openLiveHandle(config.live, warn);
    // Date.now() rounds down: a millisecond more is surely after the open (filter set) completed.
    openedAtUs = (Date.now() + 1) * 1000;
    dropPrivileges(config.user, config.group);
  } catch (error) {
    fail(error);
    return;
  }
  const context: ChildContext = {
    config,
    linkType: handle.linkType,
    snaplen: handle.snaplen,
    packetIo: handle.packetIo,
    send: (payload) => sendMessage({ type: "output", payload }),
    warn,
  };
  Promise.resolve()
    .then(() => makeOutput(context))
    .then((output) => run(config, handle, new CutoverOutput(output), openedAtUs, warn), fail);
}

function run(
  config: ChildConfig,
  handle: LiveHandle,
  output: CutoverOutput,
  openedAtUs: number,
  warn: (message: string) => void,
): void {
  // After close() the handle has no counters: its last ones stand.
  let closedStats: HandleStats | null = null;
  const stats = (): CaptureStats => ({
    ...(closedStats ?? handle.stats()),
    droppedByConsumer: output.dropped,
    captured: output.captured,
    written: output.written ?? output.captured - output.dropped,
    ...(output.droppedReasons && { droppedByConsumerReasons: output.droppedReasons }),
  });
  const ticker = setInterval(() => output.tick(handle.stats()), config.live.bufferTimeoutMs);
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    clearInterval(ticker);
    // libpcap hands a ring block over when it fills or its timeout passes: wait out the timeout, then
    // take what is left, so stopping loses nothing already captured.
    await new Promise((resolve) => setTimeout(resolve, config.live.bufferTimeoutMs + 20));
    // A successor stopped before it read anything holds only frames its predecessor keeps.
    if (reading) handle.drain();
    closedStats = handle.stats();
    handle.close();
    try {
      await output.close(closedStats);
    } catch (error) {
      warn(`closing the output failed: ${(error as Error).message}`);
    }
    sendMessage({ type: "stopped", stats: stats(), handover: output.counts }, () => {
      process.disconnect?.();
      process.exit(0);
    });
  };
  let reading = false;
  const read = (): void => {
    reading = true;
    handle.start(output, (error) => {
      sendMessage({ type: "lost", error: error.toJSON() });
      void stop();
    });
  };
  // "ready" goes first: a capture that breaks at once is reported as lost after it.
  sendMessage({
    type: "ready",
    linkType: handle.linkType,
    snaplen: handle.snaplen,
    pid: process.pid,
    packetIo: handle.packetIo,
    fanoutGroup: handle.fanoutGroup,
    openedAtUs,
  });
  if (!config.successor) read();
  process.on("message", (message: ParentMessage) => {
    if (message.type === "stats")
      sendMessage({ type: "stats", id: message.id, stats: stats(), handover: output.counts });
    else if (message.type === "start-from" && !reading) {
      output.startFrom(message.atUs);
      read();
    } else if (message.type === "cut") {
      sendMessage({ type: "cut", atUs: output.cutAt(message.atUs) });
    }
  });
  onStopRequest(() => void stop());
  // A hangup is the parent's (a reload): a child killed by one would leave its file unfinished.
  process.on("SIGHUP", () => {});
}
