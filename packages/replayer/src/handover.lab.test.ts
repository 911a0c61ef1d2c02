// Replayer.replayFile hands a file called for before the one ahead of it finished to the output as soon
// as that one was posted (topspeed into an interface only). What must hold: every frame once, in call
// order, each file's own outcome, stop and abort as before; paced files wait for the one ahead.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { type CaptureHandle, createLab, type Lab, labUnavailableReason, missingTools } from "@sluice/testlab";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type FileReplayStats, type ReplayError, Replayer, type ReplayerOptions } from "./index.js";
import { InjectOutput } from "./inject-output.js";
import { frame, hex, readFile, writeCapture } from "./testing/capture-files.js";

const reason = labUnavailableReason() ?? missingTools("tcpdump");
if (reason) console.warn(`skipping hand-over lab tests: they need ${reason}`);

let dir = "";
let lab: Lab;
let strayFilter = "";

/** A capture of `count` frames numbered from `first` (60-byte frames: many per millisecond). */
function numbered(name: string, first: number, count: number, size = 60): string {
  return writeCapture(
    join(dir, name),
    Array.from({ length: count }, (_, i) => ({ data: frame(first + i, size), at: i * 1e-6 })),
  );
}

function replayer(options: Partial<ReplayerOptions> = {}): Replayer {
  return new Replayer({
    output: { type: "interface", interface: lab.a.iface, netns: lab.a.netns, packetIo: "native" },
    speed: { kind: "topspeed" },
    ...options,
  });
}

async function peerCapture(name: string): Promise<CaptureHandle> {
  return lab.capture(join(dir, name), { on: "b", filter: strayFilter, precision: "nano" });
}

/**
 * Records when the Replayer posts each file to its InjectOutput and when the output's outcome for it
 * came ("post NAME", "done NAME"), in order; the output itself runs as it is.
 */
function watchPosts(): { events: string[]; posted: Set<string> } {
  const events: string[] = [];
  const posted = new Set<string>();
  const replay = InjectOutput.prototype.replay;
  vi.spyOn(InjectOutput.prototype, "replay").mockImplementation(function (
    this: InjectOutput,
    seq,
    path,
    onProgress,
  ) {
    const name = basename(path);
    events.push(`post ${name}`);
    posted.add(name);
    const outcome = replay.call(this, seq, path, onProgress);
    void outcome.then(() => events.push(`done ${name}`));
    return outcome;
  });
  return { events, posted };
}

/** Waits until `condition` holds: the replay got as far as the test needs. */
async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !condition(); ) {
    if (Date.now() > deadline) throw new Error(`still waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe.skipIf(reason !== null)("files called for before the one ahead finished", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "sluice-handover-"));
    lab = await createLab();
    strayFilter = await lab.quietFilter();
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  afterAll(async () => {
    await lab?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("at topspeed go out once each, in call order, each resolving with its own counts, handed over before the one ahead finished", async () => {
    const files = [
      numbered("first.pcap", 0, 30_000),
      numbered("second.pcap", 100_000, 3),
      numbered("third.pcap", 200_000, 5000, 700),
    ];
    const { events } = watchPosts();
    const capture = await peerCapture("three-peer.pcap");
    const r = replayer();
    await r.start();
    const started = performance.now();
    let stats: FileReplayStats[];
    try {
      stats = await Promise.all(files.map((file) => r.replayFile(file)));
    } finally {
      await r.stop();
    }
    const elapsed = performance.now() - started;
    await capture.stop();
    expect(stats.map((s) => [s.path, s.packetsSent, s.bytesSent])).toEqual([
      [files[0], 30_000, 30_000 * 60],
      [files[1], 3, 3 * 60],
      [files[2], 5000, 5000 * 700],
    ]);
    const received = readFile(join(dir, "three-peer.pcap"));
    expect(received.length).toBe(35_003);
    expect(hex(received)).toEqual(hex(files.flatMap(readFile)));
    // Each file was posted while the one ahead of it was still going, and the outcomes came in order.
    const at = (event: string) => events.indexOf(event);
    expect(at("post second.pcap")).toBeLessThan(at("done first.pcap"));
    expect(at("post third.pcap")).toBeLessThan(at("done second.pcap"));
    expect([at("done first.pcap"), at("done second.pcap"), at("done third.pcap")]).toEqual(
      [at("done first.pcap"), at("done second.pcap"), at("done third.pcap")].sort((a, b) => a - b),
    );
    // A file handed over early counts its time from the end of the one ahead: the times do not overlap.
    const total = stats.reduce((sum, s) => sum + s.durationMs, 0);
    expect(total).toBeLessThanOrEqual(elapsed);
    expect(r.stats()).toMatchObject({ files: 3, packetsSent: 35_003 });
  });

  it("stop() while two files wait behind the one sending rejects all three with stopped; nothing of the two goes out", async () => {
    const big = numbered("big.pcap", 0, 600_000);
    const files = [
      big,
      numbered("waiting-1.pcap", 1_000_000, 5000),
      numbered("waiting-2.pcap", 2_000_000, 5000),
    ];
    const { posted } = watchPosts();
    const capture = await peerCapture("stop-pending-peer.pcap");
    const r = replayer();
    await r.start();
    let progress = 0;
    const replays = files.map((file, i) =>
      r
        .replayFile(file, i === 0 ? { onProgress: (p) => (progress = p.packetsSent) } : {})
        .catch((e: unknown) => e as ReplayError),
    );
    await until(
      () => progress > 0 && posted.has("waiting-2.pcap"),
      "the first records sent, all files posted",
    );
    await r.stop();
    const outcomes = (await Promise.all(replays)) as ReplayError[];
    await capture.stop();
    expect(outcomes.map((e) => [e.reason, e.detail["by"]])).toEqual([
      ["stopped", "stop"],
      ["stopped", "stop"],
      ["stopped", "stop"],
    ]);
    const sent = outcomes[0]!.stats!.packetsSent;
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThan(600_000);
    expect(outcomes.slice(1).map((e) => e.stats!.packetsSent)).toEqual([0, 0]);
    const received = readFile(join(dir, "stop-pending-peer.pcap"));
    expect(received.length).toBe(sent);
    expect(hex(received.slice(-3))).toEqual(hex(readFile(big).slice(sent - 3, sent)));
    // A file called for after stop() is refused as well.
    const after = (await r.replayFile(files[1]!).catch((e: unknown) => e)) as ReplayError;
    expect(after.reason).toBe("stopped");
  });

  it("an aborted signal of a file handed over early cancels that file only: the one ahead and the one after go out whole", async () => {
    const files = [
      numbered("ahead.pcap", 0, 200_000),
      numbered("aborted.pcap", 500_000, 5000),
      numbered("after.pcap", 900_000, 4000),
    ];
    const { posted } = watchPosts();
    const capture = await peerCapture("abort-early-peer.pcap");
    const r = replayer();
    await r.start();
    const controller = new AbortController();
    let outcomes: (FileReplayStats | ReplayError)[];
    try {
      const replays = files.map((file, i) =>
        r
          .replayFile(file, i === 1 ? { signal: controller.signal } : {})
          .catch((e: unknown) => e as ReplayError),
      );
      // Aborted once it is in the output's hands, while the file ahead of it is being sent.
      await until(() => posted.has("aborted.pcap"), "the second file posted", 10_000);
      controller.abort();
      outcomes = await Promise.all(replays);
    } finally {
      await r.stop();
    }
    await capture.stop();
    expect((outcomes[0] as FileReplayStats).packetsSent).toBe(200_000);
    const aborted = outcomes[1] as ReplayError;
    expect([aborted.reason, aborted.detail["by"], aborted.stats!.packetsSent]).toEqual([
      "stopped",
      "signal",
      0,
    ]);
    expect((outcomes[2] as FileReplayStats).packetsSent).toBe(4000);
    expect(hex(readFile(join(dir, "abort-early-peer.pcap")))).toEqual(
      hex([...readFile(files[0]!), ...readFile(files[2]!)]),
    );
  });

  it("paced, a file is posted only once the one ahead of it finished", async () => {
    // 20 frames each at 2000 pps: 10 ms a file.
    const files = ["paced-1.pcap", "paced-2.pcap", "paced-3.pcap"].map((name, i) =>
      numbered(name, i * 1000, 20),
    );
    const { events } = watchPosts();
    const capture = await peerCapture("paced-peer.pcap");
    const r = replayer({ speed: { kind: "pps", pps: 2000 } });
    await r.start();
    let stats: FileReplayStats[];
    try {
      stats = await Promise.all(files.map((file) => r.replayFile(file)));
    } finally {
      await r.stop();
    }
    await capture.stop();
    expect(events).toEqual([
      "post paced-1.pcap",
      "done paced-1.pcap",
      "post paced-2.pcap",
      "done paced-2.pcap",
      "post paced-3.pcap",
      "done paced-3.pcap",
    ]);
    expect(stats.map((s) => s.packetsSent)).toEqual([20, 20, 20]);
    expect(hex(readFile(join(dir, "paced-peer.pcap")))).toEqual(hex(files.flatMap(readFile)));
  });

  it("a SIGKILLed inject child fails the file it was sending; the files handed over early go to a new child, in order", async () => {
    const files = [
      numbered("killed-first.pcap", 0, 600_000),
      numbered("killed-next.pcap", 700_000, 300),
      numbered("killed-last.pcap", 800_000, 200),
    ];
    const { posted } = watchPosts();
    const capture = await peerCapture("killed-peer.pcap");
    const r = replayer();
    await r.start();
    const first = r.childPid!;
    let progress = 0;
    const replays = files.map((file, i) =>
      r
        .replayFile(file, i === 0 ? { onProgress: (p) => (progress = p.packetsSent) } : {})
        .catch((e: unknown) => e as ReplayError),
    );
    let outcomes: (FileReplayStats | ReplayError)[];
    try {
      await until(
        () => progress > 0 && posted.has("killed-last.pcap"),
        "the first records sent, the other files posted",
      );
      process.kill(first, "SIGKILL");
      outcomes = await Promise.all(replays);
      expect(r.childPid).not.toBe(first);
    } finally {
      await r.stop();
    }
    await capture.stop();
    const killed = outcomes[0] as ReplayError;
    expect([killed.reason, killed.message]).toEqual(["inject-failed", expect.stringContaining("SIGKILL")]);
    expect(outcomes.slice(1)).toMatchObject([
      { packetsSent: 300, failed: 0 },
      { packetsSent: 200, failed: 0 },
    ]);
    expect(r.stats()).toMatchObject({ files: 2 });
    // The later files went out once each, whole and in order, after what the killed child sent of the first.
    const received = readFile(join(dir, "killed-peer.pcap"));
    const later = hex([...readFile(files[1]!), ...readFile(files[2]!)]);
    expect(hex(received.slice(-500))).toEqual(later);
    expect(hex(received).filter((frame) => later.includes(frame))).toHaveLength(500);
    expect(received.length - 500).toBeLessThan(600_000);
  });
});
