import * as fs from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SpoolError } from "./errors.js";
import { moveFile, setAside } from "./move.js";
import { numberedName, publishFile, stageCopy } from "./publish.js";
import { scratch, visible } from "./testing/scratch.js";
import { writeFileAtomic } from "./write-file.js";

const removers: (() => void)[] = [];
afterEach(() => {
  for (const remove of removers.splice(0)) remove();
});

function folder() {
  const { dir, remove } = scratch();
  removers.push(remove);
  return (...parts: string[]) => join(dir, ...parts);
}

describe("publishFile", () => {
  it("links the staged file under its final name and removes the staged name", async () => {
    const at = folder();
    fs.writeFileSync(at(".x.pcap.partial"), "whole");
    expect(await publishFile(at(".x.pcap.partial"), at(), "x.pcap")).toBe("x.pcap");
    expect(visible(at())).toEqual(["x.pcap"]);
    expect(fs.readFileSync(at("x.pcap"), "utf8")).toBe("whole");
  });

  it("never replaces a different file: conflict, or the next name when asked", async () => {
    const at = folder();
    fs.writeFileSync(at("x.pcap"), "theirs");
    fs.writeFileSync(at(".x.pcap.partial"), "ours");
    const error = await publishFile(at(".x.pcap.partial"), at(), "x.pcap").catch((e: unknown) => e);
    expect(SpoolError.isInstance(error) && error.reason).toBe("conflict");
    const name = await publishFile(at(".x.pcap.partial"), at(), "x.pcap", {
      onConflict: (n) => numberedName("x.pcap", n),
    });
    expect(name).toBe("x-1.pcap");
    expect(fs.readFileSync(at("x.pcap"), "utf8")).toBe("theirs");
    expect(fs.readFileSync(at("x-1.pcap"), "utf8")).toBe("ours");
  });

  it("counts a final name already linked to the staged file as published (a restart mid-publish)", async () => {
    const at = folder();
    fs.writeFileSync(at(".x.pcap.partial"), "ours");
    fs.linkSync(at(".x.pcap.partial"), at("x.pcap"));
    expect(await publishFile(at(".x.pcap.partial"), at(), "x.pcap")).toBe("x.pcap");
    expect(visible(at())).toEqual(["x.pcap"]);
  });

  it("refuses to rename over a file in rename mode", async () => {
    const at = folder();
    fs.writeFileSync(at("x.pcap"), "theirs");
    fs.writeFileSync(at(".x.pcap.partial"), "ours");
    const error = await publishFile(at(".x.pcap.partial"), at(), "x.pcap", { mode: "rename" }).catch(
      (e: unknown) => e,
    );
    expect(SpoolError.isInstance(error) && error.reason).toBe("conflict");
    expect(fs.readFileSync(at("x.pcap"), "utf8")).toBe("theirs");
  });
});

describe("stageCopy", () => {
  it("links when allowed, and otherwise copies keeping the modification time", async () => {
    const at = folder();
    fs.writeFileSync(at("source"), "bytes");
    expect(await stageCopy(at("source"), at(".linked"), true)).toBe("link");
    expect(fs.statSync(at(".linked")).ino).toBe(fs.statSync(at("source")).ino);
    expect(await stageCopy(at("source"), at(".copied"), false)).toBe("copy");
    expect(fs.statSync(at(".copied")).ino).not.toBe(fs.statSync(at("source")).ino);
    expect(fs.statSync(at(".copied")).mtimeMs).toBeCloseTo(fs.statSync(at("source")).mtimeMs, 0);
  });
});

describe("moveFile", () => {
  it("moves a file in without replacing one of the same name there: the mover takes the next name", async () => {
    const at = folder();
    fs.mkdirSync(at("done"));
    fs.writeFileSync(at("done", "x.pcap"), "older");
    fs.writeFileSync(at("x.pcap"), "newer");
    expect(await moveFile(at("x.pcap"), at("done"))).toBe(at("done", "x-1.pcap"));
    expect(fs.readFileSync(at("done", "x.pcap"), "utf8")).toBe("older");
    expect(fs.readFileSync(at("done", "x-1.pcap"), "utf8")).toBe("newer");
    expect(visible(at())).toEqual(["done"]);
  });

  it("fails with a conflict when told not to take another name", async () => {
    const at = folder();
    fs.mkdirSync(at("done"));
    fs.writeFileSync(at("done", "x.pcap"), "older");
    fs.writeFileSync(at("x.pcap"), "newer");
    const error = await moveFile(at("x.pcap"), at("done"), "x.pcap", { onConflict: "fail" }).catch(
      (e: unknown) => e,
    );
    expect(SpoolError.isInstance(error) && error.reason).toBe("conflict");
    expect(fs.readFileSync(at("x.pcap"), "utf8")).toBe("newer");
  });

  it("finishes a move a crash cut short between link and unlink, without a second copy", async () => {
    const at = folder();
    fs.mkdirSync(at("done"));
    fs.writeFileSync(at("x.pcap"), "bytes");
    fs.linkSync(at("x.pcap"), at("done", "x.pcap"));
    expect(await moveFile(at("x.pcap"), at("done"))).toBe(at("done", "x.pcap"));
    expect(visible(at("done"))).toEqual(["x.pcap"]);
    expect(visible(at())).toEqual(["done"]);
  });

  it.skipIf(!fs.existsSync("/dev/shm"))(
    "moves across file systems: a staged copy published, then the source removed; a restart does not copy twice",
    async () => {
      const at = folder();
      const other = fs.mkdtempSync(join("/dev/shm", "sluice-spool-"));
      removers.push(() => fs.rmSync(other, { recursive: true, force: true }));
      fs.writeFileSync(at("x.pcap"), "bytes");
      expect(await moveFile(at("x.pcap"), other)).toBe(join(other, "x.pcap"));
      expect(fs.readdirSync(other)).toEqual(["x.pcap"]);
      expect(visible(at())).toEqual([]);
      // A crash after the copy was published and before the source went: the copy is recognised.
      fs.writeFileSync(at("y.pcap"), "more bytes");
      await moveFile(at("y.pcap"), other);
      fs.writeFileSync(at("y.pcap"), "more bytes");
      fs.utimesSync(
        at("y.pcap"),
        fs.statSync(join(other, "y.pcap")).atime,
        fs.statSync(join(other, "y.pcap")).mtime,
      );
      expect(await moveFile(at("y.pcap"), other)).toBe(join(other, "y.pcap"));
      expect(fs.readdirSync(other).sort()).toEqual(["x.pcap", "y.pcap"]);
    },
  );

  it("resolves to null for a file already gone", async () => {
    const at = folder();
    expect(await moveFile(at("gone.pcap"), at("done"))).toBeNull();
  });

  it("moves a symlink as the link, never what it points to", async () => {
    const at = folder();
    fs.writeFileSync(at("target"), "kept");
    fs.symlinkSync(at("target"), at("link.pcap"));
    const moved = await moveFile(at("link.pcap"), at("failed"));
    expect(moved).toBe(at("failed", "link.pcap"));
    expect(fs.readFileSync(at("target"), "utf8")).toBe("kept");
    expect(visible(at())).toEqual(["failed", "target"]);
  });

  it("sets a file aside with its reason beside it", async () => {
    const at = folder();
    fs.writeFileSync(at("bad.pcap"), "not a capture");
    const movedTo = await setAside(at("bad.pcap"), at("failed"), (to) => ({ reason: "bad-magic", to }));
    expect(visible(at("failed"))).toEqual(["bad.pcap", "bad.pcap.reason.json"]);
    expect(JSON.parse(fs.readFileSync(`${movedTo}.reason.json`, "utf8"))).toEqual({
      reason: "bad-magic",
      to: movedTo,
    });
  });
});

describe("writeFileAtomic", () => {
  it("replaces, or with replace false keeps what is there and says so", async () => {
    const at = folder();
    expect(await writeFileAtomic(at("a.json"), "1")).toBe(true);
    expect(await writeFileAtomic(at("a.json"), "2")).toBe(true);
    expect(await writeFileAtomic(at("a.json"), "3", { replace: false })).toBe(false);
    expect(fs.readFileSync(at("a.json"), "utf8")).toBe("2");
    expect(visible(at())).toEqual(["a.json"]);
  });
});
