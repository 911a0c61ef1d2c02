import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
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
        firstTime: times[0],
        lastTime: times.at(-1),
        complete: true,
        error: null,
      });
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

    it("salvages the complete records of a cut file and exits 1", async () => {
      const run = await sluicePcap(["convert", path("cut.pcap"), "-o", path("salvaged.pcap")]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/truncated-record at byte \d+.*wrote the 299 packets/);
      expect((await capinfos(path("salvaged.pcap"))).packets).toBe(299);
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
