import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { missingTools } from "@sluice/testlab";
import { describe, expect, it } from "vitest";
import { type Output, ReplayError, Replayer, type ReplayerOptions } from "./index.js";
import { frame, hex, readFile, writeCapture } from "./testing/capture-files.js";
import { FakeWire } from "./testing/fake-output.js";

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
    [{ output: { type: "interface", interface: "lo", packetIo: "dpdk" } }, "output.packetIo"],
    [{ output: { type: "interface", interface: "lo", qdiscBypass: "yes" } }, "output.qdiscBypass"],
    [
      { output: { type: "interface", interface: "lo", packetIo: "pcap", qdiscBypass: true } },
      "output.qdiscBypass",
    ],
  ])("rejects %j with bad-option naming %s", (options, option) => {
    const error = bad(options);
    expect(error.reason).toBe("bad-option");
    expect(error.code).toBe("ERR_SLUICE_REPLAY");
    expect(error.detail["option"]).toBe(option);
  });

  it("hands no file over early to an output of the caller's own, even at topspeed: each is posted once the one ahead finished", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sluice-replayer-custom-"));
    try {
      const files = [30, 3, 20].map((count, n) =>
        writeCapture(
          join(dir, `custom-${n}.pcap`),
          Array.from({ length: count }, (_, i) => ({ data: frame(n * 1000 + i), at: i * 1e-3 })),
        ),
      );
      const wire = new FakeWire();
      const events: string[] = [];
      const open = wire.output().open;
      const r = new Replayer({
        speed: { kind: "topspeed" },
        output: {
          type: "custom",
          name: "recorded",
          open: async (): Promise<Output> => {
            const output = await open();
            return {
              get alive() {
                return output.alive;
              },
              replay(seq, path, onProgress) {
                events.push(`post ${basename(path)}`);
                const outcome = output.replay(seq, path, onProgress);
                void outcome.then(() => events.push(`done ${basename(path)}`));
                return outcome;
              },
              cancel: (seq) => output.cancel(seq),
              close: () => output.close(),
            };
          },
        },
      });
      const stats = await Promise.all(files.map((file) => r.replayFile(file)));
      await r.stop();
      expect(events).toEqual(
        ["custom-0.pcap", "custom-1.pcap", "custom-2.pcap"].flatMap((name) => [
          `post ${name}`,
          `done ${name}`,
        ]),
      );
      expect(stats.map((s) => s.packetsSent)).toEqual([30, 3, 20]);
      expect(wire.frames).toEqual(hex(files.flatMap(readFile)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a stopped Replayer rejects further files with stopped", async () => {
    const r = new Replayer({ output: { type: "fifo", path: "/tmp/never-made.fifo" } });
    await r.stop();
    const error = (await r.replayFile("/nonexistent.pcap").catch((e: unknown) => e)) as ReplayError;
    expect(error.reason).toBe("stopped");
    expect(error.stats?.packetsSent).toBe(0);
  });
});

// The built package, as another user runs it (the inject child runs from dist/ anyway).
const distIndex = fileURLToPath(new URL("../dist/index.js", import.meta.url));
const asNobody = process.getuid?.() === 0 && missingTools("setpriv") === null;

describe.skipIf(!asNobody)("Replayer without CAP_NET_RAW", () => {
  it.each(["native", "pcap"])(
    "start() rejects with permission-denied and says what to grant (%s)",
    (packetIo) => {
      const dir = mkdtempSync(join(tmpdir(), "sluice-replayer-perm-"));
      try {
        const script = join(dir, "start.mjs");
        writeFileSync(
          script,
          `const { Replayer } = await import(${JSON.stringify(pathToFileURL(distIndex).href)});
const r = new Replayer({ output: { type: "interface", interface: "lo", packetIo: ${JSON.stringify(packetIo)} } });
try { await r.start(); console.log(JSON.stringify({ reason: null })); await r.stop(); }
catch (e) { console.log(JSON.stringify({ reason: e.reason, message: e.message })); }
`,
        );
        chmodSync(dir, 0o755);
        chmodSync(script, 0o644);
        const run = spawnSync(
          "setpriv",
          ["--reuid=nobody", "--regid=nogroup", "--clear-groups", process.execPath, script],
          { encoding: "utf8" },
        );
        const result = JSON.parse(run.stdout) as { reason: string; message: string };
        expect(result.reason).toBe("permission-denied");
        expect(result.message).toContain("CAP_NET_RAW");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
