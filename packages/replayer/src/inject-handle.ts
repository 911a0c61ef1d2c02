// A libpcap handle used only to inject, in the inject child (or in the caller's process, see inProcess).
// node_pcap's open_live also captures: a filter that matches nothing and never polling keep the capture
// side silent, so no JS runs per packet; the child exits to close the handle (session.close() only
// breaks a capture loop), and in process the handle lives as long as the process.
import { readFileSync } from "node:fs";
import { type NativeSession, pcapBinding, pcapLinkType } from "@sluice/capture/binding";
import { copyBytes } from "./batch-builder.js";
import { ReplayError } from "./errors.js";

/** BPF that no frame passes: the handle captures nothing, so the ring stays empty. */
export const MATCH_NOTHING = "less 1";

/** What sysfs says about an interface (inside the child's namespace). */
export interface InterfaceState {
  exists: boolean;
  up: boolean;
  operstate: string;
  mtu: number;
  /** ARPHRD_ETHER: frames carry a 14-byte Ethernet header. */
  ethernet: boolean;
}

/** Reads /sys/class/net/IF: whether it exists, is administratively up, its MTU and type. */
export function interfaceState(name: string): InterfaceState {
  const sys = `/sys/class/net/${name}`;
  try {
    const flags = Number.parseInt(readFileSync(`${sys}/flags`, "utf8").trim(), 16);
    return {
      exists: true,
      up: (flags & 1) === 1,
      operstate: readFileSync(`${sys}/operstate`, "utf8").trim(),
      mtu: Number(readFileSync(`${sys}/mtu`, "utf8").trim()),
      ethernet: readFileSync(`${sys}/type`, "utf8").trim() === "1",
    };
  } catch {
    return { exists: false, up: false, operstate: "missing", mtu: 0, ethernet: false };
  }
}

/** Largest frame injectRange takes (the pcap-format decoder's record limit, plus room). */
const MAX_FRAME = 256 * 1024 + 64;

/** An open inject handle on one interface. */
export class InjectHandle {
  private readonly scratch = Buffer.allocUnsafe(MAX_FRAME);
  // One view of `scratch` per frame length, made once: sending allocates nothing per frame, so the
  // garbage collector has no reason to pause between paced sends.
  private readonly views: (Buffer | undefined)[] = [];

  private constructor(
    private readonly session: NativeSession,
    readonly linkType: number,
  ) {}

  /** Opens `name` for injecting; throws ReplayError with the reason libpcap's words point to. */
  static open(name: string, bufferTimeoutMs: number): InjectHandle {
    const state = interfaceState(name);
    if (!state.exists) {
      throw new ReplayError("no-such-interface", `interface "${name}" does not exist`, { interface: name });
    }
    const session = new (pcapBinding().PcapSession)();
    let linkTypeName: string;
    try {
      linkTypeName = session.open_live(
        name,
        MATCH_NOTHING,
        1024 * 1024,
        128,
        "",
        () => {},
        false,
        Math.max(1, bufferTimeoutMs),
        () => {},
        false,
      );
    } catch (error) {
      throw openError(name, error);
    }
    return new InjectHandle(session, pcapLinkType(linkTypeName) ?? -1);
  }

  /** Sends one frame; throws when libpcap's inject fails (node_pcap gives no errno). */
  inject(frame: Uint8Array): void {
    this.session.inject(frame);
  }

  /** Sends the frame at `buf[start, start + length)` through a reused view (see `views`). */
  injectRange(buf: Uint8Array, start: number, length: number): void {
    let view = this.views[length];
    if (view === undefined) {
      view = this.scratch.subarray(0, length);
      this.views[length] = view;
    }
    copyBytes(buf, this.scratch, 0, start, length);
    this.session.inject(view);
  }
}

function openError(name: string, error: unknown): ReplayError {
  const libpcap = error instanceof Error ? error.message : String(error);
  if (/not permitted|permission/i.test(libpcap)) {
    return new ReplayError(
      "permission-denied",
      `injecting on "${name}" needs CAP_NET_RAW: run as root or grant it (setcap cap_net_raw+eip $(command -v node)); libpcap said: ${libpcap}`,
      { interface: name, libpcap },
    );
  }
  if (/no such device|doesn't exist|does not exist/i.test(libpcap)) {
    return new ReplayError("no-such-interface", `interface "${name}" does not exist: ${libpcap}`, {
      interface: name,
      libpcap,
    });
  }
  if (/not up|network is down/i.test(libpcap)) {
    return new ReplayError("interface-down", `interface "${name}" is down: ${libpcap}`, {
      interface: name,
      libpcap,
    });
  }
  return new ReplayError("inject-failed", `libpcap could not open "${name}" for injecting: ${libpcap}`, {
    interface: name,
    libpcap,
  });
}
