import { describe, expect, it } from "vitest";
import { ReplayError, Replayer, type ReplayerOptions } from "./index.js";

const bad = (options: unknown): ReplayError => {
  try {
    new Replayer(options as ReplayerOptions);
  } catch (error) {
    if (ReplayError.isInstance(error)) return error;
    throw error;
  }
  throw new Error("no error");
};

describe("Replayer options", () => {
  it.each([
    [{ output: { type: "tape" } }, "output"],
    [{ output: { type: "interface", interface: "a/b" } }, "output.interface"],
    [{ output: { type: "fifo", path: "" } }, "output.path"],
    [{ output: { type: "fifo", path: "/tmp/f", precision: "pico" } }, "output.precision"],
    [{ output: { type: "fifo", path: "/tmp/f" }, maxGapMs: -1 }, "maxGapMs"],
    [{ output: { type: "fifo", path: "/tmp/f" }, oversize: "drop" }, "oversize"],
    [
      { output: { type: "fifo", path: "/tmp/f" }, macs: { src: "nope", dst: "02:00:00:00:00:01" } },
      "macs.src",
    ],
    [{ output: { type: "fifo", path: "/tmp/f" }, speed: "warp" }, "speed"],
    [{ output: { type: "fifo", path: "/tmp/f" }, retry: { attempts: 1.5 } }, "retry.attempts"],
  ])("rejects %j with bad-option naming %s", (options, option) => {
    const error = bad(options);
    expect(error.reason).toBe("bad-option");
    expect(error.code).toBe("ERR_SLUICE_REPLAY");
    expect(error.detail["option"]).toBe(option);
  });

  it("a stopped Replayer rejects further files with stopped", async () => {
    const r = new Replayer({ output: { type: "fifo", path: "/tmp/never-made.fifo" } });
    await r.stop();
    const error = (await r.replayFile("/nonexistent.pcap").catch((e: unknown) => e)) as ReplayError;
    expect(error.reason).toBe("stopped");
    expect(error.stats?.packetsSent).toBe(0);
  });
});
