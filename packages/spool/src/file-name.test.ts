import { describe, expect, it } from "vitest";
import { backoffDelay } from "./backoff.js";
import * as names from "./file-name.js";
import { numberedName } from "./publish.js";

describe("file names", () => {
  it("ignores hidden and temporary names and tells sidecars from captures", () => {
    expect(names.entryKind(".span0-20261122T103000Z-000001.pcap.partial")).toBe("ignored");
    expect(names.entryKind("x.pcap.partial")).toBe("ignored");
    expect(names.entryKind("x.pcap.tmp")).toBe("ignored");
    expect(names.entryKind(".hidden.pcap")).toBe("ignored");
    expect(names.entryKind("x.pcap.reason.json")).toBe("ignored");
    expect(names.entryKind("x.pcap.json")).toBe("sidecar");
    expect(names.entryKind("span0-20261122T103000Z-000001.pcap")).toBe("capture");
    expect(names.entryKind("upload.pcapng")).toBe("capture");
  });

  it("fills the rotation template and reads a default name back", () => {
    const start = Date.UTC(2026, 10, 22, 10, 30, 0);
    const name = names.fillNameTemplate("{source}-{start}-{seq}", "eth 1", start, 7);
    expect(name).toBe("eth_1-20261122T103000Z-000007.pcap");
    expect(names.parseDefaultName(name!)).toEqual({ source: "eth_1", startMs: start, sequence: 7 });
    expect(names.fillNameTemplate("../{source}", "x", start, 1)).toBeNull();
    expect(names.compactUtc(start)).toBe("20261122T103000Z");
    expect(names.safeLabel("...x/y")).toBe("_x_y");
    expect(names.finalNameOf(".a.pcap.partial")).toBe("a.pcap");
    expect(names.finalNameOf("a.pcap")).toBeNull();
  });

  it("reads the time a name hints at, as Sluice, tcpdump -G patterns and dumpcap write them", () => {
    const t = Date.UTC(2026, 10, 22, 10, 0, 1);
    expect(names.nameTimeHint("span0-20261122T100001Z-000001.pcap")).toBe(t);
    expect(names.nameTimeHint("remote-10.0.0.7-3-20261122T100001Z-000012.pcap")).toBe(t);
    expect(names.nameTimeHint("sensor-20261122T100001Z.pcap")).toBe(t);
    expect(names.nameTimeHint("trace-2026-11-22_10:00:01.pcap")).toBe(t);
    expect(names.nameTimeHint("trace-2026-11-22T10-00-01.pcap")).toBe(t);
    expect(names.nameTimeHint("ring_00042_20261122100001.pcapng")).toBe(t);
    expect(names.nameTimeHint("upload.pcap")).toBeNull();
    expect(names.nameTimeHint("x-20261399T250000.pcap")).toBeNull();
  });

  it("numbers a clashing name before its extension", () => {
    expect(numberedName("x.pcap", 1)).toBe("x-1.pcap");
    expect(numberedName("x.pcap.json", 2)).toBe("x-2.pcap.json");
    expect(numberedName("noext", 3)).toBe("noext-3");
  });
});

describe("backoff", () => {
  it("doubles from the first wait up to the longest", () => {
    const policy = { initialMs: 1000, maxMs: 5000 };
    expect([1, 2, 3, 4, 10].map((n) => backoffDelay(n, policy))).toEqual([1000, 2000, 4000, 5000, 5000]);
  });
});
