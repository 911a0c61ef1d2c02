import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { commandExists } from "./availability.js";

const run = promisify(execFile);
const MAX_OUTPUT = 1 << 30;

/** True when `name` is on the PATH; tests skip with a reason when an oracle tool is missing. */
export function hasTool(name: string): boolean {
  return commandExists(name);
}

/** The first of `names` that is missing, as a skip reason, or null when all are installed. */
export function missingTools(...names: string[]): string | null {
  const missing = names.filter((n) => !hasTool(n));
  return missing.length === 0 ? null : `missing tools: ${missing.join(", ")} (run make setup)`;
}

/** Runs a tool and returns its stdout; a non-zero exit throws with its stderr. */
export async function tool(name: string, args: string[]): Promise<string> {
  const { stdout } = await run(name, args, { maxBuffer: MAX_OUTPUT, encoding: "utf8" });
  return stdout;
}

/** One frame as tshark sees it: the oracle for counts, lengths and exact timestamps. */
export interface TsharkFrame {
  /** `frame.time_epoch`: "<seconds>.<9 digits>". */
  time: string;
  len: number;
  capLen: number;
  interfaceId: number;
}

/** `tshark -T fields -e frame.time_epoch -e frame.len -e frame.cap_len -e frame.interface_id`. */
export async function tsharkFrames(path: string): Promise<TsharkFrame[]> {
  const out = await tool("tshark", [
    "-n",
    "-r",
    path,
    "-T",
    "fields",
    "-e",
    "frame.time_epoch",
    "-e",
    "frame.len",
    "-e",
    "frame.cap_len",
    "-e",
    "frame.interface_id",
  ]);
  return out
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => {
      const [time = "", len = "", capLen = "", iface = ""] = line.split("\t");
      return { time, len: Number(len), capLen: Number(capLen), interfaceId: Number(iface || 0) };
    });
}

/** Counts the frames tshark's display filter selects (e.g. "tcp", "udp", "icmp"). */
export async function tsharkCount(path: string, displayFilter: string): Promise<number> {
  const out = await tool("tshark", [
    "-n",
    "-r",
    path,
    "-Y",
    displayFilter,
    "-T",
    "fields",
    "-e",
    "frame.number",
  ]);
  return out.split("\n").filter((line) => line.length > 0).length;
}

/** What capinfos reports: packet count and sum of captured lengths. */
export interface CapinfosSummary {
  packets: number;
  dataBytes: number;
}

/** `capinfos -T -r -M -c -d`: machine-readable packet count and data size. */
export async function capinfos(path: string): Promise<CapinfosSummary> {
  const out = await tool("capinfos", ["-T", "-r", "-M", "-c", "-d", path]);
  const fields = out.trim().split("\t");
  return { packets: Number(fields[1]), dataBytes: Number(fields[2]) };
}

/** Runs editcap (e.g. `["-F", "pcapng", in, out]`). */
export async function editcap(args: string[]): Promise<void> {
  await tool("editcap", args);
}

/** Runs mergecap (e.g. `["-F", "pcapng", "-w", out, a, b]`). */
export async function mergecap(args: string[]): Promise<void> {
  await tool("mergecap", args);
}

/**
 * The direction-free sessions of every TCP and UDP packet in a capture, one entry per packet, as tshark
 * decodes them: `"<proto> <a>:<port> <b>:<port>"` with the two ends sorted. The oracle for "each session on
 * one sensor": our own decoder must not judge itself.
 */
export async function tsharkSessions(path: string): Promise<string[]> {
  const out = await tool("tshark", [
    "-n",
    "-r",
    path,
    "-Y",
    "tcp or udp",
    "-T",
    "fields",
    "-E",
    "separator=,",
    ...[
      "ip.src",
      "ipv6.src",
      "ip.dst",
      "ipv6.dst",
      "tcp.srcport",
      "tcp.dstport",
      "udp.srcport",
      "udp.dstport",
    ].flatMap((field) => ["-e", field]),
  ]);
  const sessions: string[] = [];
  for (const line of out.split("\n")) {
    if (line === "") continue;
    const [s4, s6, d4, d6, ts, td, us, ud] = line.split(",");
    const proto = ts ? "tcp" : "udp";
    const ends = [`${s4 || s6}:${ts || us}`, `${d4 || d6}:${td || ud}`].sort();
    sessions.push(`${proto} ${ends.join(" ")}`);
  }
  return sessions;
}
