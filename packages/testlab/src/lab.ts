import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { cleanupStaleLabs, NETNS_PREFIX, ownChild, ownNamespace, releaseNamespace } from "./cleanup.js";
import { type LabProcess, runQuietly, runSync, startProcess } from "./processes.js";
import { scriptPath } from "./scripts.js";

/** One side of the lab: a namespace with one end of the veth pair. */
export interface Endpoint {
  netns: string;
  iface: string;
  ipv4: string;
  ipv6: string;
}

export interface LabOptions {
  /** MTU of both veth ends (default 1500). */
  mtu?: number;
}

export interface CaptureOptions {
  /** Which side captures (default "b"). */
  on?: "a" | "b";
  /** BPF filter. */
  filter?: string;
  snaplen?: number;
  /** Kernel buffer for tcpdump -B (default 65536 KiB). */
  bufferKiB?: number;
  precision?: "micro" | "nano";
  /**
   * tcpdump --immediate-mode: every packet reaches the file at once, so stop() loses none. Without it
   * tcpdump reads the ring in blocks retired every second, and a block not yet retired at SIGINT is lost
   * (stop() waits past that second, but packets still trickling in then can miss it). Immediate mode
   * uses a smaller ring: keep it for light traffic.
   */
  immediate?: boolean;
}

/** tcpdump's own counters at exit. */
export interface CaptureStats {
  /** Packets written to the file. */
  packets: number;
  /** Packets the filter accepted (more than `packets` if tcpdump exited with some still in its ring). */
  receivedByFilter: number;
  droppedByKernel: number;
}

/** A running tcpdump; stop() ends it and reports its own counters. */
export interface LabCapture {
  path: string;
  stop(): Promise<CaptureStats>;
}

export interface HttpOptions {
  requests: number;
  /** Response size in bytes, or [min, max] drawn log-uniformly (default [200, 256 KiB]). */
  responseBytes?: number | [number, number];
  concurrency?: number;
  ipv6?: boolean;
}

export interface UdpOptions {
  packets: number;
  /** Datagram payload size, or [min, max] (default [32, 1400]). */
  size?: number | [number, number];
  ratePps?: number;
  ipv6?: boolean;
}

export interface PingOptions {
  count: number;
  size?: number;
  intervalMs?: number;
  ipv6?: boolean;
}

/**
 * Whether this machine can run the lab: null when it can, otherwise why not (for tests to skip with).
 */
export function labUnavailableReason(): string | null {
  const uid = process.getuid?.() ?? -1;
  if (uid !== 0) return `root (uid ${uid}) for network namespaces and veth pairs`;
  for (const tool of ["ip", "tcpdump", "ethtool"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" }).status !== 0) {
      return `${tool} (run make setup)`;
    }
  }
  if (spawnSync("ip", ["netns", "list"], { stdio: "ignore" }).status !== 0) return "a working `ip netns`";
  return null;
}

let labCount = 0;
const HTTP_PORT = 8080;

/** Two network namespaces joined by a veth pair, with real kernel traffic between them. */
export class Lab {
  readonly name: string;
  readonly a: Endpoint;
  readonly b: Endpoint;
  private readonly processes = new Set<LabProcess>();
  private httpServer: Promise<LabProcess> | null = null;
  private destroyed = false;

  private constructor(name: string, a: Endpoint, b: Endpoint) {
    this.name = name;
    this.a = a;
    this.b = b;
  }

  /** Creates the namespaces, the veth pair, addresses (IPv4 and IPv6) and turns offloads off. */
  static create(options: LabOptions = {}): Lab {
    const reason = labUnavailableReason();
    if (reason) throw new Error(`the traffic lab needs ${reason}`);
    cleanupStaleLabs();
    const n = labCount++;
    const name = `${NETNS_PREFIX}${process.pid}-${n}`;
    const net = (n % 250) + 1;
    const tag = `sl${process.pid.toString(36)}${n.toString(36)}`;
    const a: Endpoint = {
      netns: `${name}-a`,
      iface: `${tag}a`,
      ipv4: `10.249.${net}.1`,
      ipv6: `fd00:249:${net}::1`,
    };
    const b: Endpoint = {
      netns: `${name}-b`,
      iface: `${tag}b`,
      ipv4: `10.249.${net}.2`,
      ipv6: `fd00:249:${net}::2`,
    };
    const lab = new Lab(name, a, b);
    try {
      for (const end of [a, b]) {
        runSync("ip", ["netns", "add", end.netns]);
        ownNamespace(end.netns);
      }
      runSync("ip", ["link", "add", a.iface, "type", "veth", "peer", "name", b.iface]);
      for (const end of [a, b]) {
        runSync("ip", ["link", "set", end.iface, "netns", end.netns]);
        const ns = ["-n", end.netns];
        runSync("ip", [...ns, "link", "set", "lo", "up"]);
        runSync("ip", [...ns, "link", "set", end.iface, "mtu", String(options.mtu ?? 1500), "up"]);
        runSync("ip", [...ns, "addr", "add", `${end.ipv4}/24`, "dev", end.iface]);
        runSync("ip", [...ns, "-6", "addr", "add", `${end.ipv6}/64`, "dev", end.iface, "nodad"]);
        // Offloads would hand tcpdump 64 KiB super-frames and wrong checksums; real wires do neither.
        runQuietly("ip", [
          "netns",
          "exec",
          end.netns,
          "ethtool",
          "-K",
          end.iface,
          "tso",
          "off",
          "gso",
          "off",
          "gro",
          "off",
          "tx",
          "off",
          "rx",
          "off",
        ]);
      }
    } catch (error) {
      lab.destroySync();
      throw error;
    }
    return lab;
  }

  /** Starts `command` inside a namespace; the lab kills it on destroy. */
  spawn(on: Endpoint, command: string, args: string[]): LabProcess {
    if (this.destroyed) throw new Error(`lab ${this.name} is destroyed`);
    const proc = startProcess("ip", ["netns", "exec", on.netns, command, ...args]);
    ownChild(proc.child);
    this.processes.add(proc);
    void proc.exited.then(() => this.processes.delete(proc));
    return proc;
  }

  /** Runs `command` inside a namespace to completion and returns its stdout. */
  async run(on: Endpoint, command: string, args: string[]): Promise<string> {
    const proc = this.spawn(on, command, args);
    const code = await proc.exited;
    if (code !== 0)
      throw new Error(`${command} ${args.join(" ")} in ${on.netns} exited ${code}: ${proc.stderr().trim()}`);
    return proc.stdout();
  }

  /** Starts tcpdump on one side, writing `path`; resolves once it is listening. */
  async capture(path: string, options: CaptureOptions = {}): Promise<LabCapture> {
    const end = options.on === "a" ? this.a : this.b;
    const args = ["-i", end.iface, "-w", path, "-n", "-Z", "root"];
    args.push("-s", String(options.snaplen ?? 262144), "-B", String(options.bufferKiB ?? 65536));
    if (options.precision === "nano") args.push("--time-stamp-precision", "nano");
    if (options.immediate) args.push("--immediate-mode");
    if (options.filter) args.push(options.filter);
    const settleMs = options.immediate ? 200 : 1200;
    const proc = this.spawn(end, "tcpdump", args);
    await proc.waitFor(/listening on/);
    return {
      path,
      async stop() {
        // tcpdump reads the kernel ring in blocks retired every second (its buffer timeout); SIGINT
        // drops a block not yet retired. Waiting past the timeout gets those packets into the file.
        await new Promise((resolve) => setTimeout(resolve, settleMs));
        await proc.stop("SIGINT");
        const count = (label: string): number =>
          Number(new RegExp(`(\\d+) packets? ${label}`).exec(proc.stderr())?.[1] ?? NaN);
        return {
          packets: count("captured"),
          receivedByFilter: count("received by filter"),
          droppedByKernel: count("dropped by kernel"),
        };
      },
    };
  }

  /** HTTP requests from b to a web server on a, over keep-alive connections. */
  async http(options: HttpOptions): Promise<{ requests: number; bytes: number }> {
    await this.startHttpServer();
    const [min, max] = range(options.responseBytes ?? [200, 256 * 1024]);
    const host = options.ipv6 ? `[${this.a.ipv6}]` : this.a.ipv4;
    const plan = {
      url: `http://${host}:${HTTP_PORT}`,
      requests: options.requests,
      min,
      max,
      concurrency: options.concurrency ?? 4,
    };
    return this.runScript("http-load", plan);
  }

  /** UDP datagrams from b to a port nothing listens on (a answers with rate-limited ICMP unreachables). */
  async udp(options: UdpOptions): Promise<{ packets: number; bytes: number }> {
    const [min, max] = range(options.size ?? [32, 1400]);
    const plan = {
      host: options.ipv6 ? this.a.ipv6 : this.a.ipv4,
      port: 9,
      packets: options.packets,
      min,
      max,
      pps: options.ratePps ?? 20_000,
    };
    return this.runScript("udp-blast", plan);
  }

  // Runs one of the traffic programs on b with its plan as JSON and parses the JSON line it prints.
  private async runScript<T>(name: "http-load" | "udp-blast", plan: object): Promise<T> {
    return JSON.parse(await this.run(this.b, process.execPath, [scriptPath(name), JSON.stringify(plan)]));
  }

  /** ICMP (or ICMPv6) echo from b to a with iputils ping. */
  async ping(options: PingOptions): Promise<{ transmitted: number; received: number }> {
    const interval = ((options.intervalMs ?? 10) / 1000).toFixed(3);
    const args = ["-q", "-c", String(options.count), "-i", interval, "-s", String(options.size ?? 56)];
    if (options.ipv6) args.push("-6");
    const out = await this.run(this.b, "ping", [...args, options.ipv6 ? this.a.ipv6 : this.a.ipv4]);
    const match = /(\d+) packets transmitted, (\d+) received/.exec(out);
    return { transmitted: Number(match?.[1] ?? 0), received: Number(match?.[2] ?? 0) };
  }

  /**
   * One round of mixed traffic: web browsing (many small objects), a bulk download, UDP and ping,
   * over IPv4 and IPv6. `round` varies sizes and address families between rounds.
   */
  async mixedRound(round = 0): Promise<void> {
    const ipv6 = round % 3 === 1;
    await Promise.all([
      this.http({ requests: 600, responseBytes: [100, 24 * 1024], concurrency: 8, ipv6 }),
      this.http({ requests: 2, responseBytes: [2 << 20, 8 << 20], concurrency: 2, ipv6: !ipv6 }),
      this.udp({ packets: 6000, size: [20, 600], ratePps: 40_000, ipv6: round % 2 === 0 }),
      this.ping({ count: 40, intervalMs: 5, size: 56 + ((round * 97) % 1400), ipv6 }),
    ]);
  }

  /** Stops every process and removes the namespaces (and with them the veth pair). Idempotent. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    await Promise.all([...this.processes].map((p) => p.stop("SIGTERM", 2000)));
    this.destroySync();
  }

  private destroySync(): void {
    this.destroyed = true;
    for (const p of this.processes) p.child.kill("SIGKILL");
    for (const end of [this.a, this.b]) {
      runQuietly("ip", ["netns", "del", end.netns]);
      releaseNamespace(end.netns);
    }
  }

  private startHttpServer(): Promise<LabProcess> {
    this.httpServer ??= (async () => {
      const server = this.spawn(this.a, process.execPath, [scriptPath("http-server"), String(HTTP_PORT)]);
      await server.waitFor(/listening on/);
      return server;
    })();
    return this.httpServer;
  }
}

function range(value: number | [number, number]): [number, number] {
  return typeof value === "number" ? [value, value] : value;
}

/** Creates a lab; remember to destroy() it (or use withLab). */
export async function createLab(options: LabOptions = {}): Promise<Lab> {
  return Lab.create(options);
}

/** Runs `fn` in a fresh lab and always removes the lab afterwards, also when `fn` throws. */
export async function withLab<T>(fn: (lab: Lab) => Promise<T>, options: LabOptions = {}): Promise<T> {
  const lab = Lab.create(options);
  try {
    return await fn(lab);
  } finally {
    await lab.destroy();
  }
}

/** Options for makeLabCapture. */
export interface LabCaptureOptions {
  /** Stop once the capture file holds at least this many bytes. */
  bytes: number;
  snaplen?: number;
  precision?: "micro" | "nano";
}

/** Makes a realistic capture of at least `bytes` bytes: a lab, mixed traffic, tcpdump on one side. */
export async function makeLabCapture(
  path: string,
  options: LabCaptureOptions,
): Promise<CaptureStats & { path: string; bytes: number; seconds: number }> {
  const started = performance.now();
  return withLab(async (lab) => {
    const capture = await lab.capture(path, {
      ...(options.snaplen !== undefined && { snaplen: options.snaplen }),
      ...(options.precision !== undefined && { precision: options.precision }),
    });
    const size = (): number => (existsSync(path) ? statSync(path).size : 0);
    for (let round = 0; size() < options.bytes; round++) await lab.mixedRound(round);
    const stats = await capture.stop();
    return { path, ...stats, bytes: size(), seconds: (performance.now() - started) / 1000 };
  });
}
