import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { commandExists, labUnavailableReason } from "./availability.js";
import { type CaptureHandle, type CaptureOptions, captureHandle, tcpdumpArgs } from "./capture.js";
import { cleanupStaleLabs, disownNamespace, ownChild, ownNamespace } from "./cleanup.js";
import { LabError } from "./errors.js";
import { labPrefix, MAX_SLOTS } from "./lab-names.js";
import { type LabProcess, runCommand, type StartOptions, startProcess } from "./processes.js";
import { LIFELINE_ENV } from "./script-lifeline.js";
import { type ScriptName, scriptPath } from "./scripts.js";
import {
  checkCount,
  type HttpOptions,
  type HttpResult,
  type MixedOptions,
  type MixedResult,
  type PingOptions,
  type PingResult,
  runMixed,
  sizeRange,
  type UdpOptions,
  type UdpResult,
} from "./traffic.js";

/**
 * One side of the lab: a namespace holding one end of the veth pair and its addresses.
 * Tests address traffic and captures with it.
 */
export interface Endpoint {
  /** Network namespace name, `sl-<pid>-<slot>-a` or `-b`. */
  readonly netns: string;
  /** The veth end inside that namespace. */
  readonly iface: string;
  /** 10.249.<slot>.1 on a, .2 on b (a /24). */
  readonly ipv4: string;
  /** fd00:249:<slot>::1 on a, ::2 on b (a /64). */
  readonly ipv6: string;
}

/** Names one end of the lab. */
export type Side = "a" | "b";

/**
 * How to build a lab.
 * Both are optional: the defaults give an Ethernet-like link.
 */
export interface LabOptions {
  /** A label for messages (default the namespace prefix, `sl-<pid>-<slot>`). */
  name?: string;
  /** MTU of both veth ends (default 1500). */
  mtu?: number;
  /**
   * ACK every TCP segment (route option quickack) instead of Linux's delayed ACKs, which on a fast veth
   * ACK one segment in six or so. Default true: captures get the ACK share of real traffic.
   */
  quickAck?: boolean;
}

/**
 * How lab.exec starts a process.
 * The same as startProcess: a piped stdin, extra environment.
 */
export type ExecOptions = StartOptions;

const HTTP_PORT = 8080;
// Offloads would hand tcpdump 64 KiB super-frames and unfilled checksums; real wires carry neither.
const OFFLOADS = ["tso", "gso", "gro", "tx", "rx"];
const MUST_BE_OFF = [
  "tx-checksumming",
  "tcp-segmentation-offload",
  "generic-segmentation-offload",
  "generic-receive-offload",
];
const slots = new Set<number>();

function takeSlot(): number {
  for (let slot = 1; slot <= MAX_SLOTS; slot++) {
    if (!slots.has(slot)) {
      slots.add(slot);
      return slot;
    }
  }
  throw new LabError("setup-failed", `this process already holds ${MAX_SLOTS} labs; destroy some first`);
}

/**
 * Two network namespaces joined by a veth pair, with real kernel traffic between them.
 * Everything it starts or creates is removed by destroy(), by withLab, or at process exit.
 */
export class Lab {
  readonly name: string;
  readonly a: Endpoint;
  readonly b: Endpoint;
  private readonly slot: number;
  private readonly processes = new Set<LabProcess>();
  private readonly captures = new Set<CaptureHandle>();
  private httpServer: Promise<LabProcess> | null = null;
  private destroying: Promise<void> | null = null;
  private runs = 0;

  private built = { mtu: 1500, quickAck: true };

  private constructor(name: string, slot: number, a: Endpoint, b: Endpoint) {
    this.name = name;
    this.slot = slot;
    this.a = a;
    this.b = b;
  }

  /**
   * Creates the namespaces, the veth pair (created inside them: it never exists in the host's namespace),
   * IPv4 and IPv6 addresses, and turns offloads off. createLab is the same.
   */
  static async create(options: LabOptions = {}): Promise<Lab> {
    const reason = labUnavailableReason();
    if (reason) throw new LabError("unavailable", `the traffic lab needs ${reason}`);
    const mtu = checkCount("mtu", options.mtu ?? 1500, 68);
    await cleanupStaleLabs();
    const slot = takeSlot();
    const prefix = labPrefix(process.pid, slot);
    const endpoint = (side: Side, host: number): Endpoint => ({
      netns: `${prefix}${side}`,
      iface: `veth${slot}${side}`,
      ipv4: `10.249.${slot}.${host}`,
      ipv6: `fd00:249:${slot}::${host}`,
    });
    const lab = new Lab(options.name ?? prefix.slice(0, -1), slot, endpoint("a", 1), endpoint("b", 2));
    try {
      await lab.build(mtu, options.quickAck ?? true);
    } catch (error) {
      await lab.destroy();
      throw new LabError("setup-failed", `could not build lab ${lab.name}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return lab;
  }

  private async build(mtu: number, quickAck: boolean): Promise<void> {
    for (const end of [this.a, this.b]) {
      ownNamespace(end.netns);
      await runCommand("ip", ["netns", "add", end.netns]);
    }
    this.built = { mtu, quickAck };
    await this.link(mtu, quickAck);
  }

  /**
   * Deletes the veth pair (both ends: `ip link del` in b), as an unplugged or removed interface.
   * For tests of what a capture does when its interface disappears; recreateLink() brings it back.
   */
  async deleteLink(): Promise<void> {
    await runCommand("ip", ["-n", this.b.netns, "link", "del", this.b.iface]);
  }

  /** Creates the veth pair again as it was built (names, addresses, offloads off), after deleteLink(). */
  async recreateLink(): Promise<void> {
    await this.link(this.built.mtu, this.built.quickAck);
  }

  private async link(mtu: number, quickAck: boolean): Promise<void> {
    const { a, b } = this;
    const link = ["mtu", String(mtu)];
    await runCommand("ip", [
      ...["link", "add", a.iface, "netns", a.netns, ...link, "type", "veth"],
      ...["peer", "name", b.iface, "netns", b.netns, ...link],
    ]);
    await Promise.all(
      [a, b].map(async (end) => {
        const ns = ["-n", end.netns];
        await runCommand("ip", [...ns, "link", "set", "lo", "up"]);
        await runCommand("ip", [...ns, "addr", "add", `${end.ipv4}/24`, "dev", end.iface]);
        // nodad: the address is usable at once instead of after duplicate detection's second.
        await runCommand("ip", [...ns, "-6", "addr", "add", `${end.ipv6}/64`, "dev", end.iface, "nodad"]);
        await this.offloadsOff(end);
        await runCommand("ip", [...ns, "link", "set", end.iface, "up"]);
        if (quickAck) await this.ackEverySegment(end);
      }),
    );
  }

  // Rewrites the connected routes the kernel made for the lab's subnets, with quickack added.
  private async ackEverySegment(end: Endpoint): Promise<void> {
    const ns = ["-n", end.netns];
    const route = (prefix: string): string[] => [prefix, "dev", end.iface, "proto", "kernel"];
    await runCommand("ip", [
      ...[...ns, "route", "replace", ...route(`10.249.${this.slot}.0/24`)],
      ...["scope", "link", "src", end.ipv4, "quickack", "1"],
    ]);
    await runCommand("ip", [
      ...[...ns, "-6", "route", "replace", ...route(`fd00:249:${this.slot}::/64`)],
      ...["metric", "256", "quickack", "1"],
    ]);
  }

  private async offloadsOff(end: Endpoint): Promise<void> {
    const ethtool = ["netns", "exec", end.netns, "ethtool"];
    await runCommand("ip", [...ethtool, "-K", end.iface, ...OFFLOADS.flatMap((o) => [o, "off"])]);
    const features = await runCommand("ip", [...ethtool, "-k", end.iface]);
    const stillOn = MUST_BE_OFF.filter((f) => new RegExp(`^${f}: on`, "m").test(features));
    if (stillOn.length > 0) throw new Error(`${end.iface} keeps ${stillOn.join(", ")} on`);
  }

  /**
   * The endpoint for a side name (an Endpoint is returned as is).
   * Lets every method take either form.
   */
  endpoint(on: Side | Endpoint): Endpoint {
    if (on === "a") return this.a;
    if (on === "b") return this.b;
    return on;
  }

  /**
   * Starts `command` inside one side's namespace (`ip netns exec`); the lab kills it on destroy.
   * For traffic or servers the built-in generators do not cover.
   */
  exec(
    on: Side | Endpoint,
    command: string,
    args: readonly string[] = [],
    options: ExecOptions = {},
  ): LabProcess {
    if (this.destroying) throw new LabError("destroyed", `lab ${this.name} is destroyed`);
    const proc = startProcess("ip", ["netns", "exec", this.endpoint(on).netns, command, ...args], options);
    ownChild(proc.child);
    this.processes.add(proc);
    void proc.exited.then(() => this.processes.delete(proc));
    return proc;
  }

  /**
   * Runs `command` inside a namespace to completion and returns its stdout; a non-zero exit throws.
   * For one-shot tools (ip, ss, sysctl) inside the lab.
   */
  async run(
    on: Side | Endpoint,
    command: string,
    args: readonly string[] = [],
    options: ExecOptions = {},
  ): Promise<string> {
    const proc = this.exec(on, command, args, options);
    const code = await proc.exited;
    if (code !== 0) {
      const where = this.endpoint(on).netns;
      throw new LabError(
        "command-failed",
        `${command} ${args.join(" ")} in ${where} exited ${code}: ${proc.stderr().trim()}`,
      );
    }
    return proc.stdout();
  }

  /**
   * Starts tcpdump on one side (default b), writing `path`; resolves once it is listening.
   * The capture is real: what the kernel put on the veth, with tcpdump's own drop counters.
   */
  async capture(path: string, options: CaptureOptions = {}): Promise<CaptureHandle> {
    const end = this.endpoint(options.on ?? "b");
    const file = resolve(path);
    const tcpdump = this.exec(end, "tcpdump", tcpdumpArgs(end.iface, file, options));
    try {
      await tcpdump.waitFor(/listening on/);
    } catch (error) {
      await tcpdump.stop("SIGKILL");
      throw new LabError("capture-failed", `tcpdump did not start: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const handle = captureHandle(file, tcpdump, () => this.captures.delete(handle));
    this.captures.add(handle);
    return handle;
  }

  /**
   * HTTP requests from b to a web server on a (started on first use), over keep-alive connections.
   * Returns the requests done and the body bytes received.
   */
  async http(options: HttpOptions): Promise<HttpResult> {
    const requests = checkCount("requests", options.requests);
    const [min, max] = sizeRange("responseBytes", options.responseBytes ?? [0, 256 << 10]);
    const concurrency = checkCount("concurrency", options.concurrency ?? 4, 1);
    await this.startHttpServer();
    const host = options.ipv6 ? `[${this.a.ipv6}]` : this.a.ipv4;
    const plan = { url: `http://${host}:${HTTP_PORT}`, requests, min, max, concurrency, seed: this.runs++ };
    return this.runScript("http-load", plan);
  }

  /**
   * UDP datagrams from b to a: to a closed port (a answers with rate-limited ICMP unreachables), or to a
   * receiver that counts or echoes them.
   */
  async udp(options: UdpOptions): Promise<UdpResult> {
    const packets = checkCount("packets", options.packets);
    const [min, max] = sizeRange("size", options.size ?? [32, 1400]);
    const pps = checkCount("ratePps", options.ratePps ?? 20_000, 1);
    const mode = options.receiver ?? "none";
    const receiver = mode === "none" ? null : await this.startScript(this.a, "udp-sink", [mode]);
    try {
      const port = receiver ? Number(/listening on (\d+)/.exec(receiver.stdout())?.[1]) : 9;
      const host = options.ipv6 ? this.a.ipv6 : this.a.ipv4;
      const plan = { host, port, packets, min, max, pps };
      const sent = await this.runScript<{ packets: number; bytes: number }>("udp-blast", plan);
      if (!receiver) return { ...sent, received: null };
      await receiver.stop("SIGTERM", 2000);
      return { ...sent, received: lastJson<{ received: number }>(receiver.stdout()).received };
    } finally {
      await receiver?.stop("SIGKILL");
    }
  }

  /**
   * ICMP (or ICMPv6) echo from b to a with iputils ping.
   * Throws a "tool-missing" LabError when ping is not installed (mixed traffic skips it instead).
   */
  async ping(options: PingOptions): Promise<PingResult> {
    if (!commandExists("ping")) {
      throw new LabError("tool-missing", "lab.ping needs ping from iputils-ping, which is not installed");
    }
    const count = checkCount("count", options.count, 1);
    const intervalMs = options.intervalMs ?? 10;
    const deadline = Math.ceil((count * intervalMs) / 1000) + 5;
    const args = ["-n", "-q", "-c", String(count), "-i", (intervalMs / 1000).toFixed(3)];
    args.push("-s", String(checkCount("size", options.size ?? 56)), "-w", String(deadline));
    if (options.ipv6) args.push("-6");
    args.push(options.ipv6 ? this.a.ipv6 : this.a.ipv4);
    const ping = this.exec(this.b, "ping", args, { env: { LC_ALL: "C" } });
    const code = await ping.exited;
    const match = /(\d+) packets transmitted, (\d+) received/.exec(ping.stdout());
    // ping exits 1 when replies are missing; that is a result, not a failure.
    if (!match || (code !== 0 && code !== 1)) {
      throw new LabError("command-failed", `ping ${args.join(" ")} exited ${code}: ${ping.stderr().trim()}`);
    }
    return { transmitted: Number(match[1]), received: Number(match[2]) };
  }

  /**
   * Silences both kernels (no IPv6 neighbour discovery or router solicitations) and returns a tcpdump
   * filter that leaves out every frame either veth end sends itself (ARP and the like): what is left on
   * the peer is what a test or bench injected.
   */
  async quietFilter(): Promise<string> {
    const macs: string[] = [];
    for (const end of [this.a, this.b]) {
      await this.run(end, "sysctl", ["-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
      macs.push((await this.run(end, "cat", [`/sys/class/net/${end.iface}/address`])).trim());
    }
    return macs.map((mac) => `not ether src ${mac}`).join(" and ");
  }

  /**
   * Puts a token-bucket qdisc on one side's veth end (`tc qdisc add dev IF root tbf`): frames leave it at
   * `rate` (tc's units, "8mbit") with room for `limit` bytes queued, and a full queue refuses frames
   * (ENOBUFS to a packet socket). Resolves to a function that removes it again.
   */
  async rateLimit(on: Side | Endpoint, rate: string, limit = "10kb"): Promise<() => Promise<void>> {
    const end = this.endpoint(on);
    const qdisc = ["qdisc", "add", "dev", end.iface, "root", "tbf", "rate", rate, "burst", "10kb"];
    await this.run(end, "tc", [...qdisc, "limit", limit]);
    return async () => {
      await this.run(end, "tc", ["qdisc", "del", "dev", end.iface, "root"]);
    };
  }

  /**
   * Web browsing, bulk downloads, UDP and ping at once, over IPv4 and IPv6, until the lab's running capture
   * reaches `targetBytes` or `durationMs` passed (see MixedOptions). The realistic mix for benchmarks.
   */
  mixed(options: MixedOptions = {}): Promise<MixedResult> {
    return runMixed(this, options, () => {
      if (this.captures.size === 0) return null;
      return Math.max(...[...this.captures].map((c) => c.size()));
    });
  }

  /**
   * Stops every process the lab started and removes both namespaces, and with them the veth pair.
   * Idempotent; concurrent calls share one teardown.
   */
  destroy(): Promise<void> {
    this.destroying ??= this.teardown();
    return this.destroying;
  }

  private async teardown(): Promise<void> {
    await Promise.all([...this.processes].map((p) => p.stop("SIGTERM", 2000)));
    await Promise.all(
      [this.a, this.b].map(async ({ netns }) => {
        await runCommand("ip", ["netns", "del", netns]).catch(() => {});
        // Still there? Keep it owned so the exit handler tries again.
        if (!existsSync(`/run/netns/${netns}`)) disownNamespace(netns);
      }),
    );
    slots.delete(this.slot);
  }

  private startHttpServer(): Promise<LabProcess> {
    this.httpServer ??= this.startScript(this.a, "http-server", [String(HTTP_PORT)]).catch((error) => {
      this.httpServer = null;
      throw error;
    });
    return this.httpServer;
  }

  // Starts a long-running traffic program and waits until it says it is listening.
  private async startScript(on: Endpoint, name: ScriptName, args: string[]): Promise<LabProcess> {
    const proc = this.exec(on, process.execPath, [scriptPath(name), ...args], LIFELINE);
    try {
      await proc.waitFor(/listening on/);
    } catch (error) {
      await proc.stop("SIGKILL");
      throw new LabError("command-failed", `${name} did not start: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return proc;
  }

  // Runs a traffic program on b with its plan as JSON and returns the JSON line it prints last.
  private async runScript<T>(name: ScriptName, plan: object): Promise<T> {
    const out = await this.run(this.b, process.execPath, [scriptPath(name), JSON.stringify(plan)], LIFELINE);
    return lastJson<T>(out);
  }
}

// Traffic programs get a stdin pipe that closes when this process dies: they exit with it.
const LIFELINE: ExecOptions = { stdin: "pipe", env: { [LIFELINE_ENV]: "1" } };

function lastJson<T>(output: string): T {
  const line = output.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(line) as T;
  } catch (error) {
    throw new LabError("command-failed", `expected a JSON line, got ${JSON.stringify(output)}`, {
      cause: error,
    });
  }
}

/**
 * Creates a lab (see Lab.create); destroy() it when done, or use withLab.
 * For tests that keep one lab across several cases.
 */
export function createLab(options: LabOptions = {}): Promise<Lab> {
  return Lab.create(options);
}

/**
 * Runs `fn` in a fresh lab and always removes the lab afterwards, also when `fn` throws.
 * The safe default for a test that needs a lab for one case.
 */
export async function withLab<T>(fn: (lab: Lab) => Promise<T>, options: LabOptions = {}): Promise<T> {
  const lab = await Lab.create(options);
  try {
    return await fn(lab);
  } finally {
    await lab.destroy();
  }
}
