import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, runNode } from "./testing/node-process.js";

// Issue 17, case 5 for the node: a mistyped incoming folder is refused, not created and watched forever.
const built = existsSync(CLI);
if (!built) console.warn(`skipping the node check-config machine tests: ${CLI} is not built`);
const dir = mkdtempSync(join(tmpdir(), "node-check-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = (...parts: string[]) => join(dir, ...parts);

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

function config(name: string, content: Record<string, unknown>): string {
  const path = at(`${name}.json`);
  writeFileSync(
    path,
    JSON.stringify({
      output: { type: "fifo", path: at(`${name}.fifo`) },
      failed: at(name, "failed"),
      stateDir: at(name, "state"),
      ...content,
    }),
  );
  return path;
}

const paths = (out: string, file: string) =>
  out
    .trim()
    .split("\n")
    .map((line) => line.slice(`${file}: `.length).split(": ")[0]);

describe.skipIf(!built)("sluice-node check-config on this machine", () => {
  it("refuses a missing incoming folder, relative paths and a state dir under a file, each at its path", () => {
    writeFileSync(at("plain-file"), "not a folder");
    const file = config("bad", {
      incoming: at("typo", "in"),
      failed: "failed",
      stateDir: at("plain-file", "state"),
      after: { action: "move", path: "done" },
    });
    const { code, out } = cli("check-config", file);
    expect(code).toBe(1);
    expect(paths(out, file)).toEqual(["$.after.path", "$.failed", "$.incoming", "$.stateDir"]);
    expect(out).toContain(`${file}: $.failed: must be an absolute path`);
    expect(out).toContain(
      `${file}: $.incoming: ${at("typo", "in")} does not exist: create it (the master delivers there), or set "createIncoming": true`,
    );
    expect(out).toContain(
      `${file}: $.stateDir: ${at("plain-file", "state")}: ${at("plain-file")} is not a folder`,
    );
  });

  it("run refuses a missing incoming folder and does not create it", async () => {
    const file = config("missing", { incoming: at("missing", "in") });
    const node = runNode(file);
    expect(await node.exited).toBe(1);
    expect(node.stderr()).toContain(`$.incoming: ${at("missing", "in")} does not exist`);
    expect(existsSync(at("missing", "in"))).toBe(false);
    expect(existsSync(at("missing", "state"))).toBe(false);
  });

  it("creates incoming when createIncoming is set, and check-config accepts it", async () => {
    const file = config("create", { incoming: at("create", "in"), createIncoming: true });
    expect(cli("check-config", file)).toMatchObject({ code: 0 });
    const node = runNode(file);
    await node.event("watching");
    expect(existsSync(at("create", "in"))).toBe(true);
    node.child.kill("SIGTERM");
    expect(await node.exited).toBe(0);
    mkdirSync(at("exists", "in"), { recursive: true });
    expect(cli("check-config", config("exists", { incoming: at("exists", "in") }))).toMatchObject({
      code: 0,
    });
  });
});
