import { describe, expect, it } from "vitest";
import { formatTotals, progressBar } from "./progress.js";

describe("replay progress and totals", () => {
  it("draws a bar proportional to the packets sent", () => {
    expect(progressBar("a.pcap", 0, 100, 10)).toBe("[          ]   0% a.pcap 0/100 packets");
    expect(progressBar("a.pcap", 50, 100, 10)).toBe("[====>     ]  50% a.pcap 50/100 packets");
    expect(progressBar("a.pcap", 100, 100, 10)).toBe("[=========>] 100% a.pcap 100/100 packets");
    expect(progressBar("a.pcap", 7, null)).toBe("a.pcap 7 packets");
  });

  it("states packets, files, rate, skipped and failed in the final line", () => {
    const line = formatTotals({
      files: 2,
      filesFailed: 1,
      packetsSent: 1000,
      bytesSent: 1_250_000,
      skipped: 3,
      truncated: 0,
      failed: 2,
      durationMs: 500,
    });
    expect(line).toBe(
      "sent 1000 packets (1.2 MiB) from 2 files (1 failed) in 0.50 s: 2000 pps, 20.0 Mbps; skipped 3, truncated 0, failed 2",
    );
  });
});
