import { describe, expect, it } from "vitest";
import { captureOrderTime, captureStartOf, compareCaptureOrder, entryKind } from "./incoming.js";

describe("incoming names", () => {
  it("ignores hidden and temporary names and tells sidecars from captures", () => {
    expect(entryKind(".span0-20261122T103000Z-000001.pcap.partial")).toBe("ignored");
    expect(entryKind("x.pcap.partial")).toBe("ignored");
    expect(entryKind("x.pcap.tmp")).toBe("ignored");
    expect(entryKind(".hidden.pcap")).toBe("ignored");
    expect(entryKind("x.pcap.reason.json")).toBe("ignored");
    expect(entryKind("x.pcap.json")).toBe("sidecar");
    expect(entryKind("span0-20261122T103000Z-000001.pcap")).toBe("capture");
    expect(entryKind("upload.pcapng")).toBe("capture");
  });

  it("reads the capture start from the master's names, also socket-source names", () => {
    expect(captureStartOf("span0-20261122T103000Z-000001.pcap")).toBe(Date.UTC(2026, 10, 22, 10, 30, 0));
    expect(captureStartOf("remote-10.0.0.7-3-20261122T103001Z-000012.pcap")).toBe(
      Date.UTC(2026, 10, 22, 10, 30, 1),
    );
    expect(captureStartOf("upload.pcap")).toBeNull();
  });

  it("orders by capture time first, then by name, whatever the lexical order", () => {
    const names = [
      "zeta-20261122T103000Z-000001.pcap",
      "alpha-20261122T103100Z-000002.pcap",
      "alpha-20261122T102900Z-000009.pcap",
      "beta-20261122T103000Z-000001.pcap",
    ];
    const sorted = names
      .map((name) => ({ name, startMs: captureOrderTime(name, 0) }))
      .sort(compareCaptureOrder)
      .map((f) => f.name);
    expect(sorted).toEqual([
      "alpha-20261122T102900Z-000009.pcap",
      "beta-20261122T103000Z-000001.pcap",
      "zeta-20261122T103000Z-000001.pcap",
      "alpha-20261122T103100Z-000002.pcap",
    ]);
  });

  it("places names without a time by their modification time", () => {
    const t = Date.UTC(2026, 10, 22, 10, 30, 30);
    const sorted = [
      { name: "b-20261122T103100Z-000001.pcap", mtimeMs: 0 },
      { name: "upload.pcap", mtimeMs: t },
      { name: "a-20261122T103000Z-000001.pcap", mtimeMs: 0 },
    ]
      .map(({ name, mtimeMs }) => ({ name, startMs: captureOrderTime(name, mtimeMs) }))
      .sort(compareCaptureOrder)
      .map((f) => f.name);
    expect(sorted).toEqual([
      "a-20261122T103000Z-000001.pcap",
      "upload.pcap",
      "b-20261122T103100Z-000001.pcap",
    ]);
  });
});
