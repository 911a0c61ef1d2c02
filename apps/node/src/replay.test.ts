import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLab, type Lab, labUnavailableReason } from "@sluice/testlab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { framesOf, labPieces, macOf } from "./testing/lab-fixture.js";
import { CLI } from "./testing/node-process.js";

const reason = labUnavailableReason() ?? (existsSync(CLI) ? null : `${CLI} built (npx tsup)`);
if (reason) console.warn(`skipping sluice-node replay tests: they need ${reason}`);

let root = "";
let lab: Lab;
let pieces: string[] = [];
let own = "";

beforeAll(async () => {
  if (reason) return;
  root = mkdtempSync(join(tmpdir(), "node-replay-"));
  mkdirSync(join(root, "fixture"));
  pieces = await labPieces(join(root, "fixture"), 2, 200);
  lab = await createLab();
  // Frames the lab's own kernels send (ARP, IPv6 neighbour discovery) are not replayed ones.
  own = `not ether src ${await macOf(lab, "a")} and not ether src ${await macOf(lab, "b")}`;
});
afterAll(async () => {
  await lab?.destroy();
  if (root) rmSync(root, { recursive: true, force: true });
});

function replay(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return run(process.execPath, [CLI, "replay", ...args]);
}

/** `ip netns exec NS sluice-node replay …`, as tcpreplay is run: the replay injects from its own process. */
function replayInside(
  netns: string,
  args: string[],
  started?: (child: ChildProcess) => void,
  packetIo = "native",
): Promise<{ code: number | null; out: string; err: string }> {
  return run("ip", ["netns", "exec", netns, process.execPath, CLI, "replay", ...args], started, {
    SLUICE_PACKET_IO: packetIo,
  });
}

function run(
  command: string,
  args: string[],
  started?: (child: ChildProcess) => void,
  env: Record<string, string> = {},
): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  started?.(child);
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  child.stderr.on("data", (d) => {
    err += d;
  });
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, out, err })));
}

describe.skipIf(reason !== null)("sluice-node replay", () => {
  it("sends exactly the files' frames, in order, and prints the totals", async () => {
    const capture = await lab.capture(join(root, "b1.pcap"), { filter: own });
    const result = await replay(
      "--interface",
      lab.a.iface,
      "--netns",
      lab.a.netns,
      "--speed",
      "topspeed",
      pieces[0]!,
      pieces[1]!,
    );
    await capture.stop();
    expect(result.code, result.err).toBe(0);
    const expected = [...framesOf(pieces[0]!), ...framesOf(pieces[1]!)];
    expect(framesOf(capture.path)).toEqual(expected);
    expect(result.out).toMatch(
      new RegExp(
        `^sent ${expected.length} packets .* from 2 files in .*; skipped 0, truncated 0, failed 0\\n$`,
      ),
    );
  });

  // SLUICE_PACKET_IO: the packet-io addon ("native") and the node_pcap fallback ("pcap") alike.
  it.each(
    ["native", "pcap"].flatMap((packetIo) => [
      ["topspeed", [], packetIo],
      ["20x", ["--timer", "spin"], packetIo],
      ["20x", ["--timer", "sleep"], packetIo],
    ]),
  )("injects from its own process inside the namespace, at %s %s (%s)", async (speed, extra, packetIo) => {
    const name = `inside-${speed}-${(extra as string[]).join("")}-${packetIo}.pcap`;
    const capture = await lab.capture(join(root, name), { filter: own });
    const result = await replayInside(
      lab.a.netns,
      [
        "--interface",
        lab.a.iface,
        "--speed",
        speed as string,
        ...(extra as string[]),
        pieces[0]!,
        pieces[1]!,
      ],
      undefined,
      packetIo as string,
    );
    await capture.stop();
    expect(result.code, result.err).toBe(0);
    // No fallback line: each path was asked for by name.
    expect(result.err).not.toContain("node_pcap");
    expect(framesOf(capture.path)).toEqual([...framesOf(pieces[0]!), ...framesOf(pieces[1]!)]);
  });

  it("with --qdisc-bypass sends every frame past the interface's qdisc to the peer", async () => {
    const unlimit = await lab.rateLimit("a", "1mbit");
    try {
      const capture = await lab.capture(join(root, "bypass.pcap"), { filter: own });
      const started = performance.now();
      const result = await replayInside(lab.a.netns, [
        "--interface",
        lab.a.iface,
        "--speed",
        "topspeed",
        "--qdisc-bypass",
        pieces[0]!,
      ]);
      const ms = performance.now() - started;
      await capture.stop();
      expect(result.code, result.err).toBe(0);
      expect(framesOf(capture.path)).toEqual(framesOf(pieces[0]!));
      // Through the 1 Mbit/s qdisc the file would take seconds.
      expect(ms).toBeLessThan(1500);
    } finally {
      await unlimit();
    }
  });

  it.each(["native", "pcap"].flatMap((packetIo) => ["spin", "sleep"].map((timer) => [timer, packetIo])))(
    "stops at a record boundary on SIGINT while injecting from its own process (timer %s, %s)",
    async (timer, packetIo) => {
      const capture = await lab.capture(join(root, `sigint-${timer}-${packetIo}.pcap`), { filter: own });
      // 200 packets at 200 pps: a second of replay. Once it says it is replaying (its handlers are in
      // place), it has no child process (it injects itself), and SIGINT 0.3 s later stops it.
      let children = "unknown";
      const args = ["--interface", lab.a.iface, "--pps", "200", "--timer", timer, pieces[0]!];
      const result = await replayInside(
        lab.a.netns,
        args,
        (child) => {
          child.stderr!.once("data", () => {
            children = spawnSync("pgrep", ["-P", String(child.pid)], { encoding: "utf8" }).stdout.trim();
            setTimeout(() => child.kill("SIGINT"), 300);
          });
        },
        packetIo,
      );
      await capture.stop();
      expect(children).toBe("");
      expect(result.code, result.err).toBe(1);
      expect(result.err).toContain("stopped (signal) at a record boundary");
      const sent = Number(/^sent (\d+) packets/.exec(result.out)?.[1]);
      const all = framesOf(pieces[0]!);
      expect(sent).toBeGreaterThan(0);
      expect(sent).toBeLessThan(all.length);
      expect(framesOf(capture.path)).toEqual(all.slice(0, sent));
    },
  );

  it("reports a malformed file, still replays the others, and exits 1", async () => {
    const bad = join(root, "bad.pcap");
    writeFileSync(bad, "this is not a capture");
    const capture = await lab.capture(join(root, "b2.pcap"), { filter: own });
    const result = await replay(
      "--interface",
      lab.a.iface,
      "--netns",
      lab.a.netns,
      "--speed",
      "50x",
      bad,
      pieces[0]!,
    );
    await capture.stop();
    expect(result.code).toBe(1);
    expect(result.err).toContain(`${bad}: bad-file`);
    expect(framesOf(capture.path)).toEqual(framesOf(pieces[0]!));
    expect(result.out).toContain("(1 failed)");
  });

  it("writes the files as one pcap stream into a FIFO with --fifo", async () => {
    const fifo = join(root, "one-shot.fifo");
    const out = join(root, "one-shot.pcap");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const reader = spawn("sh", ["-c", `exec cat "${fifo}" > "${out}"`], { stdio: "ignore" });
    const readerDone = new Promise((resolve) => reader.on("exit", resolve));
    const result = await replay("--fifo", fifo, "--speed", "topspeed", pieces[1]!, pieces[0]!);
    await readerDone;
    expect(result.code, result.err).toBe(0);
    expect(framesOf(out)).toEqual([...framesOf(pieces[1]!), ...framesOf(pieces[0]!)]);
  });

  it("exits 1 naming the interface when it does not exist", async () => {
    const result = await replay("--interface", "nosuch0", "--netns", lab.a.netns, pieces[0]!);
    expect(result.code).toBe(1);
    expect(result.err).toContain("nosuch0");
  });
});
