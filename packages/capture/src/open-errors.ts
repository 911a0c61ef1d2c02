// The CaptureErrors of opening a live capture, the same for the addon and node_pcap.
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

/** A bad-filter CaptureError naming the filter and libpcap's words. */
export function badFilter(filter: string, libpcap: string): CaptureError {
  return new CaptureError("bad-filter", `BPF filter "${filter}" does not compile: ${libpcap}`, {
    filter,
    libpcap,
  });
}
