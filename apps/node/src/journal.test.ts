import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ReplayJournal } from "./journal.js";

const root = mkdtempSync(join(tmpdir(), "node-journal-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("ReplayJournal", () => {
  it("remembers a finished file across reopening, by name, size and time", () => {
    const dir = join(root, "a");
    const first = new ReplayJournal(dir);
    first.open(() => true);
    first.record({ name: "x.pcap", size: 100, mtimeMs: 5 });
    first.close();
    const second = new ReplayJournal(dir);
    expect(second.open(() => true).map((e) => e.name)).toEqual(["x.pcap"]);
    expect(second.finished({ name: "x.pcap", size: 100, mtimeMs: 5 })).toBe(true);
    expect(second.finished({ name: "x.pcap", size: 101, mtimeMs: 5 })).toBe(false);
    expect(second.finished({ name: "y.pcap", size: 100, mtimeMs: 5 })).toBe(false);
    second.close();
  });

  it("drops entries of files no longer there and a line torn by a crash", () => {
    const dir = join(root, "b");
    const journal = new ReplayJournal(dir);
    journal.open(() => true);
    journal.record({ name: "gone.pcap", size: 1, mtimeMs: 1 });
    journal.record({ name: "kept.pcap", size: 2, mtimeMs: 2 });
    journal.close();
    appendFileSync(journal.path, '{"name":"torn.pc');
    const reopened = new ReplayJournal(dir);
    expect(reopened.open((e) => e.name !== "gone.pcap").map((e) => e.name)).toEqual(["kept.pcap"]);
    reopened.close();
    const lines = readFileSync(reopened.path, "utf8").trim().split("\n");
    expect(lines.map((l) => JSON.parse(l).name)).toEqual(["kept.pcap"]);
  });
});
