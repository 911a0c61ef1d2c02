import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readCaptureSync } from "@sluice/pcap-format";
import { DirectoryLock } from "@sluice/spool";
import { labUnavailableReason, makeLabCapture, missingTools, withLab } from "@sluice/testlab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, type MasterProcess, runMaster } from "./testing/master-process.js";

// Issue 17, case 1: two masters on one spool. The second used to salvage the first one's open .partial;
// now it is refused, naming the first's pid, and the first loses nothing.
const reason = existsSync(CLI)
  ? (labUnavailableReason() ?? missingTools("tcpreplay"))
  : `${CLI} built (npx turbo run build)`;
if (reason) console.warn(`skipping the spool lock tests: they need ${reason}`);

let dir = "";
let capture = "";
beforeAll(async () => {
  if (reason) return;
  dir = mkdtempSync(join(tmpdir(), "master-lock-"));
  capture = join(dir, "lab.pcap");
  await makeLabCapture(capture, { bytes: 1.5e6 });
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const frames = (files: string[]) =>
  files.flatMap((f) =>
    readCaptureSync(readFileSync(f)).packets.map((p) => Buffer.from(p.data).toString("hex")),
  );
const names = (d: string) => (existsSync(d) ? readdirSync(d) : []);
const visible = (d: string) =>
  names(d)
    .filter((n) => !n.startsWith("."))
    .sort();

async function waitFor(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.skipIf(reason !== null)("one master per spool", () => {
  it("refuses a second master on a spool in use, naming the first's pid, and the first loses nothing; a SIGKILLed one's lock is taken over", async () => {
    await withLab(async (lab) => {
      for (const ns of [lab.a.netns, lab.b.netns])
        spawnSync("ip", ["netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
      const at = (n: string) => join(dir, n);
      for (const f of ["n1", "arkime"]) mkdirSync(at(f), { recursive: true });
      const config = at("master.json");
      writeFileSync(
        config,
        JSON.stringify({
          spool: at("spool"),
          sources: [{ type: "interface", name: "span0", interface: lab.b.iface, netns: lab.b.netns }],
          rotation: { seconds: 1 },
          pools: [{ name: "p", nodes: [{ name: "n1", path: at("n1") }] }],
          alone: [{ name: "arkime", path: at("arkime") }],
        }),
      );
      const first = runMaster(config);
      await first.event("source-started");
      // Slow enough to span several files and the second master's whole attempt.
      const sender = spawn(
        "ip",
        ["netns", "exec", lab.a.netns, "tcpreplay", "-q", "-i", lab.a.iface, "--pps=400", capture],
        { stdio: "ignore" },
      );
      const sent = new Promise((resolve) => sender.on("exit", resolve));
      // The first master has a file open: what the second one used to salvage from under it.
      await waitFor(() => names(at("spool/ready")).some((n) => n.endsWith(".partial")));

      const second: MasterProcess = runMaster(config);
      expect(await second.exited).toBe(1);
      const pid = first.child.pid!;
      expect(second.stderr()).toContain(`is locked by sluice-master run (pid ${pid}`);
      const refused = await second.event("start-failed");
      expect(refused["error"]).toMatchObject({ code: "ERR_SPOOL", reason: "locked", detail: { pid } });
      expect(second.count("started")).toBe(0);
      expect(names(at("spool/ready")).some((n) => n.endsWith(".partial"))).toBe(true);

      await sent;
      const rotations = () => first.events.filter((e) => e["event"] === "file-rotated");
      const packets = () => rotations().reduce((n, e) => n + Number(e["packets"]), 0);
      const all = frames([capture]).length;
      await waitFor(() => packets() >= all && first.count("dispatched") >= rotations().length, 60_000);
      // Every frame sent is in the files both consumers got, and the first master never tripped.
      const delivered = visible(at("arkime"));
      expect(frames(delivered.map((f) => join(at("arkime"), f)))).toEqual(frames([capture]));
      expect(visible(at("n1"))).toEqual(delivered);
      expect(first.count("spool-error") + first.count("file-set-aside") + first.count("file-salvaged")).toBe(
        0,
      );

      first.child.kill("SIGKILL");
      await first.exited;
      const third = runMaster(config);
      await third.event("started");
      expect((await DirectoryLock.holder(at("spool/ready")))?.pid).toBe(third.child.pid);
      third.child.kill("SIGTERM");
      expect(await third.exited).toBe(0);
      expect(await DirectoryLock.holder(at("spool/ready"))).toBeNull();
    });
  });

  it("refuses `capture` into the ready folder of a running master", async () => {
    const at = (n: string) => join(dir, "capture", n);
    mkdirSync(at("n1"), { recursive: true });
    mkdirSync(at("inbox"), { recursive: true });
    const config = at("master.json");
    writeFileSync(
      config,
      JSON.stringify({
        spool: at("spool"),
        sources: [{ type: "folder", name: "inbox", path: at("inbox") }],
        pools: [{ name: "p", nodes: [{ name: "n1", path: at("n1") }] }],
      }),
    );
    const master = runMaster(config);
    await master.event("started");
    const result = spawnSync(
      process.execPath,
      [CLI, "capture", "--interface", "lo", "--out", at("spool/ready"), "--duration", "1"],
      { encoding: "utf8" },
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`is locked by sluice-master run (pid ${master.child.pid}`);
    master.child.kill("SIGTERM");
    expect(await master.exited).toBe(0);
  });
});
