// The rules of the README's "Reading as libpcap reads" and "Convert" tables, one small crafted file each,
// checked against the real tools at test time: tcpdump (libpcap) reads or refuses it as we do, `tcpdump -r IN
// -w OUT` writes the bytes convertCapture writes (or, where it stops, the same salvage), and capinfos counts
// what we count — or, where Wireshark reads differently from libpcap, the count written in the row.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { missingTools } from "@sluice/testlab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convertCapture, inspectCapture, type PcapFormatReason, type ReadWarnings } from "./index.js";
import {
  block,
  classicHeader,
  classicRecord,
  epb,
  idb,
  type Option,
  shb,
  spb,
  udpFrame,
} from "./testing/builders.js";

interface Rule {
  /** What the row of the README table says. */
  rule: string;
  file: () => Buffer;
  pcapng?: boolean;
  /** What we read: packets, the error that stops the read, the warnings counted on the way. */
  ours: { packets: number; error?: PcapFormatReason; warnings?: Partial<ReadWarnings> };
  /** Whether tcpdump (libpcap 1.10) reads the whole file. */
  libpcap: "reads" | "refuses";
  /** capinfos' packet count when Wireshark reads differently from libpcap; null when it cannot read it. */
  capinfos?: number | null;
  /** Convert in nanoseconds (compared with tcpdump --time-stamp-precision nano). */
  nano?: boolean;
  /** Where convert knowingly differs from tcpdump -w: the error it reports instead. */
  convertError?: PcapFormatReason;
}

const le = true;
const frame = (size: number, seed = 0): Buffer => udpFrame(size, seed);
const T = 1_700_000_000;
const record = (i: number, data: Buffer, extra: Partial<Parameters<typeof classicRecord>[0]> = {}): Buffer =>
  classicRecord({ seconds: T + i, fraction: 1000 * i + 7, data, ...extra });
const classic = (header: Parameters<typeof classicHeader>[0], ...records: Buffer[]): Buffer =>
  Buffer.concat([classicHeader(header), ...records]);
const ng = (...blocks: Buffer[]): Buffer => Buffer.concat(blocks);
const packet = (i: number, data: Buffer, extra: Partial<Parameters<typeof epb>[1]> = {}): Buffer =>
  epb(le, { units: BigInt(T + i) * 1_000_000n + BigInt(i), data, ...extra });
const option = (code: number, value: number[] | Buffer): Option => ({ code, value: Uint8Array.from(value) });
const u64le = (value: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(value);
  return b;
};
// An EPB whose one option claims more bytes than the block holds.
const packetWithBrokenOption = (i: number): Buffer => {
  const bytes = Buffer.from(packet(i, frame(60), { options: [option(1, [0x41, 0x42, 0x43, 0x44])] }));
  bytes.writeUInt16LE(200, 8 + 20 + 60 + 2);
  return bytes;
};
const sectionWithBrokenOption = (): Buffer => {
  const bytes = Buffer.from(shb(le, { options: [option(1, [0x41, 0x42, 0x43, 0x44])] }));
  bytes.writeUInt16LE(200, 24 + 2);
  return bytes;
};

export const rules: Rule[] = [
  {
    rule: "classic record longer than the snaplen: cut to the snaplen, read on",
    file: () => classic({ snaplen: 100 }, record(0, frame(60)), record(1, frame(150)), record(2, frame(60))),
    ours: { packets: 3, warnings: { "caplen-over-snaplen": 1 } },
    libpcap: "reads",
  },
  {
    rule: "classic record with caplen above its original length: read as it is",
    file: () => classic({}, record(0, frame(80), { origlen: 60 }), record(1, frame(60))),
    ours: { packets: 2, warnings: { "caplen-over-origlen": 1 } },
    libpcap: "reads",
  },
  {
    rule: "classic record above the link type's maximum (262144): the read stops",
    file: () =>
      classic(
        { snaplen: 524288 },
        record(0, frame(60)),
        record(1, Buffer.alloc(300000, 0xff)),
        record(2, frame(60)),
      ),
    ours: { packets: 1, error: "caplen-over-max" },
    libpcap: "refuses",
  },
  {
    rule: "snaplen above 262144: kept",
    file: () => classic({ snaplen: 524288 }, record(0, frame(60)), record(1, frame(1500))),
    ours: { packets: 2 },
    libpcap: "reads",
  },
  {
    rule: "snaplen 0: the link type's maximum, 262144",
    file: () => classic({ snaplen: 0 }, record(0, frame(60))),
    ours: { packets: 1 },
    libpcap: "reads",
  },
  {
    rule: "USBPcap records up to 1 MiB",
    file: () => classic({ snaplen: 0, linkType: 249 }, record(0, Buffer.alloc(300000, 1))),
    ours: { packets: 1 },
    libpcap: "reads",
  },
  {
    rule: "upper bits of the link-type field: kept",
    file: () => classic({ linkType: 0x30000001 }, record(0, frame(60))),
    ours: { packets: 1 },
    libpcap: "reads",
  },
  {
    rule: "old BSD link type 12 (raw IP): written as LINKTYPE_RAW, 101",
    file: () => classic({ linkType: 12 }, record(0, Buffer.from(frame(60).subarray(14)))),
    ours: { packets: 1 },
    libpcap: "reads",
  },
  {
    rule: "thiszone and sigfigs: written as 0",
    file: () => classic({ timezoneOffset: -3600, sigfigs: 6 }, record(0, frame(60))),
    ours: { packets: 1 },
    libpcap: "reads",
  },
  {
    rule: "version 2.2: lengths swapped in every record",
    file: () =>
      classic(
        { versionMinor: 2 },
        record(0, frame(60), { origlen: 100, swapLengths: true }),
        record(1, frame(70), { swapLengths: true }),
      ),
    ours: { packets: 2 },
    libpcap: "reads",
  },
  {
    rule: "version 2.3: lengths swapped where caplen exceeds len",
    file: () =>
      classic(
        { versionMinor: 3 },
        record(0, frame(60), { origlen: 100, swapLengths: true }),
        record(1, frame(60), { origlen: 100 }),
      ),
    ours: { packets: 2 },
    libpcap: "reads",
  },
  {
    rule: "version 543.0 (DG/UX tcpdump): lengths swapped",
    file: () =>
      classic(
        { versionMajor: 543, versionMinor: 0 },
        record(0, frame(60), { origlen: 90, swapLengths: true }),
      ),
    ours: { packets: 1 },
    libpcap: "reads",
  },
  {
    rule: "version 2.5 and later: refused (Wireshark reads it as 2.4)",
    file: () => classic({ versionMinor: 5 }, record(0, frame(60)), record(1, frame(60))),
    ours: { packets: 0, error: "unsupported-version" },
    libpcap: "refuses",
    capinfos: 2,
  },
  {
    rule: "version 1.x: refused",
    file: () => classic({ versionMajor: 1, versionMinor: 0 }, record(0, frame(60))),
    ours: { packets: 0, error: "unsupported-version" },
    libpcap: "refuses",
    capinfos: null,
  },
  {
    rule: "Kuznetsov's patched format: 24-byte record headers; Ethernet snaplen 14 bytes larger",
    file: () =>
      classic(
        { kuznetsov: true, snaplen: 65535 },
        record(0, frame(60), { extra: Buffer.alloc(8, 1) }),
        record(1, frame(70), { extra: Buffer.alloc(8, 2) }),
      ),
    ours: { packets: 2 },
    libpcap: "reads",
  },
  {
    rule: "microsecond fraction of a second or more: written as read",
    file: () => classic({}, record(0, frame(60), { fraction: 2_500_000 })),
    ours: { packets: 1, warnings: { "fraction-over-second": 1 } },
    libpcap: "reads",
  },
  {
    rule: "microsecond file to nanoseconds: fraction multiplied by 1000 as read, cut to 32 bits",
    nano: true,
    file: () =>
      classic(
        {},
        record(0, frame(60), { fraction: 2_500_000 }),
        record(1, frame(60), { fraction: 0xfffffff0 }),
      ),
    ours: { packets: 2, warnings: { "fraction-over-second": 2 } },
    libpcap: "reads",
  },
  {
    rule: "fraction of a second or more in a big-endian file: written as read in the host's order",
    file: () =>
      classic({ le: false }, classicRecord({ le: false, seconds: T, fraction: 1_000_001, data: frame(60) })),
    ours: { packets: 1, warnings: { "fraction-over-second": 1 } },
    libpcap: "reads",
  },
  {
    rule: "nanosecond file to microseconds: fraction divided by 1000 as read",
    file: () =>
      classic(
        { nano: true },
        record(0, frame(60), { fraction: 1_500_000_123 }),
        // libpcap holds the fraction in a signed 32-bit field: this one is negative to it.
        record(1, frame(60), { fraction: 2_147_483_648 }),
        record(2, frame(60)),
      ),
    ours: { packets: 3, warnings: { "fraction-over-second": 2 } },
    libpcap: "reads",
  },
  {
    rule: "record cut short at the end: the read stops before it",
    file: () => classic({}, record(0, frame(60)), record(1, frame(60)).subarray(0, 40)),
    ours: { packets: 1, error: "truncated-record" },
    libpcap: "refuses",
  },
  {
    rule: "record over the snaplen cut short at the end: the read stops before it",
    file: () => classic({ snaplen: 50 }, record(0, frame(60)), record(1, frame(60)).subarray(0, 16 + 30)),
    ours: { packets: 1, error: "truncated-record", warnings: { "caplen-over-snaplen": 1 } },
    libpcap: "refuses",
  },
  {
    rule: "pcapng packet longer than its interface's snaplen: the read stops (Wireshark reads it)",
    pcapng: true,
    file: () => ng(shb(le), idb(le, { snaplen: 100 }), packet(0, frame(60)), packet(1, frame(150))),
    ours: { packets: 1, error: "caplen-over-snaplen" },
    libpcap: "refuses",
    capinfos: 2,
  },
  {
    rule: "pcapng packet with caplen above its original length: read as it is",
    pcapng: true,
    file: () => ng(shb(le), idb(le), packet(0, frame(80), { origlen: 60 })),
    ours: { packets: 1, warnings: { "caplen-over-origlen": 1 } },
    libpcap: "reads",
  },
  {
    rule: "Simple Packet Block shorter than min(original length, snaplen): the read stops",
    pcapng: true,
    file: () => ng(shb(le), idb(le), packet(0, frame(60)), spb(le, { data: frame(60), origlen: 100 })),
    ours: { packets: 1, error: "bad-block-length" },
    libpcap: "refuses",
  },
  {
    rule: "Simple Packet Block: no timestamp (time 0); captured length min(original length, snaplen)",
    pcapng: true,
    file: () => ng(shb(le), idb(le), spb(le, { data: frame(60) }), packet(1, frame(60))),
    ours: { packets: 2, warnings: { "no-timestamp": 1 } },
    libpcap: "reads",
  },
  {
    rule: "Simple Packet Block longer than the snaplen: cut to it (Wireshark 4.0 misreads the block)",
    pcapng: true,
    file: () => ng(shb(le), idb(le, { snaplen: 40 }), spb(le, { data: frame(60) })),
    ours: { packets: 1, warnings: { "no-timestamp": 1 } },
    libpcap: "reads",
    capinfos: 0,
  },
  ...[
    ["if_tsresol of 2 bytes", [option(9, [6, 0])]],
    ["two if_tsresol options", [option(9, [6]), option(9, [9])]],
    ["if_tsresol finer than 10^-19", [option(9, [20])]],
    ["if_tsresol finer than 2^-63", [option(9, [0x80 | 64])]],
    ["if_tsoffset of 4 bytes", [option(14, [0, 0, 0, 0])]],
    ["two if_tsoffset options", [option(14, u64le(0n)), option(14, u64le(1n))]],
    ["opt_endofopt of 4 bytes", [option(0, [0, 0, 0, 0])]],
  ].map(
    ([what, options]): Rule => ({
      rule: `interface with ${what as string}: refused (Wireshark reads it)`,
      pcapng: true,
      file: () => ng(shb(le), idb(le, { options: options as Option[] }), packet(0, frame(60))),
      ours: { packets: 0, error: "bad-option" },
      libpcap: "refuses",
      capinfos: 1,
    }),
  ),
  {
    rule: "pcapng section version 1.1: refused",
    pcapng: true,
    file: () => ng(shb(le, { versionMinor: 1 }), idb(le), packet(0, frame(60))),
    ours: { packets: 0, error: "unsupported-version" },
    libpcap: "refuses",
    capinfos: null,
  },
  {
    rule: "pcapng section version 1.2: read as 1.0",
    pcapng: true,
    file: () => ng(shb(le, { versionMinor: 2 }), idb(le), packet(0, frame(60))),
    ours: { packets: 1 },
    libpcap: "reads",
  },
  {
    rule: "packet block option running past its block: read, options are not read (Wireshark stops)",
    pcapng: true,
    file: () => ng(shb(le), idb(le), packetWithBrokenOption(0), packet(1, frame(60))),
    ours: { packets: 2 },
    libpcap: "reads",
    capinfos: 0,
  },
  {
    rule: "section header option running past its block: read, options are not read",
    pcapng: true,
    file: () => ng(sectionWithBrokenOption(), idb(le), packet(0, frame(60))),
    ours: { packets: 1 },
    libpcap: "reads",
    capinfos: null,
  },
  {
    rule: "pcapng interface snaplen 0: 262144 written",
    pcapng: true,
    file: () => ng(shb(le), idb(le, { snaplen: 0 }), packet(0, frame(60))),
    ours: { packets: 1 },
    libpcap: "reads",
  },
  {
    rule: "pcapng interface snaplen above 262144: kept",
    pcapng: true,
    file: () => ng(shb(le), idb(le, { snaplen: 524288 }), packet(0, frame(60))),
    ours: { packets: 1 },
    libpcap: "reads",
  },
  {
    rule: "if_fcslen: not written into the link-type field",
    pcapng: true,
    file: () => ng(shb(le), idb(le, { options: [option(13, [4])] }), packet(0, frame(64))),
    ours: { packets: 1 },
    libpcap: "reads",
  },
  {
    rule: "nanosecond pcapng: kept in nanoseconds",
    pcapng: true,
    nano: true,
    file: () =>
      ng(
        shb(le),
        idb(le, { tsresol: 9 }),
        epb(le, { units: BigInt(T) * 1_000_000_000n + 123n, data: frame(60) }),
      ),
    ours: { packets: 1 },
    libpcap: "reads",
  },
  {
    rule: "interfaces with different snaplens: read (libpcap refuses); the larger is written",
    pcapng: true,
    file: () =>
      ng(
        shb(le),
        idb(le, { snaplen: 100 }),
        idb(le, { snaplen: 200 }),
        packet(0, frame(60), { interfaceId: 1 }),
      ),
    ours: { packets: 1 },
    libpcap: "refuses",
    capinfos: 1,
  },
  {
    rule: "a time before 1970 (if_tsoffset): read; convert refuses it where tcpdump wraps it",
    pcapng: true,
    file: () => ng(shb(le), idb(le, { tsoffset: -2_000_000_000_000n }), packet(0, frame(60))),
    ours: { packets: 1 },
    libpcap: "reads",
    convertError: "timestamp-out-of-range",
  },
  {
    rule: "unknown block of any size: skipped",
    pcapng: true,
    file: () => ng(shb(le), idb(le), block(0x00000bad, Buffer.alloc(64), le), packet(0, frame(60))),
    ours: { packets: 1 },
    libpcap: "reads",
  },
];

const skip = missingTools("tcpdump", "capinfos");
let dir = "";

function run(command: string, args: string[]): { code: number; stdout: string } {
  const result = spawnSync(command, args, { encoding: "utf8" });
  return { code: result.status ?? -1, stdout: result.stdout };
}

// capinfos' count: its table, or after an error that ends the read, the count its message names; null when
// it cannot open the file at all.
function capinfosPackets(path: string): number | null {
  const result = spawnSync("capinfos", ["-T", "-r", "-M", "-c", path], { encoding: "utf8" });
  const fields = result.stdout.trim().split("\t");
  if (fields.length >= 2 && /^\d+$/.test(fields[1]!)) return Number(fields[1]);
  const stopped = /An error occurred after reading (\d+) packets/.exec(result.stderr);
  return stopped ? Number(stopped[1]) : null;
}

describe.skipIf(skip !== null)("reading as libpcap reads, rule by rule, against tcpdump and capinfos", () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "pcap-rules-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  rules.forEach((rule, index) => {
    it(rule.rule, async () => {
      const input = join(dir, `${index}.${rule.pcapng ? "pcapng" : "pcap"}`);
      const theirs = join(dir, `${index}.tcpdump.pcap`);
      const ours = join(dir, `${index}.ours.pcap`);
      writeFileSync(input, rule.file());

      const summary = await inspectCapture(input);
      expect(summary.packets).toBe(rule.ours.packets);
      expect(summary.error?.reason ?? null).toBe(rule.ours.error ?? null);
      expect(summary.warnings).toMatchObject({
        "caplen-over-snaplen": 0,
        "caplen-over-origlen": 0,
        "fraction-over-second": 0,
        "no-timestamp": 0,
        ...rule.ours.warnings,
      });

      const precision = rule.nano ? ["--time-stamp-precision", "nano"] : [];
      const tcpdump = run("tcpdump", [...precision, "-r", input, "-w", theirs]);
      expect(tcpdump.code === 0 ? "reads" : "refuses").toBe(rule.libpcap);

      const expectedCapinfos = rule.capinfos === undefined ? rule.ours.packets : rule.capinfos;
      expect(capinfosPackets(input)).toBe(expectedCapinfos);

      const converted = await convertCapture(input, ours, { precision: rule.nano ? "nano" : "micro" }).catch(
        (error: unknown) => error,
      );
      const tcpdumpWrote = existsSync(theirs) && readFileSync(theirs).length > 0;
      if (rule.convertError) {
        expect(converted).toMatchObject({ error: { reason: rule.convertError } });
      } else if (rule.libpcap === "reads") {
        expect(converted).toMatchObject({ error: null });
        expect(readFileSync(ours).equals(readFileSync(theirs))).toBe(true);
      } else if (rule.ours.error !== undefined && tcpdumpWrote) {
        // Both stop part way: tcpdump's output holds the packets before the problem, and so does our salvage.
        expect(converted).toMatchObject({ error: { reason: rule.ours.error } });
        expect(readFileSync(ours).equals(readFileSync(theirs))).toBe(true);
      } else if (rule.ours.error !== undefined) {
        // tcpdump refused the file before writing anything, and so do we.
        expect(converted).toMatchObject({ reason: rule.ours.error });
        expect(existsSync(ours)).toBe(false);
      }
    });
  });
});
