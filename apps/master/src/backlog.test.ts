import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readCaptureSync } from "@sluice/pcap-format";
import { missingTools, randpkt } from "@sluice/testlab";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, runMaster } from "./testing/master-process.js";

const reason = existsSync(CLI) ? missingTools("editcap") : `${CLI} built`;
if (reason) console.warn(`skipping the master's backlog order test: it needs ${reason}`);

const dir = mkdtempSync(join(tmpdir(), "master-backlog-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = (name: string) => join(dir, name);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const firstRecord = (path: string) => {
  const [first] = readCaptureSync(readFileSync(path)).packets;
  return first!.seconds * 1e9 + first!.nanoseconds;
};

async function waitFor(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await sleep(25);
  }
}

describe.skipIf(reason !== null)("sluice-master run after an outage", () => {
  it("delivers an alone consumer's backlog oldest first (by first record) once its folder is back", async () => {
    for (const f of ["inbox", "made"]) mkdirSync(at(f));
    writeFileSync(
      at("master.json"),
      JSON.stringify({
        spool: at("spool"),
        sources: [{ type: "folder", name: "inbox", path: at("inbox"), stableSeconds: 0.1 }],
        alone: [{ name: "store", path: at("store"), minFreeMiB: 0 }],
        delivery: { healthIntervalSeconds: 0.2, retryMaxSeconds: 0.5 },
      }),
    );
    const master = runMaster(at("master.json"));
    await master.event("started");
    // Captures whose first records are these many minutes in, dropped in this order while `store` is missing.
    const minutes = [50, 10, 40, 20, 30, 0];
    for (const [i, shift] of minutes.entries()) {
      randpkt(at(`made/r${i}.pcap`), "tcp", 10, 200);
      execFileSync("editcap", [
        "-F",
        "pcap",
        "-t",
        String(shift * 60),
        at(`made/r${i}.pcap`),
        at(`made/s${i}.pcap`),
      ]);
      execFileSync("mv", [at(`made/s${i}.pcap`), at(`inbox/s${i}.pcap`)]);
      await waitFor(() => master.count("inbox-file-taken") === i + 1);
    }
    await master.event(
      "destination-unhealthy",
      (e) => e["destination"] === "store" && e["reason"] === "missing",
    );
    await sleep(1000); // retries fail while it is away
    expect(master.count("delivered")).toBe(0);
    mkdirSync(at("store"));
    await waitFor(() => master.count("dispatched") === minutes.length);
    const order = master.events
      .filter((e) => e["event"] === "delivered" && e["destination"] === "store")
      .map((e) => firstRecord(String(e["path"])));
    expect(order).toHaveLength(minutes.length);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(readdirSync(at("store")).filter((n) => !n.startsWith("."))).toHaveLength(minutes.length);
    master.child.kill("SIGTERM");
    expect(await master.exited).toBe(0);
  });
});
