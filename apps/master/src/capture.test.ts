import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readCaptureSync, verifyCapture } from "@sluice/pcap-format";
import { labUnavailableReason, makeLabCapture, missingTools, tsharkSessions, withLab } from "@sluice/testlab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const reason = existsSync(CLI)
  ? (labUnavailableReason() ?? missingTools("tcpreplay", "mergecap"))
  : `${CLI} is not built`;
if (reason) console.warn(`skipping sluice-master capture tests: they need ${reason}`);

type LabEnd = { netns: string; iface: string };
let dir = "";
let sent: string[] = [];
let capture = "";
let testCount = 0;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const hex = (file: string): string[] =>
  readCaptureSync(readFileSync(file)).packets.map((p) => Buffer.from(p.data).toString("hex"));

interface Running {
  child: ChildProcess;
  paths: string[];
  stderr: () => string;
  exited: Promise<number | null>;
}

interface CaptureRun {
  detached?: boolean;
  env?: NodeJS.ProcessEnv;
  /**
   * Give the namespace as --netns, so the capture runs in a child process; by default the command runs
   * inside it (ip netns exec, which execs it: the pid is the command's) and captures in-process.
   */
  child?: boolean;
}

function sluiceCapture(end: LabEnd, args: string[], how: CaptureRun = {}): Running {
  const command = [CLI, "capture", "--interface", end.iface, ...args];
  const child = spawn(
    how.child ? process.execPath : "ip",
    how.child
      ? [...command, "--netns", end.netns]
      : ["netns", "exec", end.netns, process.execPath, ...command],
    {
      stdio: ["ignore", "pipe", "pipe"],
      detached: how.detached ?? false,
      env: { ...process.env, ...how.env },
    },
  );
  const paths: string[] = [];
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => {
    out += d;
    const lines = out.split("\n");
    out = lines.pop()!;
    paths.push(...lines);
  });
  child.stderr!.on("data", (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, paths, stderr: () => err, exited };
}

/** Waits until `condition` holds: the capture did what the test waits for. */
async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !condition(); ) {
    if (Date.now() > deadline) throw new Error(`still waiting for ${what}`);
    await sleep(10);
  }
}

// Resolves once sluice-master says the interface is open.
async function started(run: Running): Promise<void> {
  await until(() => run.stderr().includes("capturing on"), `the capture to start (${run.stderr()})`);
}

function tcpreplay(end: LabEnd, file: string, pps = 20_000): void {
  execFileSync("ip", ["netns", "exec", end.netns, "tcpreplay", "-q", "-i", end.iface, `--pps=${pps}`, file], {
    stdio: "ignore",
  });
}

function silence(...ends: LabEnd[]): void {
  for (const end of ends)
    spawnSync("ip", ["netns", "exec", end.netns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
}

function outDir(): string {
  const out = join(dir, `out${testCount++}`);
  mkdirSync(out);
  return out;
}

// Captures the lab capture replayed at 5000 pps into b with `args`, and stops with SIGTERM once it is sent.
async function replayedThrough(
  lab: { a: LabEnd; b: LabEnd },
  args: string[],
  how: CaptureRun = {},
  settleMs = 300,
): Promise<Running & { out: string }> {
  silence(lab.a, lab.b);
  const out = outDir();
  const run = sluiceCapture(lab.b, ["--out", out, ...args], how);
  await started(run);
  tcpreplay(lab.a, capture, 5000);
  await sleep(settleMs);
  run.child.kill("SIGTERM");
  expect(await run.exited).toBe(0);
  return { ...run, out };
}

function merged(paths: string[], name: string): string {
  const file = join(dir, name);
  execFileSync("mergecap", ["-a", "-F", "pcap", "-w", file, ...paths]);
  return file;
}

describe.skipIf(reason !== null)("sluice-master capture", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "master-capture-"));
    chmodSync(dir, 0o755); // --user nobody must reach its output directory
    capture = join(dir, "lab.pcap");
    await makeLabCapture(capture, { bytes: 3e6 });
    sent = hex(capture);
  });
  afterAll(() => {
    spawnSync("umount", [join(dir, "tiny")]);
    rmSync(dir, { recursive: true, force: true });
  });

  for (const child of [false, true]) {
    it(`cuts the traffic into files that, put back together, are exactly the frames sent (${child ? "capture child" : "in-process"})`, async () => {
      await withLab(async (lab) => {
        const args = ["--rotate-packets", "1000", "--rotate-seconds", "1"];
        const run = await replayedThrough(lab, args, { child }, 1500);
        const { out } = run;
        expect(run.stderr()).toMatch(
          child ? /capturing on \S+ \(packet-io addon\)/ : /capturing on \S+ \(packet-io addon, in-process\)/,
        );
        expect(run.paths.length).toBeGreaterThanOrEqual(sent.length / 1000);
        for (const path of run.paths) {
          expect(path.startsWith(out)).toBe(true);
          expect((await verifyCapture(path)).complete).toBe(true);
          expect(JSON.parse(readFileSync(`${path}.json`, "utf8")).path).toBe(path);
        }
        expect(hex(merged(run.paths, "all.pcap"))).toEqual(sent);
        expect(run.stderr()).toMatch(
          new RegExp(
            `^${sent.length} packets captured, 0 dropped by kernel, .* ${run.paths.length} files$`,
            "m",
          ),
        );
        expect(readdirSync(out).filter((e) => e.startsWith("."))).toEqual([]);
      });
    });
  }

  it("captures the same frames through node_pcap with --packet-io pcap, saying so", async () => {
    await withLab(async (lab) => {
      const run = await replayedThrough(lab, ["--rotate-packets", "2000", "--packet-io", "pcap"]);
      expect(run.stderr()).toMatch(/capturing on \S+ \(node_pcap\)/);
      expect(hex(merged(run.paths, "all-pcap.pcap"))).toEqual(sent);
    });
  });

  it("falls back to node_pcap when the addon does not load, with one warning line saying why", async () => {
    await withLab(async (lab) => {
      const missing = join(dir, "no-such-build", "packet_io.node");
      const run = await replayedThrough(lab, [], { env: { SLUICE_PACKET_IO_ADDON: missing } });
      expect(run.stderr()).toMatch(/capturing on \S+ \(node_pcap\)/);
      const warnings = run
        .stderr()
        .split("\n")
        .filter((line) => line.includes("warning"));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(
        /^sluice-master: warning: capturing with node_pcap, one JavaScript call per packet: the addon is not built or does not load \(.*no-such-build/,
      );
      expect(hex(merged(run.paths, "all-fallback.pcap"))).toEqual(sent);
    });
  });

  it("spreads the interface over --workers fanout children: every frame in one worker's files, no flow in two", async () => {
    await withLab(async (lab) => {
      silence(lab.a, lab.b); // IPv4 traffic only, so the kernels add no frames of their own
      const oracle = await lab.capture(join(dir, "workers-oracle.pcap"), { on: "b" });
      const out = outDir();
      const run = sluiceCapture(lab.b, ["--out", out, "--workers", "3", "--rotate-packets", "700"]);
      await started(run);
      expect(run.stderr()).toMatch(/capturing on \S+ \(packet-io addon, 3 fanout workers\)/);
      await Promise.all([
        lab.http({ requests: 400, responseBytes: [0, 30_000], concurrency: 12 }),
        lab.udp({ packets: 4000, receiver: "echo", ratePps: 10_000 }),
        lab.ping({ count: 50, intervalMs: 5 }),
      ]);
      run.child.kill("SIGTERM");
      expect(await run.exited).toBe(0);
      await oracle.stop();
      const byWorker = [1, 2, 3].map((w) => run.paths.filter((p) => p.includes(`-w${w}-`)));
      expect(byWorker.flat().sort()).toEqual([...run.paths].sort());
      expect(byWorker.every((paths) => paths.length > 0)).toBe(true);
      const files = byWorker.map((paths, i) => merged(paths, `worker-${i + 1}.pcap`));
      // Every frame tcpdump saw on the interface is in exactly one worker's files.
      expect(files.flatMap(hex).sort()).toEqual(hex(oracle.path).sort());
      // No TCP or UDP session (tshark's 5-tuple, both directions as one) in two workers' files.
      const sessions = await Promise.all(files.map(async (f) => new Set(await tsharkSessions(f))));
      for (let i = 0; i < sessions.length; i++) {
        for (let j = i + 1; j < sessions.length; j++) {
          expect([...sessions[i]!].filter((s) => sessions[j]!.has(s))).toEqual([]);
        }
      }
      expect(sessions.reduce((n, s) => n + s.size, 0)).toBeGreaterThan(10);
      expect(run.stderr()).toMatch(/ 0 dropped by kernel, /);
    });
  });

  it("rotates on time on an idle link: the last file appears without another packet", async () => {
    await withLab(async (lab) => {
      const out = outDir();
      const rotation = ["--rotate-seconds", "1", "--align", "--filter", "icmp"];
      const run = sluiceCapture(lab.b, ["--out", out, ...rotation]);
      // A witness on the same aligned seconds that writes a file for every interval, empty or not: its
      // files say which boundaries have passed.
      const witness = sluiceCapture(lab.b, [
        "--out",
        outDir(),
        "--name",
        "witness",
        "--keep-empty",
        ...rotation,
      ]);
      await Promise.all([started(run), started(witness)]);
      // The pings (about 30 ms) go early in a second, so no 1 s boundary falls between them and they
      // make one file: begun late in a second, they were split between two (a flaky failure).
      await sleep((1100 - (Date.now() % 1000)) % 1000);
      await lab.ping({ count: 3, intervalMs: 10 });
      // No packet comes after the pings, and no signal before this: only the timer can finish the file.
      await until(() => run.paths.length === 1, "the file of the pings");
      expect((await verifyCapture(run.paths[0]!)).packets).toBe(6);
      // Idle intervals make no files: two more boundaries pass (the witness writes their empty files).
      const seen = witness.paths.length;
      await until(() => witness.paths.length >= seen + 2, "two more intervals");
      expect(run.paths).toHaveLength(1);
      run.child.kill("SIGINT");
      witness.child.kill("SIGINT");
      expect(await run.exited).toBe(0);
      expect(await witness.exited).toBe(0);
      expect(run.paths).toHaveLength(1);
    });
  });

  it("writes a file for idle intervals with --keep-empty, and aligns starts with --align", async () => {
    await withLab(async (lab) => {
      const out = outDir();
      const run = sluiceCapture(lab.b, [
        "--out",
        out,
        "--rotate-seconds",
        "1",
        "--keep-empty",
        "--align",
        "--filter",
        "icmp",
      ]);
      await started(run);
      await until(() => run.paths.length >= 2, "two files of idle intervals");
      run.child.kill("SIGTERM");
      expect(await run.exited).toBe(0);
      expect(run.paths.length).toBeGreaterThanOrEqual(2);
      for (const path of run.paths.slice(1)) {
        const manifest = JSON.parse(readFileSync(`${path}.json`, "utf8"));
        expect(manifest.packets).toBe(0);
        expect(Date.parse(manifest.start) % 1000).toBe(0);
      }
    });
  });

  it("stops after --count packets and after --duration", async () => {
    await withLab(async (lab) => {
      silence(lab.a, lab.b);
      const counted = sluiceCapture(lab.b, ["--out", outDir(), "--count", "500"]);
      await started(counted);
      tcpreplay(lab.a, capture);
      expect(await counted.exited).toBe(0);
      expect(hex(merged(counted.paths, "counted.pcap"))).toEqual(sent.slice(0, 500));
      // It ends by itself (no signal is sent; a hang would run into the test's timeout).
      const timed = sluiceCapture(lab.b, ["--out", outDir(), "--duration", "1.5"]);
      expect(await timed.exited).toBe(0);
      expect(timed.stderr()).toMatch(/^\d+ packets captured/m);
    });
  });

  it.each(["SIGTERM", "SIGHUP"] as const)("finishes the open file on %s, losing nothing", async (signal) => {
    await withLab(async (lab) => {
      silence(lab.a, lab.b);
      const run = sluiceCapture(lab.b, ["--out", outDir(), "--rotate-seconds", "3600"]);
      await started(run);
      tcpreplay(lab.a, capture);
      run.child.kill(signal);
      expect(await run.exited).toBe(0);
      expect(run.paths).toHaveLength(1);
      expect(hex(run.paths[0]!)).toEqual(sent);
    });
  });

  it("salvages what was captured before a SIGKILL when it starts again", async () => {
    await withLab(async (lab) => {
      silence(lab.a, lab.b);
      const out = outDir();
      const first = sluiceCapture(lab.b, ["--out", out, "--rotate-seconds", "3600"], { detached: true });
      await started(first);
      tcpreplay(lab.a, capture);
      // The kill comes once most of the traffic is on disk in the open (hidden, partial) file.
      const written = () =>
        readdirSync(out)
          .filter((e) => e.endsWith(".partial"))
          .reduce((n, e) => n + statSync(join(out, e)).size, 0);
      await until(() => written() > 0.95 * statSync(capture).size, "the traffic written to the partial file");
      process.kill(-first.child.pid!, "SIGKILL"); // the master (and a capture child, if it had one)
      await first.exited;
      const partials = readdirSync(out).filter((e) => e.endsWith(".partial"));
      expect(partials).toHaveLength(1);
      expect(statSync(join(out, partials[0]!)).size).toBeGreaterThan(24);

      const second = sluiceCapture(lab.b, ["--out", out, "--duration", "0.5"]);
      expect(await second.exited).toBe(0);
      expect(second.paths).toHaveLength(1);
      const salvaged = JSON.parse(readFileSync(`${second.paths[0]}.json`, "utf8"));
      expect(salvaged).toMatchObject({ reason: "salvage", drops: null });
      const frames = hex(second.paths[0]!);
      // Everything written before the kill is there, whole and in order.
      expect(frames.length).toBeGreaterThan(sent.length * 0.9);
      expect(frames).toEqual(sent.slice(0, frames.length));
      expect(readdirSync(out).filter((e) => e.startsWith("."))).toEqual([]);
    });
  });

  it("accounts for every packet on a full spool: captured = written (counted in the files) + spool drops, exit 1", async () => {
    // Issue 17, case 4: on a 256 KiB tmpfs the spool fills after a few hundred packets.
    const tiny = join(dir, "tiny");
    mkdirSync(tiny, { recursive: true });
    expect(spawnSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", tiny]).status).toBe(0);
    try {
      await withLab(async (lab) => {
        silence(lab.a, lab.b);
        const run = sluiceCapture(lab.b, ["--out", tiny, "--rotate-packets", "300"]);
        await started(run);
        tcpreplay(lab.a, capture);
        await until(() => /ENOSPC|no space/i.test(run.stderr()), "the full spool reported");
        expect(run.child.exitCode).toBeNull(); // still capturing, counting
        run.child.kill("SIGTERM");
        expect(await run.exited).toBe(1);
        const summary =
          /^(\d+) packets captured, (\d+) dropped by kernel, (\d+) dropped by interface, (\d+) dropped by spool \(spool-full (\d+)\), (\d+) written to (\d+) files$/m.exec(
            run.stderr(),
          );
        expect(summary, run.stderr()).not.toBeNull();
        const [captured, kernel, , spool, full, written, files] = summary!.slice(1).map(Number);
        expect(kernel).toBe(0);
        expect(captured).toBeGreaterThanOrEqual(sent.length);
        expect(full).toBe(spool);
        expect(spool).toBeGreaterThan(0);
        expect(written! + spool!).toBe(captured);
        expect(run.paths).toHaveLength(files!);
        // "written" is what the files on disk hold, each whole, and what their sidecars say.
        let onDisk = 0;
        for (const path of run.paths) {
          const verified = await verifyCapture(path);
          expect(verified.complete).toBe(true);
          onDisk += verified.packets;
          if (existsSync(`${path}.json`)) {
            expect(JSON.parse(readFileSync(`${path}.json`, "utf8")).packets).toBe(verified.packets);
          }
        }
        expect(onDisk).toBe(written);
        expect(readdirSync(tiny).filter((e) => e.endsWith(".partial"))).toEqual([]);
        expect(run.stderr()).toMatch(
          new RegExp(`^sluice-master: ${spool} of ${captured} captured packets could not be written`, "m"),
        );
      });
    } finally {
      spawnSync("umount", [tiny]);
    }
  });

  it("refuses up front to capture as a --user who cannot write to --out, exit 1, no file", async () => {
    await withLab(async (lab) => {
      const out = outDir(); // root's, 0755
      const run = sluiceCapture(lab.b, ["--out", out, "--user", "nobody"]);
      expect(await run.exited).toBe(1);
      expect(run.stderr()).toMatch(new RegExp(`user nobody cannot write to ${out} \\(EACCES\\)`));
      expect(run.stderr()).not.toMatch(/packets captured/);
      expect(readdirSync(out)).toEqual([]);
    });
  });

  for (const [packetIo, child] of [
    ["native", false],
    ["native", true],
    ["pcap", true],
  ] as const) {
    it(`publishes what it captured and exits 1 when the interface disappears, as tcpdump (${packetIo}${child ? ", capture child" : ", in-process"})`, async () => {
      await withLab(async (lab) => {
        silence(lab.a, lab.b);
        const out = outDir();
        const args = ["--out", out, "--rotate-seconds", "3600", "--packet-io", packetIo];
        const run = sluiceCapture(lab.b, args, { child });
        await started(run);
        tcpreplay(lab.a, capture);
        // Every frame is in the open file (same layout as the lab capture: as many bytes) before the link goes.
        const partial = () =>
          readdirSync(out)
            .filter((e) => e.endsWith(".partial"))
            .reduce((n, e) => n + statSync(join(out, e)).size, 0);
        await until(() => partial() >= statSync(capture).size, "the traffic in the open file");
        await lab.deleteLink();
        expect(await run.exited).toBe(1);
        expect(run.stderr()).toMatch(
          new RegExp(`^sluice-master: capture on "${lab.b.iface}" stopped: the interface disappeared`, "m"),
        );
        expect(run.stderr()).toMatch(new RegExp(`^${sent.length} packets captured, .* 1 files$`, "m"));
        expect(run.paths).toHaveLength(1);
        expect(hex(run.paths[0]!)).toEqual(sent);
        expect(readdirSync(out).filter((e) => e.startsWith("."))).toEqual([]);
      });
    });
  }

  it("lets two sources rotate into one directory without name clashes", async () => {
    await withLab(async (lab) => {
      silence(lab.a, lab.b);
      const out = outDir();
      const one = sluiceCapture(lab.b, ["--out", out, "--name", "one", "--rotate-packets", "700"]);
      const two = sluiceCapture(lab.b, ["--out", out, "--name", "two", "--rotate-packets", "700"]);
      await Promise.all([started(one), started(two)]);
      tcpreplay(lab.a, capture);
      one.child.kill("SIGTERM"); // each finishes its open file, losing nothing
      two.child.kill("SIGTERM");
      await Promise.all([one.exited, two.exited]);
      expect(new Set([...one.paths, ...two.paths]).size).toBe(one.paths.length + two.paths.length);
      expect(hex(merged(one.paths, "one.pcap"))).toEqual(sent);
      expect(hex(merged(two.paths, "two.pcap"))).toEqual(sent);
    });
  });

  it("writes its files as --user once the interface is open", async () => {
    await withLab(async (lab) => {
      const out = outDir();
      chmodSync(out, 0o777);
      const run = sluiceCapture(lab.b, ["--out", out, "--user", "nobody", "--filter", "icmp"]);
      await started(run);
      await lab.ping({ count: 2, intervalMs: 10 });
      run.child.kill("SIGTERM");
      expect(await run.exited).toBe(0);
      const uid = Number(execFileSync("id", ["-u", "nobody"], { encoding: "utf8" }));
      expect(run.paths).toHaveLength(1);
      expect(statSync(run.paths[0]!).uid).toBe(uid);
    });
  });

  it("refuses a bad command line with exit status 2 and a bad filter with 1", async () => {
    for (const args of [
      ["capture"],
      ["capture", "--interface", "lo"],
      ["capture", "--interface", "lo", "--out", dir, "--rotate-seconds", "-1"],
      ["frob"],
    ]) {
      const run = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
      expect(run.status, args.join(" ")).toBe(2);
      expect(run.stderr).toMatch(/^sluice-master: [\s\S]+\n\nUsage:/);
    }
    const bad = spawnSync(
      process.execPath,
      [CLI, "capture", "--interface", "lo", "--out", outDir(), "--filter", "tcp port"],
      { encoding: "utf8" },
    );
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/BPF filter "tcp port" does not compile/);
  });
});
