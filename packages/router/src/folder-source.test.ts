import { execFileSync } from "node:child_process";
import { appendFileSync, linkSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { readCaptureSync } from "@sluice/pcap-format";
import { hasTool } from "@sluice/testlab";
import { afterEach, describe, expect, it } from "vitest";
import { FolderSource, type IngestedFile, type RejectedFile } from "./folder-source.js";
import { makeSpoolFiles, scratch, visible } from "./testing/spool-files.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function setup(options: { stableMs?: number; incompleteAfterMs?: number } = {}) {
  const warnings: { event: string; fields: Record<string, unknown> | undefined }[] = [];
  const { dir, remove } = scratch("sluice-inbox-");
  cleanups.push(remove);
  const at = (n: string) => join(dir, n);
  mkdirSync(at("inbox"));
  const source = new FolderSource({
    name: "inbox",
    path: at("inbox"),
    spool: at("ready"),
    failed: at("failed"),
    stableMs: options.stableMs ?? 100,
    incompleteAfterMs: options.incompleteAfterMs ?? 400,
    rescanMs: 100,
    logger: { info() {}, warn: (event, fields) => warnings.push({ event, fields }), error() {} },
  });
  const files: IngestedFile[] = [];
  const rejected: RejectedFile[] = [];
  source.on("file", (f) => files.push(f));
  source.on("rejected", (r) => rejected.push(r));
  cleanups.push(() => source.stop());
  return { at, source, files, rejected, warnings };
}

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("FolderSource", () => {
  it("moves complete pcap and pcapng files into the spool, named by their first packet, with where they came from", async () => {
    const { at, source, files } = setup();
    const [made] = makeSpoolFiles(at("made"), 1);
    writeFileSync(at("inbox/capture.pcap"), made!.content);
    const ng = hasTool("editcap");
    if (ng) execFileSync("editcap", ["-F", "pcapng", made!.path, at("inbox/other.pcapng")]);
    await source.start();
    await waitFor(() => files.length === (ng ? 2 : 1));
    expect(visible(at("inbox"))).toEqual([]);
    const pcap = files.find((f) => f.format === "pcap")!;
    expect(pcap.name).toMatch(/^inbox-20251122T103000Z-\d{13}\.pcap$/);
    expect(readFileSync(pcap.path).equals(made!.content)).toBe(true);
    expect(JSON.parse(readFileSync(`${pcap.path}.json`, "utf8"))).toMatchObject({
      source: "inbox",
      origin: { path: at("inbox/capture.pcap") },
      packets: pcap.packets,
    });
    if (ng) expect(files.find((f) => f.format === "pcapng")!.name).toMatch(/\.pcapng$/);
  });

  it("waits for a file that is still being written", async () => {
    const { at, source, files } = setup({ stableMs: 150 });
    const [made] = makeSpoolFiles(at("made"), 1, 50_000);
    const bytes = made!.content;
    // Cut points inside records: every prefix is a torn capture, as a writer leaves it between writes.
    const cuts = [1000, 12_000, 23_000, 34_000, 45_000].map((cut) => tornCut(bytes, cut));
    writeFileSync(at("inbox/live.pcap"), bytes.subarray(0, cuts[0]));
    await source.start();
    for (let i = 1; i <= cuts.length; i++) {
      appendFileSync(at("inbox/live.pcap"), bytes.subarray(cuts[i - 1], cuts[i] ?? bytes.length));
      if (i === cuts.length) break;
      await source.scan(); // the inbox was listed with the file incomplete: nothing may be taken
      expect(files).toEqual([]);
    }
    await waitFor(() => files.length === 1);
    expect(readFileSync(files[0]!.path).equals(bytes)).toBe(true);
  });

  it("takes ready files in capture order: by first record, not by name", async () => {
    const { at, source, files } = setup();
    const made = makeSpoolFiles(at("made"), 2);
    writeFileSync(at("inbox/zz-first.pcap"), made[0]!.content);
    writeFileSync(at("inbox/aa-second.pcap"), made[1]!.content);
    await source.start();
    await waitFor(() => files.length === 2);
    expect(files.map((f) => basename(f.origin.path))).toEqual(["zz-first.pcap", "aa-second.pcap"]);
  });

  it("sets aside what is not a capture, and a capture that stays torn, with the reason and offset", async () => {
    const { at, source, files, rejected } = setup();
    const [made] = makeSpoolFiles(at("made"), 1);
    writeFileSync(at("inbox/notes.txt"), "not a capture at all");
    writeFileSync(at("inbox/torn.pcap"), made!.content.subarray(0, made!.content.length - 7));
    await source.start();
    await waitFor(() => rejected.length === 2);
    expect(files).toEqual([]);
    const byName = Object.fromEntries(rejected.map((r) => [r.path.split("/").pop(), r]));
    expect(byName["notes.txt"]).toMatchObject({ reason: "bad-magic", offset: 0 });
    expect(byName["torn.pcap"]).toMatchObject({ reason: "truncated-record" });
    expect(visible(at("failed")).sort()).toEqual([
      "notes.txt",
      "notes.txt.reason.json",
      "torn.pcap",
      "torn.pcap.reason.json",
    ]);
    expect(JSON.parse(readFileSync(at("failed/torn.pcap.reason.json"), "utf8")).offset).toBeGreaterThan(24);
  });

  it("leaves symlinks and hidden files alone", async () => {
    const { at, source, files, rejected, warnings } = setup();
    const [made] = makeSpoolFiles(at("made"), 1);
    symlinkSync(made!.path, at("inbox/link.pcap"));
    writeFileSync(at("inbox/.hidden.pcap"), made!.content);
    await source.start();
    await waitFor(() => warnings.some((w) => w.event === "inbox-entry-ignored"));
    await source.scan(); // listed again after the symlink was refused: still nothing taken
    expect(files).toEqual([]);
    expect(rejected).toEqual([]);
    expect(visible(at("inbox"))).toEqual(["link.pcap"]);
  });

  it("finishes a move a crash cut short instead of taking the file twice", async () => {
    const first = setup();
    const [made] = makeSpoolFiles(first.at("made"), 1);
    writeFileSync(first.at("inbox/a.pcap"), made!.content);
    await first.source.start();
    await waitFor(() => first.files.length === 1);
    await first.source.stop();
    // Put the state back as a crash between link and unlink would have left it.
    linkSync(first.files[0]!.path, first.at("inbox/a.pcap"));
    const again = new FolderSource({
      name: "inbox",
      path: first.at("inbox"),
      spool: first.at("ready"),
      stableMs: 50,
    });
    const taken: IngestedFile[] = [];
    again.on("file", (f) => taken.push(f));
    cleanups.push(() => again.stop());
    await again.start();
    await again.scan(); // the inbox as the restarted source sees it: the interrupted move was finished
    expect(taken).toEqual([]);
    expect(visible(first.at("inbox"))).toEqual([]);
    expect(visible(first.at("ready")).filter((n) => !n.endsWith(".json"))).toEqual([first.files[0]!.name]);
  });
});

// The first offset at or after `at` where the capture's prefix is torn (ends inside a record).
function tornCut(bytes: Buffer, at: number): number {
  for (let cut = at; cut < bytes.length; cut++) {
    try {
      readCaptureSync(bytes.subarray(0, cut));
    } catch {
      return cut;
    }
  }
  throw new Error("no torn cut");
}
