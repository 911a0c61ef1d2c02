import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { foldJournal, type JournalRecord, openJournal } from "./journal.js";
import { scratch } from "./testing/spool-files.js";

const removers: (() => void)[] = [];
afterEach(() => {
  for (const remove of removers.splice(0)) remove();
});

const plan = (name: string) => ({
  op: "file" as const,
  name,
  path: `/spool/${name}`,
  size: 10,
  at: 1,
  deliveries: [
    { key: "pool:p", dest: "n1", path: "/n1", state: "pending" as const },
    { key: "alone:a", dest: "a", path: "/a", state: "pending" as const },
  ],
});

describe("journal", () => {
  it("folds records into each open file's latest delivery states", () => {
    const records: JournalRecord[] = [
      plan("x.pcap"),
      { op: "staged", name: "x.pcap", key: "pool:p", dest: "n1", path: "/n1" },
      { op: "assign", name: "x.pcap", key: "pool:p", dest: "n2", path: "/n2" },
      { op: "done", name: "x.pcap", key: "alone:a", dest: "a", path: "/a" },
      plan("y.pcap"),
      { op: "complete", name: "y.pcap" },
    ];
    const replay = foldJournal(records);
    const { op: _, ...x } = plan("x.pcap");
    expect(replay.open).toEqual([
      {
        ...x,
        deliveries: [
          { key: "pool:p", dest: "n2", path: "/n2", state: "pending" },
          { key: "alone:a", dest: "a", path: "/a", state: "done" },
        ],
      },
    ]);
    expect([...replay.finished]).toEqual(["y.pcap"]);
  });

  it("ignores a torn last line and reports it", async () => {
    const { dir, remove } = scratch();
    removers.push(remove);
    writeFileSync(
      join(dir, "journal.ndjson"),
      `${JSON.stringify(plan("x.pcap"))}\n{"op":"done","name":"x.pc`,
    );
    const { journal, replay } = await openJournal(dir);
    await journal.close();
    expect(replay.open.map((f) => f.name)).toEqual(["x.pcap"]);
    expect(replay.badLines).toEqual([{ line: 2, text: '{"op":"done","name":"x.pc' }]);
  });

  it("keeps only open files when it compacts on open, and appends after them", async () => {
    const { dir, remove } = scratch();
    removers.push(remove);
    writeFileSync(
      join(dir, "journal.ndjson"),
      [plan("a.pcap"), { op: "complete", name: "a.pcap" }, plan("b.pcap")]
        .map((l) => `${JSON.stringify(l)}\n`)
        .join(""),
    );
    const { journal, replay } = await openJournal(dir);
    expect(replay.open.map((f) => f.name)).toEqual(["b.pcap"]);
    await Promise.all([
      journal.append({ op: "done", name: "b.pcap", key: "pool:p", dest: "n1", path: "/n1" }),
      journal.append({ op: "done", name: "b.pcap", key: "alone:a", dest: "a", path: "/a" }),
    ]);
    await journal.close();
    const lines = readFileSync(join(dir, "journal.ndjson"), "utf8").trim().split("\n");
    const records = lines.map((l) => JSON.parse(l) as JournalRecord);
    expect(records.map((r) => r.op)).toEqual(["file", "done", "done"]);
    expect(foldJournal(records).open[0]!.deliveries.map((d) => d.state)).toEqual(["done", "done"]);
  });
});
