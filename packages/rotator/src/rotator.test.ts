import { spawnSync } from "node:child_process";
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
import { type PacketRecord, readCaptureSync, verifyCapture } from "@sluice/pcap-format";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type FileManifest, Rotator, type RotatorOptions, type SpoolError } from "./index.js";

let root = "";
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "rotator-"));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

let dirCount = 0;
const freshDir = (): string => {
  const dir = join(root, `d${dirCount++}`);
  mkdirSync(dir);
  return dir;
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Rotation on time is driven by the test's clock: vitest's fake setTimeout and Date, advanced by hand, so
// a boundary has certainly passed when the test says so (file I/O stays real). Waits for what that set off
// poll with the real timer, captured before any test fakes it.
const realSetTimeout = globalThis.setTimeout;
const useTestClock = () => vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
afterEach(() => {
  vi.useRealTimers();
});

/** Waits until `condition` holds: the event it stands for happened (a file written, an error reported). */
async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited > timeoutMs) throw new Error(`still waiting for ${what} after ${timeoutMs} ms`);
    await new Promise((r) => realSetTimeout(r, 5));
  }
}

function frame(i: number, size = 60 + (i % 200)): Buffer {
  const data = Buffer.alloc(size);
  data.writeUInt32BE(i, 0);
  data.fill(i & 0xff, 4);
  return data;
}

function packet(i: number, size?: number): PacketRecord {
  return {
    seconds: 1_700_000_000 + Math.floor(i / 1000),
    nanoseconds: (i % 1000) * 1000,
    originalLength: 0,
    data: frame(i, size),
    interfaceId: 0,
    linkType: 1,
  };
}

function rotator(options: Partial<RotatorOptions> & { dir: string }) {
  const r = new Rotator({ source: "test", fsync: false, ...options });
  const files: FileManifest[] = [];
  const errors: SpoolError[] = [];
  r.on("file", (m) => files.push(m));
  r.on("error", (e) => errors.push(e));
  return { r, files, errors };
}

const framesOf = (paths: string[]): number[] =>
  paths.flatMap((p) =>
    readCaptureSync(readFileSync(p)).packets.map((x) => Buffer.from(x.data).readUInt32BE(0)),
  );

describe("Rotator", () => {
  it("rotates on time with no packet arriving to trigger it", async () => {
    useTestClock();
    const dir = freshDir();
    const { r, files } = rotator({ dir, policy: { seconds: 0.4 } });
    r.start();
    for (let i = 0; i < 10; i++) r.writePacket(packet(i));
    const started = Date.now();
    vi.advanceTimersByTime(400); // the interval ends; no packet comes after the ten
    await until(() => files.length === 1, "the rotated file");
    expect(files[0]).toMatchObject({ reason: "time", packets: 10 });
    expect(Date.parse(files[0]!.end!) - Date.parse(files[0]!.start!)).toBe(400);
    expect(Date.parse(files[0]!.start!)).toBe(started);
    await r.stop();
  });

  it("makes no file for an interval without packets, unless asked to keep empty ones", async () => {
    useTestClock();
    const plain = rotator({ dir: freshDir(), policy: { seconds: 0.2 } });
    plain.r.start();
    vi.advanceTimersByTime(700); // three boundaries have passed when this returns
    await plain.r.stop();
    expect(plain.files).toEqual([]);
    expect(readdirSync(plain.r.dir)).toEqual([]);

    const keeping = rotator({ dir: freshDir(), policy: { seconds: 0.2, keepEmpty: true } });
    keeping.r.start();
    vi.advanceTimersByTime(700);
    await keeping.r.stop();
    expect(keeping.files.map((m) => m.reason)).toEqual(["time", "time", "time", "stop"]);
    for (const m of keeping.files) {
      expect(m.packets).toBe(0);
      expect(await verifyCapture(m.path)).toMatchObject({ complete: true, packets: 0 });
    }
  });

  it("rotates at the packet count or the size, whichever comes first, losing and doubling nothing", async () => {
    const dir = freshDir();
    const { r, files } = rotator({ dir, policy: { seconds: 3600, packets: 1000, mib: 0.5 } });
    r.start();
    // 1000 small packets fill a file before 0.5 MiB; 1400-byte ones reach 0.5 MiB first.
    for (let i = 0; i < 5000; i++) r.writePacket(packet(i, i < 2500 ? 60 : 1400));
    await r.stop();
    const reasons = files.map((m) => m.reason);
    expect(reasons.slice(0, 2)).toEqual(["count", "count"]);
    expect(reasons).toContain("size");
    expect(reasons.at(-1)).toBe("stop");
    for (const m of files) {
      if (m.reason === "count") expect(m.packets).toBe(1000);
      if (m.reason === "size") {
        expect(m.fileSize).toBeGreaterThanOrEqual(0.5 * 1024 * 1024);
        expect(m.fileSize).toBeLessThan(0.5 * 1024 * 1024 + 1416);
      }
    }
    expect(framesOf(files.map((m) => m.path))).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    expect(files.reduce((n, m) => n + m.packets, 0)).toBe(5000);
  });

  it("starts aligned files on multiples of the interval", async () => {
    useTestClock();
    vi.setSystemTime(1_700_000_000_123); // not on a boundary
    const { r, files } = rotator({ dir: freshDir(), policy: { seconds: 0.5, align: true } });
    r.start();
    for (let i = 0; i < 80; i++) {
      r.writePacket(packet(i));
      vi.advanceTimersByTime(20);
    }
    await r.stop();
    expect(files.map((m) => Date.parse(m.start!))).toEqual([
      1_700_000_000_123, 1_700_000_000_500, 1_700_000_001_000, 1_700_000_001_500,
    ]);
    expect(files.map((m) => m.reason)).toEqual(["time", "time", "time", "stop"]);
  });

  it("describes each file in its event and in a sidecar JSON", async () => {
    const dir = freshDir();
    const { r, files } = rotator({ dir, source: "span0", policy: { seconds: 3600 } });
    r.start();
    r.noteDrops("kernel", 3);
    r.writePacket({ ...packet(1), seconds: 1_700_000_001, nanoseconds: 5000 });
    r.writePacket({ ...packet(2), seconds: 1_700_000_002, nanoseconds: 7000 });
    r.noteDrops("interface", 2);
    const manifest = await r.stop();
    expect(manifest).toMatchObject({
      event: "file-ready",
      source: "span0",
      sequence: 1,
      reason: "stop",
      packets: 2,
      bytes: frame(1).length + frame(2).length,
      firstPacketTime: "1700000001.000005000",
      lastPacketTime: "1700000002.000007000",
      linkType: 1,
      precision: "micro",
      drops: { kernel: 3, interface: 2, spool: 0, spoolReasons: {} },
    });
    expect(manifest!.name).toMatch(/^span0-\d{8}T\d{6}Z-000001\.pcap$/);
    expect(manifest!.fileSize).toBe(statSync(manifest!.path).size);
    expect(JSON.parse(readFileSync(`${manifest!.path}.json`, "utf8"))).toEqual(manifest);
    expect(files).toEqual([manifest]);
  });

  it("tells which file it is writing, since when, and what it holds so far", async () => {
    const dir = freshDir();
    const { r, files } = rotator({ dir, source: "span0", policy: { seconds: 3600 } });
    const before = Date.now();
    r.start();
    expect(r.current).toBeNull();
    r.writePacket(packet(1));
    r.writePacket(packet(2));
    const current = r.current!;
    expect(current).toEqual({
      name: expect.stringMatching(/^span0-\d{8}T\d{6}Z-000001\.pcap$/),
      startMs: expect.any(Number),
      packets: 2,
      bytes: frame(1).length + frame(2).length,
    });
    expect(current.startMs).toBeGreaterThanOrEqual(before);
    await r.rotate();
    expect(r.current).toBeNull();
    expect(files[0]!.name).toBe(current.name);
    expect(r.stats).toMatchObject({ packets: 2, bytes: current.bytes });
    await r.stop();
  });

  it("never shows a final name before the file is complete", async () => {
    const dir = freshDir();
    const { r, files } = rotator({ dir, policy: { seconds: 3600, packets: 300 } });
    r.start();
    const seen = new Set<string>();
    const problems: string[] = [];
    let writing = true;
    const watcher = (async () => {
      while (writing || seen.size < files.length) {
        for (const entry of readdirSync(dir)) {
          if (!entry.endsWith(".pcap") || entry.startsWith(".") || seen.has(entry)) continue;
          seen.add(entry);
          const result = await verifyCapture(join(dir, entry));
          if (!result.complete || result.packets !== 300)
            problems.push(`${entry}: ${result.packets} ${result.error?.message}`);
        }
        await sleep(0);
      }
    })();
    for (let i = 0; i < 6000; i++) {
      r.writePacket(packet(i, 1000));
      if (i % 50 === 0) await sleep(0);
    }
    await r.stop();
    writing = false;
    await watcher;
    expect(problems).toEqual([]);
    expect(seen.size).toBe(20);
  });

  it("keeps names unique when many sources rotate into one directory at once", async () => {
    const dir = freshDir();
    const all = Array.from({ length: 12 }, (_, k) =>
      rotator({ dir, source: `src${k % 3}`, policy: { seconds: 3600, packets: 5 } }),
    );
    for (const { r } of all) r.start();
    for (let i = 0; i < 50; i++) for (const { r } of all) r.writePacket(packet(i));
    await Promise.all(all.map(({ r }) => r.stop()));
    const names = all.flatMap(({ files }) => files.map((m) => m.name));
    expect(names).toHaveLength(12 * 10);
    expect(new Set(names).size).toBe(names.length);
    expect(readdirSync(dir).filter((f) => f.endsWith(".pcap"))).toHaveLength(120);
    expect(all.flatMap(({ files }) => files).reduce((n, m) => n + m.packets, 0)).toBe(12 * 50);
  });

  it("starts a new file when the link type changes", async () => {
    const { r, files } = rotator({ dir: freshDir(), policy: { seconds: 3600 } });
    r.start();
    r.writePacket(packet(1));
    r.writePacket({ ...packet(2), linkType: 101 });
    r.writePacket({ ...packet(3), linkType: 101 });
    await r.stop();
    expect(files.map((m) => [m.linkType, m.packets, m.reason])).toEqual([
      [1, 1, "linktype"],
      [101, 2, "stop"],
    ]);
  });
});

const root_ = process.getuid?.() === 0;
describe.skipIf(!root_)("Rotator on a spool that fills up or turns read-only", () => {
  let mount = "";
  beforeAll(() => {
    mount = join(root, "tiny");
    mkdirSync(mount);
    const result = spawnSync("mount", ["-t", "tmpfs", "-o", "size=512k", "tmpfs", mount]);
    if (result.status !== 0) throw new Error(`mount tmpfs: ${result.stderr}`);
  });
  afterAll(() => {
    spawnSync("umount", [mount]);
  });

  it("reports a full spool, keeps every finished file whole, counts drops and resumes", async () => {
    useTestClock();
    const dir = join(mount, "full");
    mkdirSync(dir);
    const { r, files, errors } = rotator({ dir, policy: { seconds: 0.5, packets: 100 } });
    r.start();
    for (let i = 0; i < 1500; i++) r.writePacket(packet(i, 1400));
    await until(() => errors.length > 0, "the spool-full error");
    // Every file before the one the spool failed in was complete: wait until each is final.
    const failedIn = Number(/-(\d+)\.pcap\.partial$/.exec(errors[0]!.path)?.[1]);
    await until(() => files.length >= failedIn - 1, `files 1 to ${failedIn - 1}`);
    expect(errors[0]).toMatchObject({ code: "ERR_SPOOL", reason: "spool-full", errno: "ENOSPC" });
    expect(r.stats.droppedBySpool).toBeGreaterThan(0);
    const before = files.length;
    expect(before).toBeGreaterThan(0);
    for (const m of files)
      expect(await verifyCapture(m.path)).toMatchObject({ complete: true, packets: m.packets });
    // Nothing finished is touched; freeing space lets the next interval write again.
    for (const m of files) rmSync(m.path);
    vi.advanceTimersByTime(500); // the next interval
    for (let i = 0; i < 10; i++) r.writePacket(packet(10_000 + i, 100));
    await r.stop();
    const after = files.slice(before);
    expect(after.at(-1)).toMatchObject({ packets: 10, reason: "stop" });
    expect(after.at(-1)!.drops!.spool).toBeGreaterThan(0);
    expect(existsSync(after.at(-1)!.path)).toBe(true);
  });

  it("counts every packet a full spool costs: packets in the files plus spool drops are all it was given", async () => {
    for (const entry of readdirSync(mount)) rmSync(join(mount, entry), { recursive: true });
    const dir = join(mount, "exact");
    mkdirSync(dir);
    const { r, files, errors } = rotator({ dir, policy: { seconds: 3600 } });
    r.start();
    // One synchronous burst: packets taken into the writer's buffer when the disk fills never reach it.
    const given = 3000;
    for (let i = 0; i < given; i++) r.writePacket(packet(i, 1400));
    await r.stop();
    expect(errors[0]).toMatchObject({ reason: "spool-full", errno: "ENOSPC" });
    let onDisk = 0;
    for (const m of files) {
      const verified = await verifyCapture(m.path);
      expect(verified).toMatchObject({ complete: true, packets: m.packets });
      onDisk += verified.packets;
    }
    const { packets, droppedBySpool, droppedBySpoolReasons } = r.stats;
    expect(packets).toBe(onDisk);
    expect(packets + droppedBySpool).toBe(given);
    expect(droppedBySpoolReasons).toEqual({ "spool-full": droppedBySpool });
    expect(packets).toBeGreaterThan(0); // the disk did take some
    expect(readdirSync(dir).filter((n) => n.endsWith(".partial"))).toEqual([]);
    rmSync(dir, { recursive: true });
  });

  it("reports an unwritable spool and drops, counting, until it can write again", async () => {
    useTestClock();
    const dir = join(mount, "ro");
    mkdirSync(dir);
    const { r, files, errors } = rotator({ dir, policy: { seconds: 0.3 } });
    r.start();
    chmodSync(dir, 0o555);
    spawnSync("mount", ["-o", "remount,ro", mount]);
    for (let i = 0; i < 20; i++) r.writePacket(packet(i));
    spawnSync("mount", ["-o", "remount,rw", mount]);
    chmodSync(dir, 0o755);
    expect(errors[0]).toMatchObject({ reason: "spool-unwritable" });
    expect(r.stats.droppedBySpool).toBe(20);
    vi.advanceTimersByTime(300); // the next interval
    r.writePacket(packet(99));
    await r.stop();
    expect(files.map((m) => m.packets)).toEqual([1]);
  });
});
