import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PcapWriter } from "@sluice/pcap-format";
import { capinfos, editcap, mergecap, missingTools, randpkt, tool, tsharkFrames } from "@sluice/testlab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const skip = existsSync(CLI)
  ? missingTools("randpkt", "editcap", "mergecap", "tshark", "capinfos", "tcpdump")
  : `${CLI} is not built (npm run build)`;
if (skip) console.warn(`skipping sluice-pcap tests: ${skip}`);

interface Run {
  code: number;
  stdout: string;
  stdoutBytes: Buffer;
  stderr: string;
}

function sluicePcap(args: string[], input?: Buffer): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      "node",
      [CLI, ...args],
      { encoding: "buffer", maxBuffer: 1 << 28 },
      (error, stdout, stderr) => {
        const code = error ? Number(error.code ?? 1) : 0;
        resolve({ code, stdout: stdout.toString(), stdoutBytes: stdout, stderr: stderr.toString() });
      },
    );
    if (input) child.stdin!.end(input);
    else child.stdin!.end();
  });
}

let dir = "";
const path = (name: string): string => join(dir, name);

describe.skipIf(skip !== null)("sluice-pcap", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "sluice-pcap-"));
    randpkt(path("raw.pcap"), "tcp", 300, 2500);
    await editcap(["-t", "1700000000.000000321", "-F", "nsecpcap", path("raw.pcap"), path("nsec.pcap")]);
    await editcap(["-F", "pcap", path("nsec.pcap"), path("usec.pcap")]);
    await editcap(["-F", "pcapng", path("nsec.pcap"), path("nsec.pcapng")]);
    randpkt(path("usb.pcap"), "usb-linux", 40, 300);
    await mergecap(["-F", "pcapng", "-w", path("two.pcapng"), path("usec.pcap"), path("usb.pcap")]);
    const whole = readFileSync(path("usec.pcap"));
    writeFileSync(path("cut.pcap"), whole.subarray(0, whole.length - 7));
    // Records of up to 300 bytes under a header that says snaplen 100, one longer than its original length.
    const oversnap = PcapWriter.create(path("oversnap.pcap"), { linkType: 1, snaplen: 300 });
    for (const [i, [size, original]] of [
      [60, 60],
      [150, 150],
      [80, 70],
      [300, 300],
    ].entries()) {
      oversnap.writePacket({
        seconds: i,
        nanoseconds: 0,
        data: Buffer.alloc(size!, i),
        originalLength: original!,
      });
    }
    await oversnap.close();
    const header = readFileSync(path("oversnap.pcap"));
    header.writeUInt32LE(100, 16);
    writeFileSync(path("oversnap.pcap"), header);
    // pcapng: a section, an Ethernet interface and one Simple Packet Block (no timestamp) of 60 bytes.
    writeFileSync(
      path("simple.pcapng"),
      Buffer.concat([
        Buffer.from("0a0d0d0a1c0000004d3c2b1a01000000ffffffffffffffff1c000000", "hex"),
        Buffer.from("0100000014000000010000000000000014000000", "hex"),
        Buffer.from("030000004c0000003c000000", "hex"),
        Buffer.alloc(60, 0xab),
        Buffer.from("4c000000", "hex"),
      ]),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  describe("info", () => {
    it("prints the JSON contract with values capinfos and tshark agree with", async () => {
      const run = await sluicePcap(["info", "--json", path("nsec.pcapng")]);
      expect(run.code).toBe(0);
      const info = JSON.parse(run.stdout);
      const truth = await capinfos(path("nsec.pcapng"));
      const times = (await tsharkFrames(path("nsec.pcapng"))).map((f) => f.time).sort();
      expect(info).toEqual({
        file: path("nsec.pcapng"),
        format: "pcapng",
        endianness: "little",
        precision: "nano",
        linktypes: [6],
        snaplen: 2500,
        packets: truth.packets,
        bytes: truth.dataBytes,
        originalBytes: truth.dataBytes,
        firstTime: times[0],
        lastTime: times.at(-1),
        complete: true,
        error: null,
        warnings: {
          "caplen-over-snaplen": 0,
          "caplen-over-origlen": 0,
          "fraction-over-second": 0,
          "no-timestamp": 0,
        },
      });
    });

    it("reads records over the snaplen on as libpcap does, counts them, and agrees with capinfos", async () => {
      const run = await sluicePcap(["info", "--json", path("oversnap.pcap")]);
      expect(run.code).toBe(0);
      const info = JSON.parse(run.stdout);
      const truth = await capinfos(path("oversnap.pcap"));
      expect(info).toMatchObject({ complete: true, packets: truth.packets, originalBytes: truth.dataBytes });
      expect(info.warnings).toMatchObject({ "caplen-over-snaplen": 2, "caplen-over-origlen": 1 });
      const human = await sluicePcap(["info", path("oversnap.pcap")]);
      expect(human.stdout).toMatch(/^Warnings: +caplen-over-snaplen 2, caplen-over-origlen 1$/m);
    });

    it("reports no first or last time for a capture whose only packet has none, as capinfos", async () => {
      const run = await sluicePcap(["info", "--json", path("simple.pcapng")]);
      const info = JSON.parse(run.stdout);
      expect(info).toMatchObject({ packets: 1, firstTime: null, lastTime: null, complete: true });
      expect(info.warnings["no-timestamp"]).toBe(1);
      const table = await tool("capinfos", ["-T", "-r", "-a", "-e", path("simple.pcapng")]);
      expect(table.trim().split("\t").slice(1)).toEqual(["n/a", "n/a"]);
    });

    it("prints an array for several files and exits 1 when one is incomplete", async () => {
      const run = await sluicePcap(["info", "--json", path("usec.pcap"), path("cut.pcap")]);
      expect(run.code).toBe(1);
      const [whole, cut] = JSON.parse(run.stdout);
      expect(whole).toMatchObject({ format: "pcap", precision: "micro", complete: true, packets: 300 });
      expect(cut).toMatchObject({
        complete: false,
        packets: 299,
        error: { code: "ERR_PCAP_FORMAT", reason: "truncated-record" },
      });
      expect(cut.error.offset).toBeGreaterThan(24);
    });

    it("reports an unreadable file in its record and goes on with the others", async () => {
      const run = await sluicePcap(["info", "--json", path("missing.pcap"), path("usec.pcap")]);
      expect(run.code).toBe(1);
      const [missing, ok] = JSON.parse(run.stdout);
      expect(missing).toMatchObject({ complete: false, error: { code: "ENOENT", offset: null } });
      expect(ok.complete).toBe(true);
    });

    it("reads standard input for -", async () => {
      const run = await sluicePcap(["info", "--json", "-"], readFileSync(path("usec.pcap")));
      expect(JSON.parse(run.stdout)).toMatchObject({ file: "-", packets: 300, complete: true });
    });

    it("prints a readable summary without --json", async () => {
      const run = await sluicePcap(["info", path("cut.pcap")]);
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/^Packets: +299$/m);
      expect(run.stdout).toMatch(/^Complete: +no: .*truncated-record at byte \d+/m);
    });
  });

  describe("verify", () => {
    it("prints one line per file with the first problem's offset", async () => {
      const run = await sluicePcap(["verify", path("usec.pcap"), path("cut.pcap"), path("missing.pcap")]);
      expect(run.code).toBe(1);
      const lines = run.stdout.trim().split("\n");
      expect(lines).toHaveLength(3);
      expect(lines[0]).toBe(`${path("usec.pcap")}: ok, 300 packets`);
      expect(lines[1]).toMatch(/: truncated-record at byte \d+: .*\(299 packets before it\)$/);
      expect(lines[2]).toMatch(/missing\.pcap: ENOENT/);
    });

    it("exits 0 when every file is complete", async () => {
      const run = await sluicePcap(["verify", path("usec.pcap"), path("nsec.pcapng")]);
      expect(run.code).toBe(0);
    });

    it("names the warnings of a complete file on its line and still exits 0", async () => {
      const run = await sluicePcap(["verify", path("oversnap.pcap")]);
      expect(run.code).toBe(0);
      expect(run.stdout).toBe(
        `${path("oversnap.pcap")}: ok, 4 packets; warnings: caplen-over-snaplen 2, caplen-over-origlen 1\n`,
      );
    });
  });

  describe("convert", () => {
    it("writes what tcpdump -r -w writes", async () => {
      const run = await sluicePcap([
        "convert",
        path("nsec.pcapng"),
        "-o",
        path("out.pcap"),
        "--precision",
        "micro",
      ]);
      expect(run.code).toBe(0);
      await tool("tcpdump", ["-r", path("nsec.pcapng"), "-w", path("tcpdump.pcap")]);
      expect(readFileSync(path("out.pcap")).equals(readFileSync(path("tcpdump.pcap")))).toBe(true);
    });

    it("keeps nanoseconds by default and streams stdin to stdout", async () => {
      const run = await sluicePcap(["convert", "-", "-o", "-"], readFileSync(path("nsec.pcapng")));
      expect(run.code).toBe(0);
      writeFileSync(path("piped.pcap"), run.stdoutBytes);
      expect(run.stdoutBytes.readUInt32LE(0)).toBe(0xa1b23c4d);
      expect((await tsharkFrames(path("piped.pcap"))).map((f) => f.time)).toEqual(
        (await tsharkFrames(path("nsec.pcapng"))).map((f) => f.time),
      );
    });

    it("refuses several link types with a clear error and writes nothing", async () => {
      const run = await sluicePcap(["convert", path("two.pcapng"), "-o", path("two.pcap")]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/unsupported-conversion at byte \d+: interfaces have link types 6 and 189/);
      expect(existsSync(path("two.pcap"))).toBe(false);
    });

    it("writes records over the snaplen cut to it, as tcpdump -r -w does, and names the warnings", async () => {
      const run = await sluicePcap(["convert", path("oversnap.pcap"), "-o", path("oversnap.out")]);
      expect(run.code).toBe(0);
      expect(run.stderr).toMatch(/4 packets, pcap → pcap \(micro\); warnings: caplen-over-snaplen 2/);
      await tool("tcpdump", ["-r", path("oversnap.pcap"), "-w", path("oversnap.tcpdump")]);
      expect(readFileSync(path("oversnap.out")).equals(readFileSync(path("oversnap.tcpdump")))).toBe(true);
    });

    it("says in --help what the README says about a damaged input", async () => {
      const help = (await sluicePcap(["convert", "--help"])).stdout;
      expect(help).toMatch(/a damaged IN is salvaged: the packets before the\s+problem are written/);
      expect(help).not.toMatch(/OUT appears only when complete/);
      const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
      expect(readme).toMatch(
        /A truncated or damaged\s+input is salvaged: every packet before the\s+problem is converted/,
      );
    });

    it("salvages the complete records of a cut file and exits 1", async () => {
      const run = await sluicePcap(["convert", path("cut.pcap"), "-o", path("salvaged.pcap")]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/truncated-record at byte \d+.*wrote the 299 packets/);
      expect((await capinfos(path("salvaged.pcap"))).packets).toBe(299);
    });
  });

  describe("split", () => {
    it("names the warnings of what it read on a line of its own", async () => {
      const run = await sluicePcap(["split", path("oversnap.pcap"), "--parts", "2", "-o", path("parts")]);
      expect(run.code).toBe(0);
      expect(run.stderr).toContain(
        `sluice-pcap: ${path("oversnap.pcap")}: warnings: caplen-over-snaplen 2, caplen-over-origlen 1\n`,
      );
    });
  });

  describe("usage", () => {
    it("exits 2 with a message for unknown commands, flags and values", async () => {
      for (const args of [
        [],
        ["frobnicate"],
        ["info"],
        ["info", "--bogus", "x"],
        ["convert", "x"],
        ["convert", "x", "-o", "y", "--precision", "pico"],
      ]) {
        const run = await sluicePcap(args);
        expect(run.code, args.join(" ")).toBe(2);
        expect(run.stderr).toMatch(/^sluice-pcap: .+\n\nUsage: sluice-pcap/);
      }
    });

    it("prints help on --help and exits 0", async () => {
      const run = await sluicePcap(["--help"]);
      expect(run.code).toBe(0);
      for (const command of ["info FILE", "verify FILE", "convert IN -o OUT"])
        expect(run.stdout).toContain(command);
    });
  });
});
