import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { labUnavailableReason } from "./availability.js";
import { reportSkip } from "./test-helpers.js";

const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const sluiceLab = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });

describe("sluice-lab usage", () => {
  it("prints help on --help and exits 0", () => {
    const result = sluiceLab("--help");
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("sluice-lab capture -o FILE --bytes SIZE");
  });

  it("exits 2 with a message for missing or unknown commands, flags and values", () => {
    const cases: [string[], RegExp][] = [
      [[], /missing command/],
      [["frobnicate"], /unknown command "frobnicate"/],
      [["capture", "--bytes", "1M"], /capture needs -o FILE/],
      [["capture", "-o", "x.pcap"], /capture needs --bytes SIZE/],
      [["capture", "-o", "x.pcap", "--bytes", "lots"], /--bytes: not a size: "lots"/],
      [["capture", "-o", "x.pcap", "--bytes", "1M", "--precision", "pico"], /--precision is micro or nano/],
      [["capture", "-o", "x.pcap", "--bytes", "1M", "--snaplen", "0"], /--snaplen must be an integer/],
      [["capture", "-o", "x.pcap", "--bytes", "1M", "--colour"], /Unknown option '--colour'/],
      [["cleanup", "now"], /cleanup takes no arguments/],
    ];
    for (const [args, message] of cases) {
      const result = sluiceLab(...args);
      expect({ args, status: result.status }).toEqual({ args, status: 2 });
      expect(result.stderr).toMatch(message);
      expect(result.stderr).toContain("Usage:");
    }
  });
});

const reason = labUnavailableReason();
reportSkip(reason, "sluice-lab capture tests");

describe.skipIf(reason !== null)("sluice-lab capture", () => {
  const dir = mkdtempSync(join(tmpdir(), "testlab-cli-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes a capture of at least SIZE bytes and prints one JSON line about it", () => {
    const file = join(dir, "cli.pcap");
    const result = sluiceLab("capture", "-o", file, "--bytes", "300K", "--precision", "nano");
    expect(result.status, result.stderr).toBe(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const made = JSON.parse(lines[0] ?? "");
    expect(made).toMatchObject({ path: file, bytes: statSync(file).size, droppedByKernel: 0 });
    expect(made.bytes).toBeGreaterThanOrEqual(300e3);
    expect(made.packets).toBeGreaterThan(100);
    expect(made.seconds).toBeGreaterThan(0);
  });

  it("reports removed namespaces on cleanup", () => {
    const result = sluiceLab("cleanup");
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ removed: expect.any(Array) });
  });
});
