// hugeBuffer: exactly the bytes asked for, all of them usable, advised for huge pages, and unmapped when
// collected (checked in a child process, where /proc/self is the allocations' own).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadAddon } from "./binding.js";

const addon = loadAddon().addon;
if (addon === null) console.warn(`skipping hugeBuffer tests: ${loadAddon().reason}`);

const MiB = 1 << 20;
const addonPath =
  process.env["SLUICE_PACKET_IO_ADDON"] ||
  fileURLToPath(new URL("../build/Release/packet_io.node", import.meta.url));

function transparentHugePages(): string | null {
  try {
    return /\[(\w+)\]/.exec(readFileSync("/sys/kernel/mm/transparent_hugepage/enabled", "utf8"))?.[1] ?? null;
  } catch {
    return null;
  }
}

const thp = transparentHugePages();
const thpOff = thp === null || thp === "never";
if (addon !== null && thpOff)
  console.warn(`skipping the huge page test: transparent huge pages are ${thp ?? "absent"}`);

function anonHugePagesKiB(): number {
  const rollup = readFileSync("/proc/self/smaps_rollup", "utf8");
  return Number(/^AnonHugePages:\s+(\d+) kB/m.exec(rollup)?.[1]);
}

function reasonOf(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(Error);
    return (error as { reason?: unknown }).reason;
  }
  return "no error";
}

describe.skipIf(addon === null)("hugeBuffer", () => {
  it.each([1, 4096, MiB, 3 * MiB + 1])(
    "gives a Buffer of exactly %i bytes, zeroed, readable and writable throughout",
    (size) => {
      const buf = addon!.hugeBuffer(size);
      expect(Buffer.isBuffer(buf)).toBe(true);
      expect(buf.length).toBe(size);
      expect(buf.byteOffset).toBe(0);
      expect(buf.buffer.byteLength).toBe(size);
      expect(buf.every((b) => b === 0)).toBe(true);
      for (let i = 0; i < size; i++) buf[i] = (i * 7 + (i >>> 12)) & 0xff;
      let wrong = 0;
      for (let i = 0; i < size; i++) if (buf[i] !== ((i * 7 + (i >>> 12)) & 0xff)) wrong++;
      expect(wrong).toBe(0);
    },
  );

  it("throws bad-option for a size that is not 1 byte to 1 GiB", () => {
    const hugeBuffer = addon!.hugeBuffer as (...args: unknown[]) => Buffer;
    for (const size of [
      0,
      -1,
      0.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      2 ** 30 + 1,
      2 ** 32,
      "4096",
      null,
    ]) {
      expect([size, reasonOf(() => hugeBuffer(size))]).toEqual([size, "bad-option"]);
    }
    expect(reasonOf(() => hugeBuffer())).toBe("bad-option");
    // The largest size is allowed: address space only until touched.
    expect(hugeBuffer(2 ** 30).length).toBe(2 ** 30);
  });

  it("unmaps its memory when collected: 300 buffers of 2 MiB, touched, then dropped, leave RSS and mappings as they were", () => {
    const script = `
      const { readFileSync } = require("node:fs");
      const addon = require(${JSON.stringify(addonPath)});
      const now = () => ({
        rssKiB: Number(/VmRSS:\\s+(\\d+)/.exec(readFileSync("/proc/self/status", "utf8"))[1]),
        mappings: readFileSync("/proc/self/maps", "utf8").trim().split("\\n").length,
      });
      const collect = async () => {
        // Buffer finalizers run after the collection, from the event loop.
        for (let i = 0; i < 5; i++) {
          globalThis.gc();
          await new Promise((resolve) => setImmediate(resolve));
        }
      };
      (async () => {
        addon.hugeBuffer(2 << 20).fill(1);
        await collect();
        const before = now();
        let held = [];
        for (let i = 0; i < 300; i++) held.push(addon.hugeBuffer(2 << 20).fill(i));
        const peak = now();
        held = null;
        await collect();
        let after = now();
        for (let i = 0; i < 50 && (after.rssKiB > before.rssKiB + 65536 || after.mappings > before.mappings + 8); i++) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          await collect();
          after = now();
        }
        // Dropped as soon as made, as a reader's chunks are between reads: the memory they report makes V8
        // collect them on the way. (Not within one synchronous loop: Node runs their finalizers from the
        // event loop.)
        let most = 0;
        for (let i = 0; i < 300; i++) {
          addon.hugeBuffer(2 << 20).fill(i);
          await new Promise((resolve) => setImmediate(resolve));
          if (i % 10 === 0) most = Math.max(most, now().rssKiB);
        }
        await collect();
        console.log(JSON.stringify({ before, peak, after, churnPeakKiB: most, end: now() }));
      })();
    `;
    const out = execFileSync(process.execPath, ["--expose-gc", "-e", script], { encoding: "utf8" });
    const { before, peak, after, churnPeakKiB, end } = JSON.parse(out.trim().split("\n").at(-1)!) as {
      before: { rssKiB: number; mappings: number };
      peak: { rssKiB: number; mappings: number };
      after: { rssKiB: number; mappings: number };
      churnPeakKiB: number;
      end: { rssKiB: number; mappings: number };
    };
    console.info(`hugeBuffer leak check: ${JSON.stringify({ before, peak, after, churnPeakKiB, end })}`);
    expect(peak.rssKiB - before.rssKiB).toBeGreaterThan(550 * 1024);
    expect(after.rssKiB - before.rssKiB).toBeLessThan(64 * 1024);
    expect(after.mappings - before.mappings).toBeLessThanOrEqual(8);
    expect(churnPeakKiB - before.rssKiB).toBeLessThan(300 * 1024);
    expect(end.rssKiB - before.rssKiB).toBeLessThan(64 * 1024);
    expect(end.mappings - before.mappings).toBeLessThanOrEqual(8);
  });

  it("maps whole 2 MiB-aligned stretches advised for huge pages (VmFlags hg)", () => {
    const script = `
      const { readFileSync } = require("node:fs");
      const addon = require(${JSON.stringify(addonPath)});
      const advised = () => {
        const found = [];
        let range = null;
        for (const line of readFileSync("/proc/self/smaps", "utf8").split("\\n")) {
          const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
          if (m) range = m[1] + "-" + m[2];
          else if (line.startsWith("VmFlags:") && / hg\\b/.test(line)) found.push(range);
        }
        return found;
      };
      const before = new Set(advised());
      const held = [1, 3 * 1048576 + 1].map((size) => addon.hugeBuffer(size));
      const added = advised().filter((range) => !before.has(range)).map((range) => {
        const [start, end] = range.split("-").map((hex) => BigInt("0x" + hex));
        return { startMod: Number(start % 2097152n), endMod: Number(end % 2097152n), length: Number(end - start) };
      });
      console.log(JSON.stringify({ added, held: held.length }));
    `;
    const out = execFileSync(process.execPath, ["-e", script], { encoding: "utf8" });
    const { added } = JSON.parse(out.trim().split("\n").at(-1)!) as {
      added: Array<{ startMod: number; endMod: number; length: number }>;
    };
    // 1 byte takes one huge page's stretch, 3 MiB + 1 two; adjacent ones may show as one mapping.
    expect(added.length).toBeGreaterThan(0);
    for (const range of added) expect(range).toMatchObject({ startMod: 0, endMod: 0 });
    expect(added.reduce((sum, range) => sum + range.length, 0)).toBe(6 * MiB);
  });

  it.skipIf(thpOff)("backs a touched 2 MiB buffer with a transparent huge page", () => {
    const before = anonHugePagesKiB();
    const buf = addon!.hugeBuffer(2 * MiB);
    buf.fill(0xa5);
    const after = anonHugePagesKiB();
    expect(after - before).toBeGreaterThanOrEqual(2048);
    expect(buf[2 * MiB - 1]).toBe(0xa5);
  });
});
