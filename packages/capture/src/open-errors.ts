// The CaptureErrors of opening a live capture, the same for the addon and node_pcap.
import { existsSync, readFileSync } from "node:fs";
import { CaptureError, type CaptureErrorReason } from "./errors.js";
import type { LiveOptions } from "./live-handle.js";

/** The CaptureError for a reason libpcap gave when opening, with what to do about it. */
export function openError(
  reason: CaptureErrorReason,
  options: Pick<LiveOptions, "interface" | "filter">,
  libpcap: string,
  available: () => string[],
): CaptureError {
  const name = options.interface;
  switch (reason) {
    case "permission-denied":
      return new CaptureError(
        "permission-denied",
        `capturing on "${name}" needs CAP_NET_RAW (and CAP_NET_ADMIN for promiscuous mode): run as root or grant them (setcap cap_net_raw,cap_net_admin+eip $(command -v node)); libpcap said: ${libpcap}`,
        { interface: name, libpcap },
      );
    case "no-such-interface": {
      const list = available();
      return new CaptureError(
        "no-such-interface",
        `interface "${name}" does not exist; available: ${list.join(", ") || "none"}`,
        { interface: name, available: list, libpcap },
      );
    }
    case "interface-down":
      return new CaptureError("interface-down", `interface "${name}" is down: ${libpcap}`, {
        interface: name,
        libpcap,
      });
    case "bad-filter":
      return badFilter(options.filter, libpcap);
    default:
      return new CaptureError(reason, `libpcap could not open "${name}": ${libpcap}`, {
        interface: name,
        libpcap,
      });
  }
}

/**
 * Reports, through `report`, the CaptureError for a capture that broke after it started: the interface was
 * deleted (`no-such-interface`) or went down (`interface-down`), as libpcap or the kernel said (`libpcap`,
 * `errno`). Without their word (node_pcap gives none), /sys says: the kernel wakes the capture socket while
 * it takes the interface down, before the name is gone, so it is watched for up to a second.
 */
export function reportLost(
  name: string,
  libpcap: string,
  errno: string | undefined,
  report: (error: CaptureError) => void,
): void {
  const gone = errno === "ENODEV" || /disappeared/i.test(libpcap);
  const down = errno === "ENETDOWN" || /went down/i.test(libpcap);
  if (gone || down) {
    report(lostError(name, libpcap, gone ? "no-such-interface" : "interface-down"));
    return;
  }
  const since = Date.now();
  const look = (): void => {
    if (!existsSync(`/sys/class/net/${name}`)) report(lostError(name, libpcap, "no-such-interface"));
    else if (Date.now() - since < 1000) setTimeout(look, 50);
    else report(lostError(name, libpcap, isDown(name) ? "interface-down" : "open-failed"));
  };
  look();
}

function isDown(name: string): boolean {
  try {
    return readFileSync(`/sys/class/net/${name}/operstate`, "utf8").trim() === "down";
  } catch {
    return false;
  }
}

function lostError(
  name: string,
  libpcap: string,
  reason: "no-such-interface" | "interface-down" | "open-failed",
): CaptureError {
  const what = {
    "no-such-interface": "disappeared (No such device)",
    "interface-down": "went down",
    "open-failed": "failed",
  }[reason];
  const errno = { "no-such-interface": "ENODEV", "interface-down": "ENETDOWN", "open-failed": null }[reason];
  return new CaptureError(
    reason,
    `capture on "${name}" stopped: the interface ${what}; libpcap: ${libpcap}`,
    {
      interface: name,
      libpcap,
      errno,
    },
  );
}

/** A bad-filter CaptureError naming the filter and libpcap's words. */
export function badFilter(filter: string, libpcap: string): CaptureError {
  return new CaptureError("bad-filter", `BPF filter "${filter}" does not compile: ${libpcap}`, {
    filter,
    libpcap,
  });
}
