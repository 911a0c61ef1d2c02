import { appendFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SpoolError } from "./errors.js";
import { Journal, parseLines } from "./journal.js";
import { scratch } from "./testing/scratch.js";

const removers: (() => void)[] = [];
afterEach(() => {
  for (const remove of removers.splice(0)) remove();
});

function dir(): string {
  const made = scratch("sluice-journal-");
  removers.push(made.remove);
  return made.dir;
}

describe("Journal", () => {
  it("reads back what was appended, in order, across reopening", async () => {
    const at = dir();
    const first = await Journal.open<{ n: number }>(at);
    expect(first.records).toEqual([]);
    await first.journal.append({ n: 1 }, { n: 2 });
    await first.journal.append({ n: 3 });
    await first.journal.close();
    const second = await Journal.open<{ n: number }>(at);
    expect(second.records).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    await second.journal.close();
  });

  it("gathers appends made while a write is in flight into one write (group commit), all durable", async () => {
    const at = dir();
    const { journal } = await Journal.open<{ n: number }>(at, "x.ndjson");
    await Promise.all(Array.from({ length: 200 }, (_, n) => journal.append({ n })));
    await journal.close();
    const lines = readFileSync(join(at, "x.ndjson"), "utf8").trim().split("\n");
    expect(lines.map((l) => JSON.parse(l).n)).toEqual(Array.from({ length: 200 }, (_, n) => n));
  });

  it("skips a line torn by a crash and reports it, then appends after the good ones", async () => {
    const at = dir();
    const { journal } = await Journal.open<{ n: number }>(at);
    await journal.append({ n: 1 });
    await journal.close();
    appendFileSync(join(at, "journal.ndjson"), '{"n":');
    const reopened = await Journal.open<{ n: number }>(at);
    expect(reopened.records).toEqual([{ n: 1 }]);
    expect(reopened.badLines).toEqual([{ line: 2, text: '{"n":' }]);
    await reopened.journal.compact(reopened.records);
    await reopened.journal.append({ n: 2 });
    await reopened.journal.close();
    expect(parseLines(readFileSync(join(at, "journal.ndjson"), "utf8")).records).toEqual([
      { n: 1 },
      { n: 2 },
    ]);
  });

  it("compacts to the records given and counts the backlog from there", async () => {
    const at = dir();
    const { journal } = await Journal.open<{ n: number }>(at);
    await journal.append({ n: 1 }, { n: 2 }, { n: 3 });
    expect(journal.backlog).toBe(3);
    await journal.compact([{ n: 3 }]);
    expect(journal.backlog).toBe(1);
    await journal.append({ n: 4 });
    await journal.close();
    expect((await Journal.open<{ n: number }>(at)).records).toEqual([{ n: 3 }, { n: 4 }]);
  });

  it("rejects appends after close with reason journal", async () => {
    const { journal } = await Journal.open<{ n: number }>(dir());
    await journal.close();
    const error = await journal.append({ n: 1 }).catch((e: unknown) => e);
    expect(SpoolError.isInstance(error) && error.reason).toBe("journal");
  });
});
