// The life of a capture child process: open one live capture, drop privileges, hand packets to an
// output until told to stop (IPC "stop", SIGTERM, SIGINT, or the parent going away), then wait out one
// buffer timeout, drain the ring, close the output, report final stats and exit 0. A capture that breaks
// (the interface deleted) is reported as "lost" and then stopped the same way: what was taken is kept. A
// successor (a child that takes over from a running one on a reload) opens its capture and waits to be
// told from which timestamp on the frames are its own. The same runtime also runs in the process that
// asked for it (InProcessChild), behind a RuntimeLink instead of the IPC channel.
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

/** How the runtime talks to what started it: a parent over IPC, or the process it runs in. */
export interface RuntimeLink {
  /** Sends a message; `then` runs once it is sent. */
  send(message: ChildMessage, then?: () => void): void;
  /** Every message from the parent ("stop" comes to onStop). */
  onMessage(listener: (message: ParentMessage) => void): void;
  /** Calls `stop` when the runtime is asked to stop (perhaps more than once). */
  onStop(stop: () => void): void;
  /** The runtime is done: a child process exits with `code`. */
  end(code: number): void;
}

// A child process's link: the IPC channel, signals, and exit.
const processLink: RuntimeLink = {
  send: (message, then) => sendToParent(message, then),
  onMessage: (listener) => process.on("message", listener),
  onStop: (stop) => {
    onStopRequest(stop);
    // A hangup is the parent's (a reload): a child killed by one would leave its file unfinished.
    process.on("SIGHUP", () => {});
  },
  end: (code) => {
    process.disconnect?.();
    process.exit(code);
  },
};

function fail(link: RuntimeLink, error: unknown): void {
  const captureError = CaptureError.isInstance(error)
    ? error
    : new CaptureError("open-failed", error instanceof Error ? error.message : String(error));
  link.send({ type: "error", error: captureError.toJSON() }, () => link.end(3));
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
export function runCaptureChild(makeOutput: MakeOutput): void {
  runCapture(JSON.parse(process.argv[2] ?? "{}") as ChildConfig, makeOutput, processLink);
}

/** Builds a capture's output once the capture is open. */
export type MakeOutput = (context: ChildContext) => PacketOutput | Promise<PacketOutput>;

/** Runs one capture from `config` until stopped, talking over `link`. */
export function runCapture(config: ChildConfig, makeOutput: MakeOutput, link: RuntimeLink): void {
  const warn = (message: string): void => link.send({ type: "warning", message });
  let handle: LiveHandle;
  let openedAtUs: number;
  try {
    handle = openLiveHandle(config.live, warn);
    // Date.now() rounds down: a millisecond more is surely after the open (filter set) completed.
    openedAtUs = (Date.now() + 1) * 1000;
    dropPrivileges(config.user, config.group);
  } catch (error) {
    fail(link, error);
    return;
  }
  const context: ChildContext = {
    config,
    linkType: handle.linkType,
    snaplen: handle.snaplen,
    packetIo: handle.packetIo,
    send: (payload) => link.send({ type: "output", payload }),
    warn,
  };
  Promise.resolve()
    .then(() => makeOutput(context))
    .then(
      (output) => run(link, config, handle, new CutoverOutput(output), openedAtUs, warn),
      (error) => {
        handle.close();
        fail(link, error);
      },
    );
}

function run(
  link: RuntimeLink,
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
    link.send({ type: "stopped", stats: stats(), handover: output.counts }, () => link.end(0));
  };
  let reading = false;
  const read = (): void => {
    reading = true;
    handle.start(output, (error) => {
      link.send({ type: "lost", error: error.toJSON() });
      void stop();
    });
  };
  // "ready" goes first: a capture that breaks at once is reported as lost after it.
  link.send({
    type: "ready",
    linkType: handle.linkType,
    snaplen: handle.snaplen,
    pid: process.pid,
    packetIo: handle.packetIo,
    fanoutGroup: handle.fanoutGroup,
    openedAtUs,
  });
  if (!config.successor) read();
  link.onMessage((message) => {
    if (message.type === "stats")
      link.send({ type: "stats", id: message.id, stats: stats(), handover: output.counts });
    else if (message.type === "start-from" && !reading) {
      output.startFrom(message.atUs);
      read();
    } else if (message.type === "cut") {
      link.send({ type: "cut", atUs: output.cutAt(message.atUs) });
    }
  });
  link.onStop(() => void stop());
}
