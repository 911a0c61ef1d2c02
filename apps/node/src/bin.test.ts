// dist/bin.cjs, the installed executable: `replay` runs from the packages' CommonJS builds, every other
// command through the ES module CLI (dist/cli.js). Both halves are run here as a user runs them.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LinkType, PcapWriter } from "@sluice/pcap-format";
import { type CaptureHandle, createLab, type Lab, labUnavailableReason } from "@sluice/testlab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { framesOf, labPieces, macOf } from "./testing/lab-fixture.js";
import { BIN } from "./testing/node-process.js";
import { USAGE } from "./usage.js";

const built = existsSync(BIN) ? null : `${BIN} built (npx tsup)`;
const reason = built ?? labUnavailableReason();
if (reason) console.warn(`skipping sluice-node executable lab tests: they need ${reason}`);

const root = mkdtempSync(join(tmpdir(), "node-bin-"));
let lab: Lab;
let pieces: string[] = [];
let own = "";
let bigFile = "";

/** 400 000 frames of 60 bytes (made once): long enough at topspeed to be interrupted mid-file. */
function big(): string {
  if (bigFile) return bigFile;
  bigFile = join(root, "big.pcap");
  const writer = PcapWriter.create(bigFile, { linkType: LinkType.ETHERNET });
  const data = Buffer.alloc(60, 0x5a);
  Buffer.from([0x02, 0xbb, 0, 0, 0, 2, 0x02, 0xaa, 0, 0, 0, 1, 0x88, 0xb5]).copy(data, 0);
  for (let i = 0; i < 400_000; i++) {
    data.writeUInt32BE(i, 14);
    writer.writePacket({ seconds: 1_700_000_000, nanoseconds: i * 1000, data });
  }
  writer.flushSync();
  void writer.close();
  return bigFile;
}

afterAll(async () => {
  await lab?.destroy();
  rmSync(root, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

function run(
  command: string,
  args: string[],
  started?: (child: ChildProcess) => void,
  packetIo = "native",
): Promise<Run> {
  const child = spawn(command, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, SLUICE_PACKET_IO: packetIo },
  });
  started?.(child);
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  child.stderr.on("data", (d) => {
    err += d;
  });
  return new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal, out, err })));
}

/** `node dist/bin.cjs ARGS`, as `sluice-node ARGS` runs once installed. */
function bin(...args: string[]): Run {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });
  return { code: result.status, signal: result.signal, out: result.stdout, err: result.stderr };
}

/** What no run may print on stderr: an unhandled rejection or a stack trace. */
const CRASH = /Unhandled|UnhandledPromiseRejection|^\s+at .+:\d+:\d+\)?$/m;

describe.skipIf(built !== null)("sluice-node's executable, every command but replay", () => {
  it("--version prints the package's version", () => {
    const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    expect(bin("--version")).toMatchObject({ code: 0, out: `sluice-node ${version}\n`, err: "" });
  });

  it("--help prints the usage text", () => {
    expect(bin("--help")).toMatchObject({ code: 0, out: USAGE });
  });

  it("check-config accepts a good config and names the path of each problem of a bad one", () => {
    mkdirSync(join(root, "in"), { recursive: true });
    const config = (name: string, fields: Record<string, unknown>) => {
      const path = join(root, `${name}.json`);
      writeFileSync(
        path,
        JSON.stringify({
          incoming: join(root, "in"),
          output: { type: "fifo", path: join(root, "node.fifo") },
          failed: join(root, "failed"),
          stateDir: join(root, "state"),
          ...fields,
        }),
      );
      return path;
    };
    const good = config("good", {});
    expect(bin("check-config", good)).toMatchObject({ code: 0 });
    const bad = config("bad", { failed: "relative", output: { type: "tape" } });
    const result = bin("check-config", bad);
    expect(result.code).toBe(1);
    expect(result.out).toContain(`${bad}: $.failed: must be an absolute path`);
    expect(result.out).toContain(`${bad}: $.output`);
    expect(result.err).not.toMatch(CRASH);
  });

  it("runs through a symbolic link, as npm installs it (the ES module CLI found beside the real file)", () => {
    const link = join(root, "sluice-node");
    symlinkSync(BIN, link);
    expect(spawnSync(link, ["--version"], { encoding: "utf8" })).toMatchObject({
      status: 0,
      stdout: expect.stringMatching(/^sluice-node \d+\.\d+\.\d+\n$/),
    });
    expect(spawnSync(link, ["replay"], { encoding: "utf8" })).toMatchObject({
      status: 2,
      stderr: `sluice-node: replay needs at least one FILE\n\n${USAGE}`,
    });
  });

  it("an unknown command exits 2 with the usage text", () => {
    expect(bin("replya")).toMatchObject({
      code: 2,
      out: "",
      err: `sluice-node: unknown command "replya"\n\n${USAGE}`,
    });
  });
});

describe.skipIf(built !== null)("sluice-node's executable, replay usage errors", () => {
  it.each([
    [[], "replay needs at least one FILE"],
    [["--interface", "x0"], "replay needs at least one FILE"],
    [["f.pcap"], "replay needs exactly one of --interface IF or --fifo PATH"],
    [
      ["--interface", "x0", "--fifo", "/tmp/f", "f.pcap"],
      "replay needs exactly one of --interface IF or --fifo PATH",
    ],
    [["--interface", "x0", "--bogus", "f.pcap"], "Unknown option '--bogus'"],
    [["--interface", "x0", "--pps", "10", "--speed", "2x", "f.pcap"], "give one of --speed, --pps, --mbps"],
    [["--interface", "x0", "--speed", "warp", "f.pcap"], "bad speed:"],
    [
      ["--interface", "x0", "--oversize", "drop", "f.pcap"],
      '--oversize must be skip or truncate, not "drop"',
    ],
    [["--interface", "x0", "--max-gap-ms=-1", "f.pcap"], "--max-gap-ms must be a number of milliseconds ≥ 0"],
    [["--fifo", "/tmp/f", "--timer", "spin", "f.pcap"], "--timer goes with --interface, not --fifo"],
  ])("replay %j exits 2 saying %j, then the usage text", (args, message) => {
    const result = bin("replay", ...args);
    expect(result.code).toBe(2);
    expect(result.out).toBe("");
    expect(result.err.startsWith(`sluice-node: ${message}`)).toBe(true);
    expect(result.err.endsWith(`\n\n${USAGE}`)).toBe(true);
  });
});

describe.skipIf(reason !== null)("sluice-node's executable, replay into a veth pair", () => {
  beforeAll(async () => {
    mkdirSync(join(root, "fixture"));
    pieces = await labPieces(join(root, "fixture"), 3, 200);
    lab = await createLab();
    own = `not ether src ${await macOf(lab, "a")} and not ether src ${await macOf(lab, "b")}`;
  });

  /** `bin.cjs replay ARGS` from inside the sending namespace (in process) or through its child (--netns). */
  /**
   * `bin.cjs replay ARGS` from inside the sending namespace (in process) or through its child (--netns),
   * injecting with `packetIo`.
   */
  function replay(
    where: "in process" | "child",
    args: string[],
    started?: (child: ChildProcess) => void,
    packetIo = "native",
  ) {
    const replayArgs = [BIN, "replay", "--interface", lab.a.iface];
    return where === "in process"
      ? run("ip", ["netns", "exec", lab.a.netns, process.execPath, ...replayArgs, ...args], started, packetIo)
      : run(process.execPath, [...replayArgs, "--netns", lab.a.netns, ...args], started, packetIo);
  }

  it.each([
    ["in process", "native"],
    ["in process", "pcap"],
    ["child", "native"],
    ["child", "pcap"],
  ] as const)(
    "sends three files' frames in order, byte for byte, and says how many (%s, %s)",
    async (where, packetIo) => {
      const capture = await lab.capture(join(root, `three-${where}-${packetIo}.pcap`), { filter: own });
      const result = await replay(where, ["--speed", "topspeed", ...pieces], undefined, packetIo);
      await capture.stop();
      expect(result.code, result.err).toBe(0);
      expect(result.err).not.toMatch(CRASH);
      const expected = pieces.flatMap(framesOf);
      expect(framesOf(capture.path)).toEqual(expected);
      expect(result.out).toMatch(
        new RegExp(
          `^sent ${expected.length} packets .* from 3 files in .*; skipped 0, truncated 0, failed 0\\n$`,
        ),
      );
      // A line per file, in order, each with its own count.
      const lines = result.err.split("\n").filter((line) => / packets, \d+ bytes in /.test(line));
      expect(lines.map((line) => line.slice(0, line.indexOf(" bytes")))).toEqual(
        pieces.map(
          (piece) => `${piece}: 200 packets, ${framesOf(piece).reduce((sum, f) => sum + f.length / 2, 0)}`,
        ),
      );
    },
  );

  it("at topspeed a malformed first file is reported and the files asked for after it still go out whole", async () => {
    const bad = join(root, "bad.pcap");
    writeFileSync(bad, "this is not a capture");
    const capture = await lab.capture(join(root, "bad-first.pcap"), { filter: own });
    const result = await replay("in process", ["--speed", "topspeed", bad, ...pieces]);
    await capture.stop();
    expect(result.code).toBe(1);
    expect(result.err).toContain(`${bad}: bad-file`);
    expect(result.err).not.toMatch(CRASH);
    const expected = pieces.flatMap(framesOf);
    expect(framesOf(capture.path)).toEqual(expected);
    expect(result.out).toMatch(new RegExp(`^sent ${expected.length} packets .* from 4 files \\(1 failed\\)`));
  });

  it("writes the files as one pcap stream into a FIFO (the FIFO output's code required on demand)", async () => {
    const fifo = join(root, "bin.fifo");
    const out = join(root, "bin-fifo.pcap");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const reader = spawn("sh", ["-c", `exec cat "${fifo}" > "${out}"`], { stdio: "ignore" });
    const readerDone = new Promise((resolve) => reader.on("exit", resolve));
    const result = await run(process.execPath, [
      BIN,
      "replay",
      "--fifo",
      fifo,
      "--speed",
      "topspeed",
      ...pieces,
    ]);
    await readerDone;
    expect(result.code, result.err).toBe(0);
    expect(framesOf(out)).toEqual(pieces.flatMap(framesOf));
  });

  /** Sends SIGINT to the replay once `bytes` of frames reached the peer's capture file. */
  function interruptAfter(capture: CaptureHandle, bytes: number) {
    return (child: ChildProcess) => {
      const timer = setInterval(() => {
        if (capture.size() < bytes) return;
        clearInterval(timer);
        child.kill("SIGINT");
      }, 2);
      child.on("exit", () => clearInterval(timer));
    };
  }

  it.each([
    ["in process", "--pps", "100"],
    ["child", "--pps", "100"],
    ["in process", "--speed", "topspeed"],
    ["child", "--speed", "topspeed"],
  ] as const)(
    "SIGINT mid-file stops at a record boundary: exit 1, the file reported stopped, the next not replayed, no stack trace (%s, %s %s)",
    async (where, flag, value) => {
      // Paced: 200 packets at 100 pps, two seconds. Topspeed: 400 000 packets, a second or so, with the
      // next file already handed over.
      const first = flag === "--pps" ? pieces[0]! : big();
      const name = `sigint-${where}-${value}.pcap`;
      const capture = await lab.capture(join(root, name), { filter: own, immediate: true });
      const result = await replay(
        where,
        [flag, value, first, ...pieces.slice(1)],
        interruptAfter(capture, 4096),
      );
      await capture.stop();
      expect(result.code, result.err).toBe(1);
      expect(result.signal).toBeNull();
      expect(result.err).toContain(`${first}: stopped: replaying ${first} was stopped (signal)`);
      for (const later of pieces.slice(1)) expect(result.err).not.toContain(`${later}:`);
      expect(result.err).not.toMatch(CRASH);
      const sent = Number(/^sent (\d+) packets .* from 1 files \(1 failed\)/.exec(result.out)?.[1]);
      const all = framesOf(first);
      expect(sent).toBeGreaterThan(0);
      expect(sent).toBeLessThan(all.length);
      expect(framesOf(capture.path)).toEqual(all.slice(0, sent));
    },
  );
});
