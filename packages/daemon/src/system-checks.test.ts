import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { examineConfigFile } from "./config-file.js";
import { looseEntries, looseField, looseText } from "./loose-config.js";
import { folderWriteProblem, lookupUser } from "./system-checks.js";

const dir = mkdtempSync(join(tmpdir(), "daemon-checks-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const root = process.getuid?.() === 0;

describe("lookupUser", () => {
  it("finds root with uid 0 and its groups, and no user for a name nobody has", () => {
    expect(lookupUser("root")).toMatchObject({ name: "root", uid: 0, gid: 0 });
    expect(lookupUser("root")!.groups).toContain(0);
    expect(lookupUser("no-such-user-sluice")).toBeNull();
  });
});

describe("folderWriteProblem", () => {
  it("accepts a writable folder and a missing one whose parent is writable", () => {
    expect(folderWriteProblem(dir)).toBeNull();
    expect(folderWriteProblem(join(dir, "not", "yet"))).toBeNull();
  });

  it("names the file that stands where a folder should be", () => {
    writeFileSync(join(dir, "file"), "x");
    expect(folderWriteProblem(join(dir, "file"))).toBe("is not a folder");
    expect(folderWriteProblem(join(dir, "file", "sub"))).toBe(`${join(dir, "file")} is not a folder`);
  });

  it.skipIf(!root)("says when another user cannot write a folder, by owner and mode", () => {
    const locked = join(dir, "root-only");
    mkdirSync(locked);
    chmodSync(locked, 0o755);
    const nobody = lookupUser("nobody")!;
    expect(folderWriteProblem(locked, nobody)).toBe("is not writable by user nobody (owner 0:0, mode 755)");
    expect(folderWriteProblem(join(locked, "ready"), nobody)).toBe(
      `cannot be created: ${locked} is not writable by user nobody (owner 0:0, mode 755)`,
    );
    chmodSync(locked, 0o777);
    expect(folderWriteProblem(join(locked, "ready"), nobody)).toBeNull();
  });
});

describe("examineConfigFile", () => {
  const Schema = z.strictObject({ spool: z.string(), port: z.number().max(65_535) });
  // A check of the machine: reads the config loosely, since it also gets a refused config's raw JSON.
  const check = (config: unknown) => {
    const spool = looseText(looseField(config, "spool"));
    return spool === "/missing" ? [{ path: "$.spool", message: "no such folder" }] : [];
  };
  const write = (name: string, value: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(value));
    return path;
  };

  it("lists the schema's problems and the check's at once, even when the schema refused the config", async () => {
    const examined = await examineConfigFile(
      Schema,
      write("both.json", { spool: "/missing", port: 99_999 }),
      check,
    );
    expect(examined.config).toBeNull();
    expect(examined.problems.map((p) => p.path)).toEqual(["$.port", "$.spool"]);
  });

  it("gives the config when neither finds a problem", async () => {
    const examined = await examineConfigFile(Schema, write("good.json", { spool: "/ok", port: 80 }), check);
    expect(examined).toEqual({ config: { spool: "/ok", port: 80 }, problems: [] });
  });

  it("does not report a path twice when the schema already did", async () => {
    const twice = () => [{ path: "$.port", message: "again" }];
    const examined = await examineConfigFile(Schema, write("twice.json", { spool: "/ok", port: "x" }), twice);
    expect(examined.problems).toHaveLength(1);
  });

  it("reads what has the wrong shape as absent", () => {
    expect(looseField([1], "0")).toBeUndefined();
    expect(looseEntries({ 0: "a" })).toEqual([]);
    expect(looseEntries(["a"])).toEqual([[0, "a"]]);
    expect(looseText(3)).toBeUndefined();
  });
});
