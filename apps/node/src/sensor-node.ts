import { resolve } from "node:path";
import type { Logger, MetricsRegistry } from "@sluice/daemon";
import { parseSpeed, type ReplayerOptions, type ReplayOutput } from "@sluice/replayer";
import { ReplayQueue, type ReplayQueueSettings } from "@sluice/replayer/queue";
import { HeartbeatWriter } from "@sluice/spool";
import type { NodeConfig } from "./config.js";

/** The replay settings of a node config, in the ReplayQueue's terms. */
export function queueSettings(config: NodeConfig): ReplayQueueSettings {
  const { output } = config;
  const replayer: ReplayerOptions = {
    output: replayOutput(output),
    speed: parseSpeed(config.speed),
    maxGapMs: config.maxGapMs,
    oversize: config.oversize,
    ...(output.type === "interface" && output.macs ? { macs: output.macs } : {}),
    ...(output.type === "interface" ? { timer: output.timer } : {}),
  };
  return {
    replayer,
    after: config.after,
    failed: config.failed,
    stableMs: config.stableSeconds * 1000,
    rescanMs: config.rescanSeconds * 1000,
    retry: { initialMs: config.retry.initialSeconds * 1000, maxMs: config.retry.maxSeconds * 1000 },
  };
}

function replayOutput(output: NodeConfig["output"]): ReplayOutput {
  if (output.type === "fifo") return { type: "fifo", path: output.path };
  return {
    type: "interface",
    interface: output.interface,
    ...(output.netns ? { netns: output.netns } : {}),
    ...(output.qdiscBypass ? { qdiscBypass: true } : {}),
  };
}

/**
 * `sluice-node run`: @sluice/replayer's ReplayQueue on the config's folders, reloaded on SIGHUP.
 * `incoming`, `stateDir`, `metrics` and `log.level` need a restart: a config changing them is refused.
 */
export class SensorNode {
  private config: NodeConfig;
  /** The engine; its events (replay-started, replayed, file-failed) feed the status page. */
  readonly queue: ReplayQueue;
  /** Tells the master this node is alive (null when `heartbeat.enabled` is false). */
  private readonly heartbeat: HeartbeatWriter | null;

  constructor(config: NodeConfig, log: Logger, metrics: MetricsRegistry) {
    this.config = config;
    this.queue = new ReplayQueue({
      ...queueSettings(config),
      incoming: config.incoming,
      createIncoming: config.createIncoming,
      stateDir: config.stateDir,
      logger: log,
      metrics,
    });
    const { heartbeat } = config;
    this.heartbeat = heartbeat.enabled
      ? new HeartbeatWriter({
          dir: config.incoming,
          file: heartbeat.file,
          intervalMs: heartbeat.intervalSeconds * 1000,
          queue: () => this.queue.backlog,
          onError: (error) => log.warn("heartbeat-failed", { file: heartbeat.file, error }),
        })
      : null;
  }

  async start(): Promise<void> {
    await this.queue.start();
    // After the queue: a node that cannot open its folders never looks alive.
    await this.heartbeat?.start();
  }

  async stop(): Promise<{ pending: number }> {
    // First: the master stops sending while the queue winds down.
    await this.heartbeat?.stop();
    return this.queue.stop();
  }

  reload(next: NodeConfig): void {
    const fixed: string[] = [];
    if (resolve(next.incoming) !== resolve(this.config.incoming)) fixed.push("incoming");
    if (resolve(next.stateDir) !== resolve(this.config.stateDir)) fixed.push("stateDir");
    if (next.metrics?.listen !== this.config.metrics?.listen) fixed.push("metrics");
    if (next.log.level !== this.config.log.level) fixed.push("log.level");
    if (JSON.stringify(next.heartbeat) !== JSON.stringify(this.config.heartbeat)) fixed.push("heartbeat");
    if (fixed.length > 0) throw new Error(`${fixed.join(", ")} cannot change without a restart`);
    this.queue.reconfigure(queueSettings(next));
    this.config = next;
  }
}
