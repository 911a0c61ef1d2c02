// Loads the addon once, or says why it cannot be used. Callers pick it with packetIoMode():
// SLUICE_PACKET_IO=pcap forces node_pcap (so the fallback path stays tested), =native insists on the addon,
// anything else uses the addon when it loads. SLUICE_PACKET_IO_ADDON names another build to load instead of
// build/Release/packet_io.node: for tests of the fallback (a missing or mismatched addon) and for trying a
// build elsewhere.
import { createRequire } from "node:module";
import type { NativeAddon } from "./native.js";

/** Which packet I/O a caller asked for: the addon when it loads, the addon or fail, or node_pcap. */
export type PacketIoMode = "auto" | "native" | "pcap";

/** The addon, or why it is not there. */
export type AddonStatus = { addon: NativeAddon; reason: null } | { addon: null; reason: string };

/** The addon interface version this TypeScript expects; a stale build with another one is not used. */
export const ADDON_ABI = 2;

const require = createRequire(import.meta.url);
let status: AddonStatus | null = null;

/** The mode from SLUICE_PACKET_IO, or "auto". */
export function packetIoMode(env: NodeJS.ProcessEnv = process.env): PacketIoMode {
  const value = env["SLUICE_PACKET_IO"];
  return value === "native" || value === "pcap" ? value : "auto";
}

/** Loads the addon on first call; never throws. */
export function loadAddon(): AddonStatus {
  status ??= tryLoad();
  return status;
}

function tryLoad(): AddonStatus {
  if (process.platform !== "linux")
    return { addon: null, reason: `the addon is Linux only (this is ${process.platform})` };
  let addon: NativeAddon;
  try {
    // dist/ and src/ are both one level below the package root, where node-gyp puts build/.
    addon = require(
      process.env["SLUICE_PACKET_IO_ADDON"] || "../build/Release/packet_io.node",
    ) as NativeAddon;
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    return { addon: null, reason: `the addon is not built or does not load (${message})` };
  }
  const abi = typeof addon.version === "function" ? addon.version().abi : undefined;
  if (abi !== ADDON_ABI) {
    return {
      addon: null,
      reason: `the addon was built for interface ${abi}, this code wants ${ADDON_ABI}: rebuild it (npm rebuild @sluice/packet-io)`,
    };
  }
  return { addon, reason: null };
}
