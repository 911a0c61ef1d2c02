import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import {
  BlockList,
  createServer as createTcpServer,
  isIPv4,
  isIPv6,
  type Server,
  type Socket,
} from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { type InterfaceInfo, PcapFormatError } from "@sluice/pcap-format";
import { CaptureDecoder } from "@sluice/pcap-format/low-level";
import { CaptureError } from "./errors.js";
import type { SourcePacket } from "./source.js";

/** TLS for the socket source; with `ca`, clients must present a certificate it signed. */
export interface SocketTlsOptions {
  /** PEM certificate chain (a path or the PEM text). */
  cert: string;
  /** PEM private key (a path or the PEM text). */
  key: string;
  /** PEM CA bundle for client certificates (a path or the PEM text); enables mutual TLS. */
  ca?: string;
}

/** Options of a pcap-over-TCP listener (what `tcpdump -w - | nc HOST PORT` sends). */
export interface SocketSourceOptions {
  /** Source name; each connection's label is `<name>-<peer address>-<sequence>`. */
  name: string;
  /** "host:port", "[v6]:port" or ":port". */
  listen: string;
  tls?: SocketTlsOptions;
  /** Connections beyond this are refused (default 64). */
  maxConnections?: number;
  /** Client addresses or CIDRs allowed to connect (default: everyone). */
  allow?: string[];
  /** Close a connection silent for this long (default 5 minutes). */
  idleTimeoutMs?: number;
}

/** One accepted sender. */
export interface SocketConnection {
  label: string;
  peer: string;
  sequence: number;
}

/** Why a connection ended: the sender closed after a complete stream, or something went wrong. */
export type ConnectionEnd =
  | { kind: "complete" }
  | { kind: "malformed"; reason: string; offset: number; message: string }
  | { kind: "truncated"; offset: number; message: string }
  | { kind: "idle" }
  | { kind: "socket-error"; message: string }
  | { kind: "stopped" };

export interface SocketSourceEvents {
  packet: [SourcePacket];
  /** A sender connected; its packets carry `label`. */
  connection: [SocketConnection];
  /** A sender's stream ended; only that connection is affected. */
  close: [SocketConnection & { end: ConnectionEnd; packets: number; bytes: number }];
  /** A connection refused before reading: not allowed, or over the limit. */
  refused: [{ peer: string; why: "not-allowed" | "too-many-connections" }];
  error: [CaptureError];
}

function pem(value: string): string {
  return value.includes("-----BEGIN") ? value : readFileSync(value, "utf8");
}

/** Parses "host:port", "[v6]:port" or ":port". */
export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(listen.trim());
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new CaptureError("bad-option", `listen must be host:port, [v6]:port or :port, not "${listen}"`, {
      option: "listen",
    });
  }
  return { host: match[1] ?? (match[2] || "0.0.0.0"), port };
}

function allowList(cidrs: string[] | undefined): BlockList | null {
  if (!cidrs || cidrs.length === 0) return null;
  const list = new BlockList();
  for (const entry of cidrs) {
    const [address = "", bits] = entry.split("/");
    const type = isIPv6(address) ? "ipv6" : "ipv4";
    if (!isIPv4(address) && !isIPv6(address)) {
      throw new CaptureError("bad-option", `allow entry "${entry}" is not an address or CIDR`, {
        option: "allow",
      });
    }
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return list;
}

const safe = (peer: string): string => peer.replace(/^::ffff:/, "").replace(/[^0-9A-Za-z.]/g, "_");

/**
 * Listens for pcap or pcapng streamed over TCP (optionally TLS) by remote sensors: `tcpdump -w - | nc`,
 * `tcpdump -w - | socat - OPENSSL:…` (what OwlH clients send) and `dumpcap -w -`. Every connection is a
 * source of its own, with its own link types and timestamps; a malformed or truncated stream closes only
 * that connection, with the reason and byte offset in its "close" event.
 */
export class SocketSource extends EventEmitter<SocketSourceEvents> {
  readonly name: string;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private sequence = 0;
  private readonly allowed: BlockList | null;
  private readonly address: { host: string; port: number };

  constructor(private readonly options: SocketSourceOptions) {
    super();
    this.name = options.name;
    this.address = parseListen(options.listen);
    this.allowed = allowList(options.allow);
  }

  /** The port actually listened on (useful with port 0). */
  get port(): number {
    const address = this.server?.address();
    return typeof address === "object" && address !== null ? address.port : this.address.port;
  }

  async start(): Promise<void> {
    const onConnection = (socket: Socket): void => this.accept(socket);
    const { tls } = this.options;
    const server = tls
      ? createTlsServer(
          {
            cert: pem(tls.cert),
            key: pem(tls.key),
            ...(tls.ca !== undefined && { ca: pem(tls.ca), requestCert: true, rejectUnauthorized: true }),
          },
          onConnection,
        )
      : createTcpServer(onConnection);
    this.server = server;
    server.on("tlsClientError", () => {
      // A failed handshake (bad or missing client certificate) never becomes a connection.
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", (error) =>
        reject(
          new CaptureError(
            "listen-failed",
            `cannot listen on ${this.options.listen}: ${error.message}`,
            { listen: this.options.listen },
            { cause: error },
          ),
        ),
      );
      server.listen(this.address.port, this.address.host, () => resolve());
    });
    server.on("error", (error) =>
      this.emit("error", new CaptureError("listen-failed", error.message, {}, { cause: error })),
    );
  }

  /** Stops listening and closes every connection; packets already received have been emitted. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(socket: Socket | TLSSocket): void {
    const peer = socket.remoteAddress ?? "unknown";
    const family = isIPv6(peer.replace(/^::ffff:/, "")) ? "ipv6" : "ipv4";
    if (this.allowed && !this.allowed.check(peer.replace(/^::ffff:/, ""), family)) {
      this.emit("refused", { peer, why: "not-allowed" });
      socket.destroy();
      return;
    }
    if (this.sockets.size >= (this.options.maxConnections ?? 64)) {
      this.emit("refused", { peer, why: "too-many-connections" });
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    const sequence = ++this.sequence;
    const connection: SocketConnection = { label: `${this.name}-${safe(peer)}-${sequence}`, peer, sequence };
    this.emit("connection", connection);

    const interfaces: InterfaceInfo[] = [];
    let packets = 0;
    let ended: ConnectionEnd | null = null;
    const decoder = new CaptureDecoder({
      interface: (info) => {
        interfaces.push(info);
      },
      packet: (buf, dataOffset, capturedLength, originalLength, seconds, nanoseconds, interfaceId) => {
        packets++;
        this.emit("packet", {
          seconds,
          nanoseconds,
          originalLength,
          // Socket chunks are not reused by Node, so the view stays valid.
          data: buf.subarray(dataOffset, dataOffset + capturedLength),
          interfaceId,
          linkType: interfaces[interfaceId]?.linkType ?? 0,
          source: connection.label,
        });
      },
    });
    const finish = (end: ConnectionEnd): void => {
      if (ended) return;
      ended = end;
      this.sockets.delete(socket);
      socket.destroy();
      this.emit("close", { ...connection, end, packets, bytes: decoder.bytesReceived });
    };
    const formatEnd = (error: unknown): ConnectionEnd => {
      if (!PcapFormatError.isInstance(error)) return { kind: "socket-error", message: String(error) };
      return error.reason === "truncated-record" || error.reason === "truncated-header"
        ? { kind: "truncated", offset: error.offset, message: error.message }
        : { kind: "malformed", reason: error.reason, offset: error.offset, message: error.message };
    };

    socket.setTimeout(this.options.idleTimeoutMs ?? 300_000, () => finish({ kind: "idle" }));
    socket.on("data", (chunk: Buffer) => {
      if (ended) return;
      try {
        decoder.push(chunk);
      } catch (error) {
        finish(formatEnd(error));
      }
    });
    socket.on("end", () => {
      if (ended) return;
      try {
        // A port probe that connects and leaves without a byte is not a broken stream.
        if (decoder.bytesReceived > 0) decoder.end();
        finish({ kind: "complete" });
      } catch (error) {
        finish(formatEnd(error));
      }
    });
    socket.on("error", (error) => finish({ kind: "socket-error", message: error.message }));
    socket.on("close", () =>
      finish(this.server ? { kind: "socket-error", message: "connection reset" } : { kind: "stopped" }),
    );
  }
}
