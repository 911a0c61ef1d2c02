// What can be checked about a capture before it is opened: that the interface exists and that the filter
// compiles for its link type. `check-config` and `run` of sluice-master ask these before they open anything.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pcapBinding } from "./binding.js";
import { loadPacketIo } from "./native-live-handle.js";
import { badFilter } from "./open-errors.js";

/** LINKTYPE_ values libpcap gives a Linux interface (pcap-linux.c's map of ARPHRD_ types). */
const LINKTYPE_ETHERNET = 1;
const LINKTYPE_RAW = 101;
const LINKTYPE_LINUX_SLL = 113;

/** Runs `ip [-n NETNS] ARGS...`. */
export function ip(netns: string | undefined, args: string[]): { ok: boolean; out: string; err: string } {
  const full = netns ? ["-n", netns, ...args] : args;
  const result = spawnSync("ip", full, { encoding: "utf8" });
  return {
    ok: result.status === 0,
    out: result.stdout ?? "",
    err: (result.stderr ?? "").trim() || String(result.error ?? ""),
  };
}

/** Whether network namespace `name` exists (`ip netns add` made it). */
export function netnsExists(name: string): boolean {
  return ip(undefined, ["netns", "list"])
    .out.split("\n")
    .some((line) => line.split(" ")[0] === name);
}

/**
 * The LINKTYPE_ a capture on `iface` (in `netns`) gets, or null when there is no such interface: Ethernet
 * for Ethernet, loopback, veth and VXLAN devices, raw IP for tun-like devices, Linux cooked for "any" and
 * the rest (what libpcap falls back to).
 */
export function interfaceLinkType(iface: string, netns?: string): number | null {
  if (iface === "any") return LINKTYPE_LINUX_SLL;
  const shown = ip(netns, ["-o", "link", "show", "dev", iface]);
  if (!shown.ok) return null;
  const kind = /\slink\/(\S+)/.exec(shown.out)?.[1] ?? "";
  if (kind === "ether" || kind === "loopback") return LINKTYPE_ETHERNET;
  if (kind === "none") return LINKTYPE_RAW;
  return LINKTYPE_LINUX_SLL;
}

/**
 * Compiles a BPF filter as libpcap would for a capture of `linkType`, without opening an interface (an
 * empty capture file of that link type is opened instead). Throws CaptureError "bad-filter" with libpcap's
 * words when it does not compile.
 */
export function compileFilter(filter: string, linkType: number = LINKTYPE_ETHERNET): void {
  if (filter.trim() === "") return;
  const dir = mkdtempSync(join(tmpdir(), "sluice-bpf-"));
  try {
    const file = join(dir, "empty.pcap");
    const header = Buffer.alloc(24);
    header.writeUInt32LE(0xa1b2c3d4, 0);
    header.writeUInt16LE(2, 4);
    header.writeUInt16LE(4, 6);
    header.writeUInt32LE(65535, 16);
    header.writeUInt32LE(linkType, 20);
    writeFileSync(file, header);
    const { addon } = loadPacketIo();
    try {
      if (addon) {
        const options = { device: file, offline: true, filter, snaplen: 65535 };
        new addon.CaptureHandle({ ...options, promiscuous: false, bufferSize: 0, timeoutMs: 100 }).close();
      } else {
        new (pcapBinding().PcapSession)().open_offline(
          file,
          filter,
          0,
          65535,
          "",
          () => {},
          false,
          0,
          () => {},
          false,
        );
      }
    } catch (error) {
      const said =
        (error as { libpcap?: string }).libpcap ?? (error instanceof Error ? error.message : String(error));
      throw badFilter(filter, said);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
