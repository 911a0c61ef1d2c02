import { spawnSync } from "node:child_process";

/** What setup-interface found or did. */
export interface InterfaceSetupResult {
  name: string;
  /** "dummy", or "veth" (with `peer`) where the kernel has no dummy link type. */
  kind: "dummy" | "veth" | (string & {});
  peer: string | null;
  mtu: number;
  created: boolean;
  /** Why a veth pair was made instead of a dummy interface. */
  fallback: string | null;
}

/** Why setup-interface failed. */
export type InterfaceSetupReason = "ip-failed" | "bad-name" | "not-ours";

const marker = Symbol.for("@sluice/node/InterfaceSetupError");

/** `ip` refused, or the name is taken by an interface of another kind. */
export class InterfaceSetupError extends Error {
  readonly code = "ERR_SLUICE_INTERFACE_SETUP" as const;
  readonly reason: InterfaceSetupReason;
  readonly [marker] = true;

  constructor(reason: InterfaceSetupReason, message: string) {
    super(message);
    this.name = "InterfaceSetupError";
    this.reason = reason;
  }

  static isInstance(error: unknown): error is InterfaceSetupError {
    return typeof error === "object" && error !== null && marker in error;
  }
}

/** Where to run `ip`: a network namespace, or the host's. */
export interface InterfaceTarget {
  name: string;
  netns?: string | undefined;
}

interface LinkInfo {
  ifname: string;
  mtu: number;
  flags: string[];
  link?: string;
  linkinfo?: { info_kind?: string };
}

function ip(target: InterfaceTarget, args: string[]): { ok: boolean; out: string; err: string } {
  const full = target.netns ? ["-n", target.netns, ...args] : args;
  const result = spawnSync("ip", full, { encoding: "utf8" });
  if (result.error) throw new InterfaceSetupError("ip-failed", `cannot run ip: ${result.error.message}`);
  return { ok: result.status === 0, out: result.stdout, err: result.stderr.trim() };
}

function must(target: InterfaceTarget, args: string[]): string {
  const result = ip(target, args);
  if (!result.ok) {
    const where = target.netns ? ` (netns ${target.netns})` : "";
    throw new InterfaceSetupError("ip-failed", `ip ${args.join(" ")}${where}: ${result.err}`);
  }
  return result.out;
}

/** The link called `name`, or null. */
export function linkInfo(target: InterfaceTarget, name = target.name): LinkInfo | null {
  const result = ip(target, ["-j", "-d", "link", "show", "dev", name]);
  if (!result.ok) return null;
  return (JSON.parse(result.out) as LinkInfo[])[0] ?? null;
}

/** The veth peer's name: `<name>-peer`, shortened to fit the kernel's 15 characters. */
export function peerName(name: string): string {
  return `${name.slice(0, 10)}-peer`;
}

function offloadsOff(target: InterfaceTarget, name: string): void {
  // veth segmentation offloads would hand the sensors 64 KiB frames; best effort (ethtool may be missing).
  const args = ["-K", name, "tso", "off", "gso", "off", "gro", "off", "tx", "off", "rx", "off"];
  const command = target.netns
    ? ["ip", ["netns", "exec", target.netns, "ethtool", ...args]]
    : ["ethtool", args];
  spawnSync(command[0] as string, command[1] as string[], { stdio: "ignore" });
}

/**
 * Creates the interface the sensors listen on (a dummy interface; a veth pair `<name>` + `<name>-peer` where
 * the kernel has no dummy link type), sets its MTU and brings it up. Idempotent: an existing interface of
 * either kind gets the MTU and is brought up.
 */
export function setupInterface(target: InterfaceTarget, mtu: number): InterfaceSetupResult {
  const { name } = target;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,14}$/.test(name)) {
    throw new InterfaceSetupError(
      "bad-name",
      `"${name}" is not an interface name (1-15 letters, digits, . _ -)`,
    );
  }
  let existing = linkInfo(target);
  let created = false;
  let fallback: string | null = null;
  if (existing === null) {
    const dummy = ip(target, ["link", "add", name, "type", "dummy"]);
    if (!dummy.ok) {
      fallback = `no dummy link type here (${dummy.err || "ip link add failed"}): made a veth pair`;
      must(target, ["link", "add", name, "type", "veth", "peer", "name", peerName(name)]);
    }
    created = true;
    existing = linkInfo(target);
    if (existing === null)
      throw new InterfaceSetupError("ip-failed", `${name} vanished right after creation`);
  }
  const kind = existing.linkinfo?.info_kind ?? "unknown";
  if (kind !== "dummy" && kind !== "veth") {
    throw new InterfaceSetupError("not-ours", `${name} exists and is a ${kind} interface, not dummy or veth`);
  }
  const peer = kind === "veth" ? (existing.link ?? peerName(name)) : null;
  for (const dev of peer ? [name, peer] : [name]) {
    must(target, ["link", "set", "dev", dev, "mtu", String(mtu)]);
    if (kind === "veth") offloadsOff(target, dev);
    must(target, ["link", "set", "dev", dev, "up"]);
  }
  return { name, kind, peer, mtu, created, fallback };
}

/** Deletes the interface (and so its veth peer). Idempotent: true when there was one to delete. */
export function removeInterface(target: InterfaceTarget): boolean {
  if (linkInfo(target) === null) return false;
  must(target, ["link", "del", "dev", target.name]);
  return true;
}
