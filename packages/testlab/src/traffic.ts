import { commandExists } from "./availability.js";
import { LabError } from "./errors.js";

/**
 * HTTP requests from b to the lab's web server on a.
 * Keep-alive connections with a spread of response sizes: the TCP most captures are made of.
 */
export interface HttpOptions {
  requests: number;
  /**
   * Body size of each response in bytes, or [min, max] drawn log-uniformly (many small objects, a few large
   * ones); with min 0, one response in eight is headers-only. Default [0, 256 KiB].
   */
  responseBytes?: number | [number, number];
  /** Requests in flight at once, each on its own keep-alive connection (default 4). */
  concurrency?: number;
  /** Use the IPv6 addresses (default IPv4). */
  ipv6?: boolean;
}

/**
 * What an HTTP run did.
 * Lets a test check the traffic happened before it looks at the capture.
 */
export interface HttpResult {
  requests: number;
  /** Response body bytes received. */
  bytes: number;
}

/**
 * UDP datagrams from b to a.
 * Without a receiver a's kernel answers with (rate-limited) ICMP port unreachable, as real networks do.
 */
export interface UdpOptions {
  packets: number;
  /** Payload bytes of each datagram, or [min, max] spread evenly (default [32, 1400]). */
  size?: number | [number, number];
  /** Datagrams per second (default 20000). */
  ratePps?: number;
  /** Use the IPv6 addresses (default IPv4). */
  ipv6?: boolean;
  /** "sink" counts what arrives, "echo" also sends each datagram back; "none" (default) listens nowhere. */
  receiver?: "none" | "sink" | "echo";
}

/**
 * What a UDP run did.
 * `received` shows whether datagrams were lost on the way (null without a receiver).
 */
export interface UdpResult {
  packets: number;
  /** Payload bytes sent. */
  bytes: number;
  received: number | null;
}

/**
 * ICMP (or ICMPv6) echo from b to a with iputils ping.
 * Echo requests and replies of chosen sizes, the ICMP part of a realistic capture.
 */
export interface PingOptions {
  count: number;
  /** ICMP payload bytes, ping -s (default 56). */
  size?: number;
  /** Milliseconds between requests (default 10; below 200 needs root, which the lab has). */
  intervalMs?: number;
  /** Use the IPv6 addresses (default IPv4). */
  ipv6?: boolean;
}

/**
 * What ping reported.
 * Lets a test assert every echo was answered.
 */
export interface PingResult {
  transmitted: number;
  received: number;
}

/**
 * Which kinds of traffic lab.mixed produces; all default to true.
 * Switch one off to make a capture of just the rest.
 */
export interface TrafficMix {
  /** Web browsing: many small responses (0 to 24 KiB) over keep-alive connections. */
  web?: boolean;
  /** Bulk downloads of megabytes: full-size segments and their ACKs. */
  bulk?: boolean;
  /** UDP datagrams of 20 to 600 bytes, alternately to a closed port and to an echo receiver. */
  udp?: boolean;
  /** ICMP echo with varying payload sizes. */
  ping?: boolean;
  /** Send a third of each kind over IPv6. */
  ipv6?: boolean;
}

/**
 * How long lab.mixed runs: until the capture holds targetBytes, until durationMs passed, whichever comes
 * first; with neither, one run of each kind.
 */
export interface MixedOptions {
  /** Stop once the largest running capture of the lab (or, with none, the traffic sent) has this many bytes. */
  targetBytes?: number;
  durationMs?: number;
  mix?: TrafficMix;
}

/**
 * Totals of a mixed run, per kind.
 * `skipped` names kinds that could not run here (e.g. ping not installed) so callers can report it.
 */
export interface MixedResult {
  http: HttpResult;
  udp: UdpResult;
  ping: PingResult;
  seconds: number;
  skipped: string[];
}

/** The generators lab.mixed drives (the lab's own methods). */
export interface TrafficSource {
  http(options: HttpOptions): Promise<HttpResult>;
  udp(options: UdpOptions): Promise<UdpResult>;
  ping(options: PingOptions): Promise<PingResult>;
}

/**
 * [min, max] from a size option.
 * Checked here so a bad size fails with its name instead of inside a child process.
 */
export function sizeRange(name: string, value: number | [number, number]): [number, number] {
  const [min, max] = typeof value === "number" ? [value, value] : value;
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 0 || max < min) {
    throw new LabError("bad-option", `${name} must be a size or [min, max] of integers >= 0, not ${value}`);
  }
  return [min, max];
}

/**
 * Throws unless `value` is a whole number of at least `min`.
 * Counts and rates come from test code; a typo should fail loudly.
 */
export function checkCount(name: string, value: number, min = 0): number {
  if (!Number.isInteger(value) || value < min) {
    throw new LabError("bad-option", `${name} must be an integer >= ${min}, not ${value}`);
  }
  return value;
}

const clamp = (value: number, low: number, high: number): number =>
  Math.round(Math.min(high, Math.max(low, value)));

// How much each run of a kind does: small targets get small runs so they do not overshoot much, and runs
// without a target stay short so durationMs is kept.
function runSizes(target: number | undefined): {
  webRequests: number;
  bulkMax: number;
  udpPackets: number;
  pings: number;
} {
  const t = target ?? 4e6;
  return {
    webRequests: clamp(t / 20_000, 10, 300),
    bulkMax: clamp(t / 8, 64 << 10, 8 << 20),
    udpPackets: clamp(t / 4000, 20, 3000),
    pings: clamp(t / 400_000, 4, 40),
  };
}

/**
 * Runs every kind of traffic in its own loop at once until the stop condition holds (see MixedOptions).
 * `measure` returns the bytes captured so far, or null when nothing captures.
 */
export async function runMixed(
  source: TrafficSource,
  options: MixedOptions,
  measure: () => number | null,
): Promise<MixedResult> {
  const started = performance.now();
  const mix = { web: true, bulk: true, udp: true, ping: true, ipv6: true, ...options.mix };
  const result: MixedResult = {
    http: { requests: 0, bytes: 0 },
    udp: { packets: 0, bytes: 0, received: 0 },
    ping: { transmitted: 0, received: 0 },
    seconds: 0,
    skipped: [],
  };
  if (mix.ping && !commandExists("ping")) {
    mix.ping = false;
    result.skipped.push("ping: not installed (iputils-ping); ICMP comes from port-unreachable replies only");
  }
  if (!mix.web && !mix.bulk && !mix.udp && !mix.ping) {
    throw new LabError("bad-option", "mixed traffic needs at least one kind of traffic in `mix`");
  }
  const { targetBytes, durationMs } = options;
  const sent = (): number => result.http.bytes + result.udp.bytes;
  const finished = (): boolean =>
    (targetBytes !== undefined && (measure() ?? sent()) >= targetBytes) ||
    (durationMs !== undefined && performance.now() - started >= durationMs);
  const once = targetBytes === undefined && durationMs === undefined;
  const sizes = runSizes(targetBytes);
  const lane = async (run: (round: number) => Promise<void>): Promise<void> => {
    for (let round = 0; once ? round < 1 : !finished(); round++) await run(round);
  };
  // A third of the rounds of each kind over IPv6, staggered so both families are always in the air.
  const ipv6 = (round: number, stagger: number): boolean => mix.ipv6 && (round + stagger) % 3 === 1;
  const addHttp = (r: HttpResult): void => {
    result.http.requests += r.requests;
    result.http.bytes += r.bytes;
  };

  await Promise.all([
    mix.web &&
      lane(async (round) =>
        addHttp(
          await source.http({
            requests: sizes.webRequests,
            responseBytes: [0, 24 << 10],
            concurrency: 6,
            ipv6: ipv6(round, 0),
          }),
        ),
      ),
    mix.bulk &&
      lane(async (round) =>
        addHttp(
          await source.http({
            requests: 2,
            responseBytes: [sizes.bulkMax >> 2, sizes.bulkMax],
            concurrency: 2,
            ipv6: ipv6(round, 1),
          }),
        ),
      ),
    mix.udp &&
      lane(async (round) => {
        const r = await source.udp({
          packets: sizes.udpPackets,
          size: [20, 600],
          ratePps: 40_000,
          ipv6: ipv6(round, 2),
          receiver: round % 2 === 0 ? "none" : "echo",
        });
        result.udp.packets += r.packets;
        result.udp.bytes += r.bytes;
        result.udp.received = (result.udp.received ?? 0) + (r.received ?? 0);
      }),
    mix.ping &&
      lane(async (round) => {
        const r = await source.ping({
          count: sizes.pings,
          intervalMs: 5,
          size: 56 + ((round * 397) % 1400),
          ipv6: ipv6(round, 0),
        });
        result.ping.transmitted += r.transmitted;
        result.ping.received += r.received;
      }),
  ]);
  result.seconds = (performance.now() - started) / 1000;
  return result;
}
