import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CLI } from "./testing/master-process.js";

// Issue 17, case 5: check-config checks what run would meet on this machine, on real folders, interfaces
// and users, and run refuses the same config with the same problems.
const built = existsSync(CLI);
if (!built) console.warn(`skipping the check-config machine tests: ${CLI} is not built`);
const root = process.getuid?.() === 0;
const dir = mkdtempSync(join(tmpdir(), "master-check-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = (...parts: string[]) => join(dir, ...parts);

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

function config(name: string, content: unknown): string {
  const path = at(`${name}.json`);
  writeFileSync(path, JSON.stringify(content, null, 2));
  return path;
}

/** The JSON paths check-config printed for `file`, in order. */
const paths = (out: string, file: string) =>
  out
    .trim()
    .split("\n")
    .map((line) => line.slice(`${file}: `.length).split(": ")[0]);

describe.skipIf(!built)("sluice-master check-config on this machine", () => {
  it("lists a bad filter, a missing interface, a bad port, a missing user and a relative spool, each at its path", () => {
    mkdirSync(at("n1"), { recursive: true });
    const file = config("many", {
      spool: "spool",
      user: "no-such-user-sluice",
      sources: [
        { type: "interface", name: "gone", interface: "nosuch0" },
        { type: "interface", name: "lo", interface: "lo", filter: "tcp port 80 andd" },
        { type: "socket", name: "remote", listen: "127.0.0.1:99999" },
      ],
      pools: [{ name: "p", nodes: [{ name: "n1", path: at("n1") }] }],
    });
    const { code, out } = cli("check-config", file);
    expect(code).toBe(1);
    // The schema's problems first, then the machine's: all of them, not the first only.
    expect(paths(out, file)).toEqual([
      "$.spool",
      "$.sources[2].listen",
      "$.user",
      "$.sources[0].interface",
      "$.sources[1].filter",
    ]);
    expect(out).toContain(`${file}: $.spool: must be an absolute path`);
    expect(out).toContain(`${file}: $.user: no user named "no-such-user-sluice" on this machine`);
    expect(out).toContain(`${file}: $.sources[0].interface: no interface named "nosuch0"`);
    expect(out).toMatch(/\$\.sources\[1\]\.filter: BPF filter "tcp port 80 andd" does not compile: /);
    expect(out).toContain(`${file}: $.sources[2].listen: expected "host:port"`);
  });

  it("refuses zero sources and destinations inside the spool, inside each other or under a file", () => {
    writeFileSync(at("plain-file"), "not a folder");
    const file = config("folders", {
      spool: at("spool"),
      pools: [
        {
          name: "p",
          nodes: [
            { name: "n1", path: at("spool", "out") },
            { name: "n2", path: at("n2") },
          ],
        },
      ],
      alone: [
        { name: "arkime", path: at("n2", "arkime") },
        { name: "store", path: at("plain-file", "store") },
      ],
    });
    const { code, out } = cli("check-config", file);
    expect(code).toBe(1);
    expect(paths(out, file)).toEqual([
      "$.sources",
      "$.pools[0].nodes[0].path",
      "$.alone[0].path",
      "$.alone[1].path",
    ]);
    expect(out).toContain(
      `$.pools[0].nodes[0].path: ${at("spool", "out")} is inside the spool ${at("spool")}`,
    );
    expect(out).toContain(
      `$.alone[0].path: ${at("n2", "arkime")} is inside ${at("n2")}, the folder of pools.0.nodes.1`,
    );
    expect(out).toContain(
      `$.alone[1].path: ${at("plain-file", "store")}: ${at("plain-file")} is not a folder`,
    );
  });

  it.skipIf(!root)("refuses a spool the capture user cannot write", () => {
    mkdirSync(at("root-spool"), { mode: 0o755 });
    mkdirSync(at("n3"), { recursive: true });
    const file = config("user", {
      spool: at("root-spool"),
      user: "nobody",
      sources: [{ type: "interface", name: "lo", interface: "lo" }],
      pools: [{ name: "p", nodes: [{ name: "n3", path: at("n3") }] }],
    });
    const { code, out } = cli("check-config", file);
    expect(code).toBe(1);
    expect(paths(out, file)).toEqual(["$.spool"]);
    expect(out).toContain(`cannot be created: ${at("root-spool")} is not writable by user nobody`);
  });

  it("accepts a config this machine can run, and run refuses the bad one with the same problems", () => {
    mkdirSync(at("n4"), { recursive: true });
    const good = {
      spool: at("good-spool"),
      sources: [{ type: "interface", name: "lo", interface: "lo", filter: "tcp port 80" }],
      pools: [{ name: "p", nodes: [{ name: "n4", path: at("n4") }] }],
    };
    const ok = cli("check-config", config("good", good));
    expect(ok.out).toContain("ok (1 sources, 1 pools of 1 nodes, 0 alone)");
    expect(ok.code).toBe(0);
    const bad = config("bad-run", {
      ...good,
      sources: [{ type: "interface", name: "lo", interface: "nosuch0", filter: "tcp port" }],
    });
    const checked = cli("check-config", bad);
    const run = cli("run", "--config", bad);
    expect(run.code).toBe(1);
    for (const line of checked.out.trim().split("\n")) {
      expect(run.err).toContain(line.slice(`${bad}: `.length));
    }
    expect(run.err).toContain("$.sources[0].interface: no interface named");
    expect(run.err).toContain('$.sources[0].filter: BPF filter "tcp port" does not compile');
    // Nothing was opened: the spool was not even created.
    expect(existsSync(at("good-spool"))).toBe(false);
  });

  it("checks only the schema with --schema-only, for a config written for another machine", () => {
    const file = config("elsewhere", {
      spool: at("elsewhere-spool"),
      sources: [{ type: "interface", name: "span", interface: "nosuch0" }],
      pools: [{ name: "p", nodes: [{ name: "n", path: at("elsewhere-node") }] }],
    });
    expect(cli("check-config", file).code).toBe(1);
    expect(cli("check-config", "--schema-only", file)).toMatchObject({ code: 0 });
  });
});
