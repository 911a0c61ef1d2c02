import { join } from "node:path";
import { type CaptureStats, SocketSource } from "@sluice/capture";
import type { Logger } from "@sluice/daemon";
import { type FileManifest, RotatingCapture, type RotationPolicy, Rotator } from "@sluice/rotator";
import { FolderSource } from "@sluice/router";
import type { MasterConfig, SourceConfig } from "./config.js";

/** Counters of one source since it started (all totals). */
export interface SourceCounters {
  captured: number;
  droppedByKernel: number;
  droppedByInterface: number;
  droppedBySpool: number;
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
  onFile: (path: string, source: string) => void;
}

/** What a source's behaviour depends on: a reload restarts it only when this changes. */
export function sourceKey(config: SourceConfig, master: MasterConfig): string {
  return JSON.stringify({ config, rotation: master.rotation, user: master.user });
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
      return new CaptureSource(config, context, key);
    case "socket":
      return new StreamSource(config, context, key);
    case "folder":
      return new InboxSource(config, context, key);
  }
}

function emptyCounters(): SourceCounters {
  return { captured: 0, droppedByKernel: 0, droppedByInterface: 0, droppedBySpool: 0, files: 0 };
}

/** A SPAN port or a VXLAN mirror: libpcap and rotation in one child process. */
class CaptureSource implements RunningSource {
  readonly name: string;
  private readonly capture: RotatingCapture;
  private files = 0;
  private last: CaptureStats | null = null;

  constructor(
    config: Extract<SourceConfig, { type: "interface" | "vxlan" }>,
    context: SourceContext,
    readonly key: string,
  ) {
    this.name = config.name;
    const iface =
      config.type === "interface" ? config.interface : (config.interfaceName ?? `sluice${config.vni}`);
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
      ...(config.type === "interface" && config.direction !== undefined && { direction: config.direction }),
      ...(config.type === "interface" && config.workers !== undefined && { workers: config.workers }),
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
      context.onFile(manifest.path, this.name);
    });
    this.capture.on("spool-error", (error) => context.log.error("spool-error", { source: this.name, error }));
    this.capture.on("warning", (warning) =>
      context.log.warn("capture-warning", { source: this.name, warning }),
    );
    this.capture.on("error", (error) => context.log.error("capture-failed", { source: this.name, error }));
  }

  start(): Promise<void> {
    return this.capture.start();
  }

  async stop(): Promise<void> {
    this.last = await this.capture.stop();
  }

  async counters(): Promise<SourceCounters> {
    const stats = this.last ?? (await this.capture.stats().catch(() => null));
    if (stats === null) return { ...emptyCounters(), files: this.files };
    return {
      captured: stats.captured,
      droppedByKernel: stats.droppedByKernel,
      droppedByInterface: stats.droppedByInterface,
      droppedBySpool: stats.droppedByConsumer,
      files: this.files,
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

  constructor(
    config: Extract<SourceConfig, { type: "socket" }>,
    context: SourceContext,
    readonly key: string,
  ) {
    this.name = config.name;
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
        context.onFile(manifest.path, this.name);
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
    for (const rotator of this.rotators.values()) spool += rotator.stats.droppedBySpool;
    return { ...this.totals, droppedBySpool: spool, captured: this.totals.captured - spool };
  }
}

/** An inbox of finished captures. */
class InboxSource implements RunningSource {
  readonly name: string;
  private readonly folder: FolderSource;
  private files = 0;
  private packets = 0;

  constructor(
    config: Extract<SourceConfig, { type: "folder" }>,
    context: SourceContext,
    readonly key: string,
  ) {
    this.name = config.name;
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
      context.onFile(file.path, this.name);
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
    return { ...emptyCounters(), captured: this.packets, files: this.files };
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
