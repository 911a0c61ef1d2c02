import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { ADDON_ABI, loadAddon, packetIoMode } from "./binding.js";

describe("loading the addon", () => {
  it("loads the addon built at install, and it reports the libpcap it was linked with", () => {
    const status = loadAddon();
    expect(status.reason).toBeNull();
    const version = status.addon!.version();
    expect(version.abi).toBe(ADDON_ABI);
    // tcpdump --version names the system's libpcap: the addon links the same one.
    const tcpdump = execFileSync("tcpdump", ["--version"], { encoding: "utf8" });
    expect(tcpdump).toContain(version.libpcap.split(" (")[0]!);
  });

  it("reads the mode from SLUICE_PACKET_IO, and anything but native or pcap means auto", () => {
    expect(packetIoMode({ SLUICE_PACKET_IO: "pcap" })).toBe("pcap");
    expect(packetIoMode({ SLUICE_PACKET_IO: "native" })).toBe("native");
    expect(packetIoMode({ SLUICE_PACKET_IO: "fast" })).toBe("auto");
    expect(packetIoMode({})).toBe("auto");
  });
});
