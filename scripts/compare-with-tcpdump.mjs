#!/usr/bin/env node
// Compares sluice-pcap with the real tools over a folder of captures the user points it at (for example the
// tests/ folder of a tcpdump checkout): `info` packet counts, data sizes and first/last times against capinfos,
// and `convert` output against `tcpdump -r IN -w OUT`, byte for byte. It downloads nothing.
//
//   node scripts/compare-with-tcpdump.mjs DIR [--list] [--json] [--cli=PATH]
//
// A file is "clean" when tcpdump reads it without an error. Each convert is compared twice: `--precision
// micro` against plain `tcpdump -r -w`, and the default (the input's precision) against tcpdump writing that
// precision. Needs a build (apps/pcap/dist/cli.js, or another sluice-pcap given with --cli=PATH), tcpdump and
// capinfos on the PATH.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const folder = args.find((a) => !a.startsWith("--"));
const list = args.includes("--list");
const asJson = args.includes("--json");
if (!folder) {
  console.error("usage: compare-with-tcpdump.mjs DIR [--list] [--json] [--cli=PATH]");
  process.exit(2);
}
const cliArgument = args.find((a) => a.startsWith("--cli="));
const cli = cliArgument
  ? cliArgument.slice("--cli=".length)
  : fileURLToPath(new URL("../apps/pcap/dist/cli.js", import.meta.url));
if (!existsSync(cli)) {
  console.error(`${cli} is not built: run npx turbo run build`);
  process.exit(2);
}

const files = readdirSync(folder)
  .filter((name) => /\.(pcap|pcapng|cap)$/i.test(name))
  .sort()
  .map((name) => join(folder, name));
const work = mkdtempSync(join(tmpdir(), "compare-with-tcpdump-"));

function run(command, argv) {
  const result = spawnSync(command, argv, { encoding: "buffer", maxBuffer: 1 << 30 });
  return { code: result.status, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

// capinfos prints its table also after a read error (and exits 1): the count is what it read.
function capinfos(file) {
  const { stdout } = run("capinfos", ["-T", "-r", "-M", "-c", "-d", "-a", "-e", "-S", file]);
  const fields = stdout.trim().split("\t");
  if (fields.length < 5 || !/^\d+$/.test(fields[1] ?? "")) return null;
  const time = (t) => (/^-?\d+(\.\d+)?$/.test(t) ? nanos(t) : null);
  return {
    packets: Number(fields[1]),
    dataBytes: Number(fields[2]),
    first: time(fields[3]),
    last: time(fields[4]),
  };
}

// "123.4567" → "123.456700000": both tools' times compared at nanosecond digits.
function nanos(text) {
  const [whole, fraction = ""] = text.split(".");
  return `${whole}.${fraction.padEnd(9, "0").slice(0, 9)}`;
}

function oursInfo(batch) {
  const { stdout } = run("node", [cli, "info", "--json", ...batch]);
  const parsed = JSON.parse(stdout);
  return Array.isArray(parsed) ? parsed : [parsed];
}

function tcpdump(file, out, nano) {
  const precision = nano ? ["--time-stamp-precision", "nano"] : [];
  const result = run("tcpdump", [...precision, "-r", file, "-w", out]);
  return {
    ok: result.code === 0,
    message: result.stderr.split("\n").filter((l) => /tcpdump:/.test(l))[0] ?? "",
  };
}

function oursConvert(file, out, precision) {
  rmSync(out, { force: true });
  const result = run("node", [
    cli,
    "convert",
    file,
    "-o",
    out,
    ...(precision ? ["--precision", precision] : []),
  ]);
  return { ok: result.code === 0, message: result.stderr.trim() };
}

const read = (path) => (existsSync(path) ? readFileSync(path) : null);
const same = (a, b) => a !== null && b !== null && a.equals(b);

const report = [];
const info = new Map();
for (let i = 0; i < files.length; i += 100) {
  for (const record of oursInfo(files.slice(i, i + 100))) info.set(record.file, record);
}

for (const file of files) {
  const truth = capinfos(file);
  const ours = info.get(file);
  const entry = { file, capinfos: truth, ours: { packets: ours.packets, error: ours.error?.reason ?? null } };
  if (truth) {
    entry.packetsAgree = ours.packets === truth.packets;
    entry.dataBytesAgree = ours.originalBytes === undefined ? null : ours.originalBytes === truth.dataBytes;
    entry.timesAgree =
      (ours.firstTime ?? null) === (truth.first ?? null) && (ours.lastTime ?? null) === (truth.last ?? null);
  }
  const theirsMicro = join(work, "tcpdump-micro.pcap");
  const oursMicro = join(work, "ours-micro.pcap");
  rmSync(theirsMicro, { force: true });
  const dumped = tcpdump(file, theirsMicro, false);
  const converted = oursConvert(file, oursMicro, "micro");
  entry.tcpdump = dumped;
  entry.clean = dumped.ok;
  entry.convertMicro = { identical: same(read(oursMicro), read(theirsMicro)), ours: converted };
  const oursDefault = join(work, "ours-default.pcap");
  oursConvert(file, oursDefault, undefined);
  const written = read(oursDefault);
  const nano = written !== null && written.length >= 4 && written.readUInt32LE(0) === 0xa1b23c4d;
  if (nano) {
    const theirsNano = join(work, "tcpdump-nano.pcap");
    rmSync(theirsNano, { force: true });
    tcpdump(file, theirsNano, true);
    entry.convertDefault = { precision: "nano", identical: same(written, read(theirsNano)) };
  } else {
    entry.convertDefault = { precision: "micro", identical: same(written, read(theirsMicro)) };
  }
  report.push(entry);
}
rmSync(work, { recursive: true, force: true });

const count = (predicate) => report.filter(predicate).length;
const withCapinfos = report.filter((e) => e.capinfos !== null);
const clean = report.filter((e) => e.clean);
const summary = {
  files: report.length,
  capinfosRead: withCapinfos.length,
  packetsAgree: count((e) => e.packetsAgree === true),
  packetsDisagree: count((e) => e.packetsAgree === false),
  dataBytesAgree: count((e) => e.dataBytesAgree === true),
  timesAgree: count((e) => e.timesAgree === true),
  tcpdumpClean: clean.length,
  convertMicroIdenticalClean: clean.filter((e) => e.convertMicro.identical).length,
  convertDefaultIdenticalClean: clean.filter((e) => e.convertDefault.identical).length,
  tcpdumpFailed: report.length - clean.length,
  convertMicroIdenticalFailed: report.filter((e) => !e.clean && e.convertMicro.identical).length,
};

if (asJson) {
  console.log(JSON.stringify({ summary, files: report }, null, 2));
} else {
  if (list) {
    for (const e of report) {
      const notes = [];
      if (e.packetsAgree === false) notes.push(`packets ${e.ours.packets} vs capinfos ${e.capinfos.packets}`);
      if (e.dataBytesAgree === false) notes.push("data size differs");
      if (e.timesAgree === false) notes.push("first/last time differs");
      if (e.clean && !e.convertMicro.identical)
        notes.push(`convert --precision micro differs (${e.convertMicro.ours.message})`);
      if (e.clean && !e.convertDefault.identical)
        notes.push(`convert (${e.convertDefault.precision}) differs`);
      if (notes.length > 0) console.log(`${e.file}: ${notes.join("; ")}`);
    }
  }
  console.log(
    `info: ${summary.packetsAgree} of ${summary.capinfosRead} files agree with capinfos on packets (${summary.packetsDisagree} disagree), ` +
      `${summary.dataBytesAgree} on data size, ${summary.timesAgree} on first/last time; ${summary.files - summary.capinfosRead} unread by capinfos`,
  );
  console.log(
    `convert: ${summary.convertMicroIdenticalClean} of ${summary.tcpdumpClean} clean files byte-identical to tcpdump -r -w with --precision micro, ` +
      `${summary.convertDefaultIdenticalClean} in the input's precision; of ${summary.tcpdumpFailed} files tcpdump stops on, ${summary.convertMicroIdenticalFailed} identical up to the stop`,
  );
}
