import { accessSync, constants } from "node:fs";
import { CaptureError, type ChildContext, type HandleStats, type PacketOutput } from "@sluice/capture/child";
import { DEFAULT_NAME_TEMPLATE, workerTemplate } from "@sluice/spool";
import type { FileManifest } from "./manifest.js";
import type { RotationPolicy } from "./rotation-policy.js";
import { type OpenFileInfo, Rotator } from "./rotator.js";

/** Settings a rotating capture child receives (its ChildOutputConfig). */
export interface RotatingOutputConfig {
  kind: "rotate";
  dir: string;
  policy: RotationPolicy;
  nameTemplate?: string;
  fsync?: boolean;
  /** Stop taking packets after this many (like tcpdump -c); the parent is told so it can stop. */
  maxPackets?: number;
  /** This child's number among a source's fanout workers (1..N), for the {worker} name field. */
  worker?: number;
}

/** What a rotating capture has written, as its child reports it (every tick while packets come in). */
export interface RotatingProgress {
  /** Totals since the child started. */
  packets: number;
  bytes: number;
  /** The file being written, or null between files. */
  file: OpenFileInfo | null;
  /** When the child took this reading (ms since the epoch). */
  at: number;
}

// Often enough that a rate taken every second from the last report is off by a tick at most; when
// nothing changes, once a second.
const PROGRESS_EVERY_MS = 100;
const PROGRESS_IDLE_MS = 1000;

/** What a rotating capture child tells its parent. */
export type RotatingMessage =
  | { type: "file"; manifest: FileManifest }
  | { type: "progress"; progress: RotatingProgress }
  | { type: "spool-error"; error: { reason: string; path: string; errno: string | null; message: string } }
  | { type: "count-reached"; packets: number };

/**
 * The capture child's output when capture and rotation run in one process: packets go from libpcap
 * straight into the current file (the addon's batches with one write each, node_pcap's packets one by
 * one); only "file is ready" crosses to the parent.
 */
export class RotatingOutput implements PacketOutput {
  captured = 0;
  private readonly rotator: Rotator;
  private readonly maxPackets: number;
  private lastStats: HandleStats = { received: 0, droppedByKernel: 0, droppedByInterface: 0 };
  private progressAt = 0;
  private reported = "";

  constructor(private readonly context: ChildContext) {
    const config = context.config.output as unknown as RotatingOutputConfig;
    this.maxPackets = config.maxPackets ?? Number.POSITIVE_INFINITY;
    checkWritable(config.dir, context.config.user);
    this.rotator = new Rotator({
      dir: config.dir,
      source: context.config.label,
      policy: config.policy,
      nameTemplate: workerTemplate(config.nameTemplate ?? DEFAULT_NAME_TEMPLATE, config.worker ?? 1),
      ...(config.fsync !== undefined && { fsync: config.fsync }),
    });
    this.rotator.setFormat(context.linkType, context.snaplen);
    this.rotator.on("file", (manifest) => context.send({ type: "file", manifest } satisfies RotatingMessage));
    this.rotator.on("error", (error) =>
      context.send({ type: "spool-error", error: error.toJSON() } satisfies RotatingMessage),
    );
    this.rotator.start();
  }

  /** Packets the spool could not take. */
  get dropped(): number {
    return this.rotator.stats.droppedBySpool;
  }

  /** Packets in files (or in the open file's buffer, until a failed write says otherwise). */
  get written(): number {
    return this.rotator.stats.packets;
  }

  /** `dropped` by SpoolError reason. */
  get droppedReasons(): Record<string, number> {
    return this.rotator.stats.droppedBySpoolReasons as Record<string, number>;
  }

  packet(header: Buffer, data: Buffer): void {
    if (this.captured >= this.maxPackets) return;
    this.rotator.writeRecord(header, data, header.readUInt32LE(8));
    if (++this.captured === this.maxPackets) {
      this.context.send({ type: "count-reached", packets: this.captured } satisfies RotatingMessage);
    }
  }

  /** A batch from the addon: counted from `count`, cut at the packet limit by its offsets, no per-packet work. */
  batch(buffer: Buffer, offsets: Uint32Array, count: number): void {
    const take = Math.min(count, this.maxPackets - this.captured);
    if (take <= 0) return;
    this.rotator.writeBatch(buffer, offsets, take);
    this.captured += take;
    if (this.captured === this.maxPackets) {
      this.context.send({ type: "count-reached", packets: this.captured } satisfies RotatingMessage);
    }
  }

  tick(stats: HandleStats): void {
    this.rotator.noteDrops("kernel", stats.droppedByKernel - this.lastStats.droppedByKernel);
    this.rotator.noteDrops("interface", stats.droppedByInterface - this.lastStats.droppedByInterface);
    this.lastStats = stats;
    const now = Date.now();
    if (now - this.progressAt < PROGRESS_EVERY_MS) return;
    const { packets, bytes } = this.rotator.stats;
    const file = this.rotator.current;
    const state = `${bytes} ${file?.name}`;
    if (state === this.reported && now - this.progressAt < PROGRESS_IDLE_MS) return;
    this.progressAt = now;
    this.reported = state;
    const progress: RotatingProgress = { packets, bytes, file, at: now };
    this.context.send({ type: "progress", progress } satisfies RotatingMessage);
  }

  async close(stats: HandleStats): Promise<void> {
    this.tick(stats);
    await this.rotator.stop();
  }
}

// Runs after privileges are dropped: a folder the capture's user cannot write to is refused before any
// packet is taken, not found out as every packet dropped by the spool.
function checkWritable(dir: string, user: string | undefined): void {
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    const who = user === undefined ? `uid ${process.getuid?.()}` : `user ${user}`;
    const errno = (error as NodeJS.ErrnoException).code ?? "";
    throw new CaptureError(
      "permission-denied",
      `${who} cannot write to ${dir} (${errno}): make the folder writable for it (chown) or run the capture as a user that can write there`,
      { path: dir, errno, ...(user !== undefined && { user }) },
    );
  }
}
