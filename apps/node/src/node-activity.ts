import { type Daemon, RecentList } from "@sluice/daemon";
import type { FailReason, ReplayQueue } from "@sluice/replayer/queue";
import type { NodeConfig } from "./config.js";
import type { SensorNode } from "./sensor-node.js";

/** A file replayed to its end. */
export interface ReplayedFile {
  name: string;
  /** When its replay ended (ISO 8601). */
  at: string;
  packets: number;
  bytes: number;
  durationMs: number;
}

/** A file set aside in the failed folder. */
export interface FailedFile {
  name: string;
  at: string;
  reason: FailReason;
  message: string;
}

/** The file being replayed, as its replay-started event said. */
export interface StartedFile {
  name: string;
  size: number;
  /** Packets the verifier counted in it: the end of the progress bar. */
  packets: number;
  startedAt: string;
}

/**
 * What the node's status page remembers that no counter holds: the last files replayed and failed, and
 * the size of the one being replayed. Bounded; fed by the engine's events only.
 */
export class NodeActivity {
  private readonly replayed = new RecentList<ReplayedFile>(20);
  private readonly failed = new RecentList<FailedFile>(20);
  private started: StartedFile | null = null;

  constructor(engine: ReplayQueue) {
    engine.on("replay-started", ({ file, size, packets }) => {
      this.started = { name: file, size, packets, startedAt: new Date().toISOString() };
    });
    engine.on("replayed", ({ file, packetsSent, bytesSent, durationMs }) => {
      const at = new Date().toISOString();
      this.replayed.add({ name: file, at, packets: packetsSent, bytes: bytesSent, durationMs });
    });
    engine.on("file-failed", ({ file, reason, message }) => {
      this.failed.add({ name: file, at: new Date().toISOString(), reason, message });
    });
  }

  /** The file whose replay started last, if it is `name` (the one the gauges say is being replayed). */
  startedFile(name: string): StartedFile | null {
    return this.started?.name === name ? this.started : null;
  }

  /** Newest first. */
  recentReplayed(): ReplayedFile[] {
    return this.replayed.list();
  }

  /** Newest first. */
  recentFailed(): FailedFile[] {
    return this.failed.list();
  }
}

/** The node as `run` drives it: the engine, and what its status page remembers of it. */
export class RunningNode implements Daemon<NodeConfig> {
  readonly activity: NodeActivity;

  constructor(readonly engine: SensorNode) {
    this.activity = new NodeActivity(engine.queue);
  }

  start(): Promise<void> {
    return this.engine.start();
  }

  stop(): Promise<{ pending: number }> {
    return this.engine.stop();
  }

  reload(next: NodeConfig): void {
    this.engine.reload(next);
  }
}
