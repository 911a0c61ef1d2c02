import { join } from "node:path";
import { type CaptureStats, SocketSource } from "@sluice/capture";
import type { Logger } from "@sluice/daemon";
import {
  type FileManifest,
  type OpenFileInfo,
  RotatingCapture,
  type RotationPolicy,
  Rotator,
} from "@sluice/rotator";
import { FolderSource } from "@sluice/router";
import type { MasterConfig, SourceConfig } from "./config.js";

/** Counters of one source since it started (all totals). */
export interface SourceCounters {
  /** Packets taken: `written` plus `droppedBySpool`. */
  captured: number;
  /** Packets in files in the spool. */
  written: number;
  /** Bytes of the packets written to the spool (captured lengths). */
  bytes: number;
  droppedByKernel: number;
  droppedByInterface: number;
  droppedBySpool: number;
  /** `droppedBySpool` by SpoolError reason (spool-full, spool-unwritable, io). */
  spoolReasons: Record<string, number>;
  files: number;
}

/** A running source: it puts finished files into the spool and says so through `onFile`. */
export interface RunningSource {
  readonly name: string;
  /** The config it was started from, to tell on reload whether it changed. */
  readonly key: string;
  start(): Promise<void>;
  /** Finishes open files (each reported through onFile) and stops. */
  stop(): Promise<void>;
  counters(): Promise<SourceCounters>;
  /** What the source is doing now, for the status page. */
  view(): SourceView;
}

/** What a source is doing now, as far as this process knows. */
export interface SourceView {
  type: SourceConfig["type"];
  /** What it reads: an interface, a VXLAN VNI, a listen address, an inbox folder. */
  input: string;
  /** down: the interface was lost, and is being reopened (sluice_source_up 0). */
  state: "capturing" | "down" | "failed" | "listening" | "watching";
  /** Why it failed, or how many senders are connected. */
  detail: string | null;
  /** The files being written now. */
  files: OpenFileInfo[];
}

/** What a source knows of a file it finished. */
export interface FinishedFile {
  path: string;
  source: string;
  packets: number;
  bytes: number;
}

/** What every source needs from the master. */
export interface SourceContext {
  /** `<spool>/ready`: where finished files appear. */
  ready: string;
  /** `<spool>/failed`: where unreadable inbox files go. */
  failed: string;
  rotation: RotationPolicy;
  user: string | undefined;
  log: Logger;
  /** A file is finished in the spool. */
  onFile: (file: FinishedFile) => void;
}

/** What a source's behaviour depends on: a reload restarts it only when this changes. */
export function sourceKey(config: SourceConfig, master: MasterConfig): string {
  return JSON.stringify({ config, rotation: master.rotation, user: master.user });
}

/** What a gapless restart of a capture source did at its seam. */
export interface Handover {
  /** The cut: frames stamped before it are in the old capture's files, the others in the new one's. */
  cutAt: string;
  /** The cut in µs since the epoch (the frames' own clock). */
  cutUs: number;
  /** How long both captures ran at once (from the cut until the old one had finished), in ms. */
  overlapMs: number;
  /** Frames the new capture saw stamped before the cut and left to the old one (in its files if its filter took them). */
  beforeCut: number;
  /** Frames the old capture saw stamped at or after the cut and left to the new one (in its files if its filter takes them). */
  afterCut: number;
}

/** Starts the right kind of source for a config entry. */
export function createSource(
  config: SourceConfig,
  context: SourceContext,
  master: MasterConfig,
): RunningSource {
  const key = sourceKey(config, master);
  switch (config.type) {
    case "interface":
    case "vxlan":
      return new CaptureSource(config, context, key, false);
    case "socket":
      return new StreamSource(config, context, key);
    case "folder":
      return new InboxSource(config, context, key);
  }
}

/**
 * Starts `config`'s capture to take over from `running` without a gap: the new capture child opens its
 * interface (filter set), then the old one stops and finishes its file, both keeping the frames on their
 * side of one timestamp. Null when `running` or `config` is not a capture (then stop one, start the
 * other); throws, leaving `running` untouched, when the new capture does not start.
 */
export async function succeed(
  running: RunningSource,
  config: SourceConfig,
  context: SourceContext,
  master: MasterConfig,
): Promise<{ source: RunningSource; handover: Handover } | null> {
  if (!(running instanceof CaptureSource) || (config.type !== "interface" && config.type !== "vxlan")) {
    return null;
  }
  const next = new CaptureSource(config, context, sourceKey(config, master), true);
  const handover = await next.takeOver(running);
  return { source: next, handover };
}

// How far ahead of now a reload's cut lies: longer than a capture child's event loop takes to answer.
const CUT_AHEAD_MS = 200;

/** Counters of a source that has counted nothing yet. */
export function emptyCounters(): SourceCounters {
  return {
    captured: 0,
    written: 0,
    bytes: 0,
    droppedByKernel: 0,
    droppedByInterface: 0,
    droppedBySpool: 0,
    spoolReasons: {},
    files: 0,
  };
}

function finished(manifest: FileManifest, source: string): FinishedFile {
  return { path: manifest.path, source, packets: manifest.packets, bytes: manifest.bytes };
}

// How a lost capture interface is reopened: soon (a flapping link), then every 10 s at most.
const REOPEN_BACKOFF = { initialMs: 500, maxMs: 10_000 };

/** A SPAN port or a VXLAN mirror: libpcap and rotation in one child process. */
class CaptureSource implements RunningSource {
  readonly name: string;
  private readonly type: "interface" | "vxlan";
  private readonly capture: RotatingCapture;
  private readonly input: string;
  private files = 0;
  private last: CaptureStats | null = null;
  private failure: string | null = null;

  constructor(
    config: Extract<SourceConfig, { type: "interface" | "vxlan" }>,
    context: SourceContext,
    readonly key: string,
    successor: boolean,
  ) {
    this.name = config.name;
    this.type = config.type;
    const iface =
      config.type === "interface" ? config.interface : (config.interfaceName ?? `sluice${config.vni}`);
    this.input =
      config.type === "interface"
        ? `${iface}${config.netns ? ` (netns ${config.netns})` : ""}`
        : `VNI ${config.vni} → ${iface}`;
    this.capture = new RotatingCapture({
      interface: iface,
      name: config.name,
      dir: context.ready,
      policy: context.rotation,
      ...(config.filter !== undefined && { filter: config.filter }),
      ...(config.snaplen !== undefined && { snaplen: config.snaplen }),
      ...(config.promiscuous !== undefined && { promiscuous: config.promiscuous }),
      ...(config.bufferMiB !== undefined && { bufferSize: config.bufferMiB * 1024 * 1024 }),
      ...(config.netns !== undefined && { netns: config.netns }),
      ...(config.packetIo !== undefined && { packetIo: config.packetIo }),
      ...(context.user !== undefined && { user: context.user }),
      ...(successor && { successor }),
      ...(config.type === "interface" && config.direction !== undefined && { direction: config.direction }),
      ...(config.type === "interface" && config.workers !== undefined && { workers: config.workers }),
      reopen: REOPEN_BACKOFF,
      ...(config.type === "vxlan" && {
        vxlan: {
          vni: config.vni,
          ...(config.device !== undefined && { device: config.device }),
          ...(config.local !== undefined && { local: config.local }),
          ...(config.port !== undefined && { port: config.port }),
          ...(config.mtu !== undefined && { mtu: config.mtu }),
        },
      }),
    });
    this.capture.on("file", (manifest: FileManifest) => {
      this.files++;
      context.log.info("file-rotated", fileFields(manifest));
      context.onFile(finished(manifest, this.name));
    });
    this.capture.on("spool-error", (error) => context.log.error("spool-error", { source: this.name, error }));
    this.capture.on("warning", (warning) =>
      context.log.warn("capture-warning", { source: this.name, warning }),
    );
    this.capture.on("error", (error) => {
      this.failure = error.message;
      context.log.error("capture-failed", { source: this.name, error });
    });
    // Interface loss (issue 17): logged, shown as down, reopened with backoff by the capture itself.
    this.capture.on("source-down", (error) =>
      context.log.error("source-down", {
        source: this.name,
        interface: iface,
        reason: error.reason,
        error,
      }),
    );
    this.capture.on("source-up", (up) => context.log.info("source-up", { source: this.name, ...up }));
  }

  start(): Promise<void> {
    return this.capture.start();
  }

  async stop(): Promise<void> {
    this.last = await this.capture.stop();
  }

  /**
   * Starts this capture (built as a successor) and stops `previous` once this one is open. The cut is a
   * moment both surely capture, a little ahead so that `previous` has passed on no frame stamped after it
   * yet: every frame stamped before it is `previous`'s to write, every later one this capture's.
   */
  async takeOver(previous: CaptureSource): Promise<Handover> {
    await this.capture.start();
    const ahead = (Date.now() + CUT_AHEAD_MS) * 1000;
    const cut = await previous.capture.cut(Math.max(this.capture.openedAtUs!, ahead));
    this.capture.startFrom(cut);
    // `previous` must still capture at the cut: then its stop waits out a buffer timeout and drains, so
    // every frame stamped before the cut is in its files.
    const wait = Math.ceil(cut / 1000) - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait + 1));
    previous.last = await previous.capture.stop({ successor: this.capture });
    const overlapMs = Math.max(0, Date.now() - Math.floor(cut / 1000));
    // The predecessor has stopped: every frame stamped before the cut is in this capture's ring by now.
    await this.capture.stats().catch(() => null);
    return {
      cutAt: new Date(cut / 1000).toISOString(),
      cutUs: cut,
      overlapMs,
      beforeCut: this.capture.handover.beforeCut,
      afterCut: previous.capture.handover.afterCut,
    };
  }

  async counters(): Promise<SourceCounters> {
    const stats = this.last ?? (await this.capture.stats().catch(() => null));
    const bytes = this.capture.progress?.bytes ?? 0;
    if (stats === null) return { ...emptyCounters(), bytes, files: this.files };
    return {
      captured: stats.captured,
      written: stats.written,
      bytes,
      droppedByKernel: stats.droppedByKernel,
      droppedByInterface: stats.droppedByInterface,
      droppedBySpool: stats.droppedByConsumer,
      spoolReasons: stats.droppedByConsumerReasons ?? {},
      files: this.files,
    };
  }

  view(): SourceView {
    const file = this.capture.progress?.file;
    const lost = this.capture.lost;
    return {
      type: this.type,
      input: this.input,
      state: this.failure !== null ? "failed" : lost !== null ? "down" : "capturing",
      detail: this.failure ?? lost?.message ?? null,
      files: file && lost === null ? [file] : [],
    };
  }
}

/** Remote senders streaming pcap over TCP/TLS: one rotator per connection, in this process. */
class StreamSource implements RunningSource {
  readonly name: string;
  private readonly socket: SocketSource;
  private readonly rotators = new Map<string, Rotator>();
  private readonly closing = new Set<Promise<unknown>>();
  private readonly totals = emptyCounters();
  private readonly listen: string;

  constructor(
    config: Extract<SourceConfig, { type: "socket" }>,
    context: SourceContext,
    readonly key: string,
  ) {
    this.name = config.name;
    this.listen = `${config.tls ? "tls" : "tcp"} ${config.listen}`;
    this.socket = new SocketSource({
      name: config.name,
      listen: config.listen,
      ...(config.tls !== undefined && {
        tls: {
          cert: config.tls.cert,
          key: config.tls.key,
          ...(config.tls.ca !== undefined && { ca: config.tls.ca }),
        },
      }),
      ...(config.allow !== undefined && { allow: config.allow }),
      ...(config.maxConnections !== undefined && { maxConnections: config.maxConnections }),
      ...(config.idleTimeoutSeconds !== undefined && { idleTimeoutMs: config.idleTimeoutSeconds * 1000 }),
    });
    this.socket.on("connection", (connection) => {
      context.log.info("sender-connected", {
        source: this.name,
        label: connection.label,
        peer: connection.peer,
      });
      const rotator = new Rotator({
        dir: context.ready,
        source: connection.label,
        policy: context.rotation,
        precision: "nano",
      });
      rotator.on("file", (manifest) => {
        this.totals.files++;
        context.log.info("file-rotated", fileFields(manifest));
        context.onFile(finished(manifest, this.name));
      });
      rotator.on("error", (error) => context.log.error("spool-error", { source: connection.label, error }));
      rotator.start();
      this.rotators.set(connection.label, rotator);
    });
    this.socket.on("packet", (packet) => {
      const rotator = this.rotators.get(packet.source);
      if (rotator === undefined) return;
      this.totals.captured++;
      rotator.writePacket(packet);
    });
    this.socket.on("close", (connection) => {
      const level = connection.end.kind === "complete" || connection.end.kind === "stopped" ? "info" : "warn";
      context.log.log(level, "sender-closed", {
        source: this.name,
        label: connection.label,
        end: connection.end,
        packets: connection.packets,
        bytes: connection.bytes,
      });
      const rotator = this.rotators.get(connection.label);
      if (rotator === undefined) return;
      this.rotators.delete(connection.label);
      const done = rotator.stop().finally(() => {
        this.totals.droppedBySpool += rotator.stats.droppedBySpool;
        addReasons(this.totals.spoolReasons, rotator.stats.droppedBySpoolReasons);
        this.totals.bytes += rotator.stats.bytes;
        this.closing.delete(done);
      });
      this.closing.add(done);
    });
    this.socket.on("refused", (refused) =>
      context.log.warn("sender-refused", { source: this.name, ...refused }),
    );
    this.socket.on("error", (error) => context.log.error("socket-failed", { source: this.name, error }));
  }

  start(): Promise<void> {
    return this.socket.start();
  }

  async stop(): Promise<void> {
    await this.socket.stop();
    await Promise.all([...this.closing]);
  }

  async counters(): Promise<SourceCounters> {
    let spool = this.totals.droppedBySpool;
    let bytes = this.totals.bytes;
    const spoolReasons = { ...this.totals.spoolReasons };
    for (const rotator of this.rotators.values()) {
      spool += rotator.stats.droppedBySpool;
      bytes += rotator.stats.bytes;
      addReasons(spoolReasons, rotator.stats.droppedBySpoolReasons);
    }
    const written = this.totals.captured - spool;
    return { ...this.totals, droppedBySpool: spool, spoolReasons, bytes, written };
  }

  view(): SourceView {
    const files = [...this.rotators.values()].flatMap((r) => (r.current ? [r.current] : []));
    const senders = this.rotators.size;
    return {
      type: "socket",
      input: this.listen,
      state: "listening",
      detail: `${senders} ${senders === 1 ? "sender" : "senders"} connected`,
      files,
    };
  }
}

/** An inbox of finished captures. */
class InboxSource implements RunningSource {
  readonly name: string;
  private readonly folder: FolderSource;
  private readonly path: string;
  private files = 0;
  private packets = 0;
  private bytes = 0;

  constructor(
    config: Extract<SourceConfig, { type: "folder" }>,
    context: SourceContext,
    readonly key: string,
  ) {
    this.name = config.name;
    this.path = config.path;
    this.folder = new FolderSource({
      name: config.name,
      path: config.path,
      spool: context.ready,
      failed: join(context.failed, config.name),
      ...(config.stableSeconds !== undefined && { stableMs: config.stableSeconds * 1000 }),
      logger: context.log,
    });
    this.folder.on("file", (file) => {
      this.files++;
      this.packets += file.packets;
      this.bytes += file.bytes;
      context.onFile({ path: file.path, source: this.name, packets: file.packets, bytes: file.bytes });
    });
    this.folder.on("error", (error) => context.log.error("inbox-failed", { source: this.name, error }));
  }

  start(): Promise<void> {
    return this.folder.start();
  }

  stop(): Promise<void> {
    return this.folder.stop();
  }

  async counters(): Promise<SourceCounters> {
    const { packets, bytes, files } = this;
    return { ...emptyCounters(), captured: packets, written: packets, bytes, files };
  }

  view(): SourceView {
    return { type: "folder", input: this.path, state: "watching", detail: null, files: [] };
  }
}

function fileFields(manifest: FileManifest): Record<string, unknown> {
  return {
    source: manifest.source,
    path: manifest.path,
    packets: manifest.packets,
    bytes: manifest.bytes,
    reason: manifest.reason,
    drops: manifest.drops,
  };
}

/** Adds drop counts by reason into `into`. */
export function addReasons(into: Record<string, number>, more: Record<string, number | undefined>): void {
  for (const [reason, count] of Object.entries(more)) into[reason] = (into[reason] ?? 0) + (count ?? 0);
}
