import { closeSync, ftruncateSync, openSync } from "node:fs";
import { readdir, stat, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import { formatTimestamp, inspectCapture } from "@sluice/pcap-format";
import { finalNameOf, parseDefaultName, pathExists, publishFile, setAside } from "@sluice/spool";
import { type FileManifest, manifestPath, writeManifest } from "./manifest.js";

/** What salvage did with the leftovers of a crash. */
export interface SalvageReport {
  /** Files cut back to their last complete record (if needed) and finished. */
  finished: FileManifest[];
  /** Files that could not be read, moved to `failed/` with a reason file. */
  setAside: { path: string; reason: string; offset: number | null; message: string }[];
  /** Partial files with no packets, removed. */
  removedEmpty: string[];
}

/**
 * Recovers what a crash left in a rotation directory: every hidden partial file is cut back to its last
 * complete record and finished under its final name (reason "salvage"), or moved to `failed/` with a
 * `.reason.json` when even its header is unreadable; finished files missing their manifest get one.
 * Run it before rotators start writing into `dir`.
 */
export async function salvageDirectory(
  dir: string,
  options: { keepEmpty?: boolean } = {},
): Promise<SalvageReport> {
  dir = resolve(dir);
  const report: SalvageReport = { finished: [], setAside: [], removedEmpty: [] };
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return report;
    throw error;
  }
  for (const entry of entries) {
    if (/^\..+\.pcap\.json\.partial$/.test(entry)) {
      await unlink(join(dir, entry)).catch(() => {});
      continue;
    }
    const name = finalNameOf(entry);
    if (name === null) continue;
    const partial = join(dir, entry);
    const target = join(dir, name);
    // A crash between link and unlink leaves both names on one file.
    const [a, b] = await Promise.all([stat(partial), stat(target).catch(() => null)]);
    if (b && a.ino === b.ino && a.dev === b.dev) {
      await unlink(partial);
      if (!(await pathExists(manifestPath(target)))) report.finished.push(await describe(target, name));
      continue;
    }
    const summary = await inspectCapture(partial);
    if (summary.format !== "pcap" || summary.validBytes < 24) {
      const problem = {
        path: join(dir, "failed", name),
        reason: summary.error?.reason ?? "unreadable",
        offset: summary.error?.offset ?? null,
        message: summary.error?.message ?? "not a classic pcap file",
      };
      // Never over a file of the same name set aside before: a clash takes the next name.
      await setAside(partial, join(dir, "failed"), (movedTo) => Object.assign(problem, { path: movedTo }));
      report.setAside.push(problem);
      continue;
    }
    if (summary.validBytes < summary.size) {
      const fd = openSync(partial, "r+");
      try {
        ftruncateSync(fd, summary.validBytes);
      } finally {
        closeSync(fd);
      }
    }
    if (summary.packets === 0 && !options.keepEmpty) {
      await unlink(partial);
      report.removedEmpty.push(partial);
      continue;
    }
    const final = await publishFile(partial, dir, name, {
      onConflict: (n) => name.replace(/\.pcap$/, `-salvaged${n}.pcap`),
    });
    report.finished.push(await describe(join(dir, final), final));
  }
  // Finished files whose manifest was not written yet.
  for (const entry of entries) {
    if (!entry.endsWith(".pcap") || entry.startsWith(".")) continue;
    const path = join(dir, entry);
    if (report.finished.some((m) => m.path === path)) continue;
    if (!(await pathExists(manifestPath(path)))) report.finished.push(await describe(path, entry));
  }
  return report;
}

// A manifest rebuilt from the file itself: drops before the crash are unknown.
async function describe(path: string, name: string): Promise<FileManifest> {
  const summary = await inspectCapture(path);
  const parsed = parseDefaultName(name);
  const manifest: FileManifest = {
    event: "file-ready",
    path,
    name,
    source: parsed?.source ?? null,
    sequence: parsed?.sequence ?? null,
    start: parsed ? new Date(parsed.startMs).toISOString() : null,
    end: null,
    reason: "salvage",
    packets: summary.packets,
    bytes: summary.bytes,
    fileSize: summary.size,
    firstPacketTime: summary.firstTime
      ? formatTimestamp(summary.firstTime.seconds, summary.firstTime.nanoseconds)
      : null,
    lastPacketTime: summary.lastTime
      ? formatTimestamp(summary.lastTime.seconds, summary.lastTime.nanoseconds)
      : null,
    linkType: summary.linkTypes[0] ?? 0,
    snaplen: summary.snaplen ?? 0,
    precision: summary.precision ?? "micro",
    drops: null,
  };
  await writeManifest(manifest, true);
  return manifest;
}
