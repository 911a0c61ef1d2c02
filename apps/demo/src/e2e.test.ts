import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { labUnavailableReason, tsharkSessions } from "@sluice/testlab";
import { afterAll, describe, expect, it } from "vitest";
import { runDemo } from "./demo.js";

const nodeCli = fileURLToPath(new URL("../../node/dist/cli.js", import.meta.url));
const reason =
  labUnavailableReason() ??
  (existsSync(nodeCli) ? null : "sluice-node built (apps/node/dist/cli.js; run make build)");
if (reason) console.warn(`skipping the end-to-end tests: they need ${reason}`);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const folders: string[] = [];
/** A fresh folder for one demo run, removed after the tests: parallel runs never share one. */
const scratch = (name: string) => {
  folders.push(mkdtempSync(join(tmpdir(), `sluice-e2e-${name}-`)));
  return folders.at(-1)!;
};
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});
// Enough traffic that every file, node and fault had some; a loaded machine sends less than a quiet one
// in the same seconds (2259 packets in 10 s at load average 38, where 5000 was once the floor).
const SOME_TRAFFIC = 1000;

describe.skipIf(reason !== null)("the whole dispatcher, end to end", () => {
  it("gives every captured frame to exactly one sensor of the pool and to the alone folder, byte-identical", async () => {
    const summary = await runDemo({ dir: scratch("plain"), seconds: 10, rotateSeconds: 2 });
    const alone = summary.alone["arkime"]!;
    expect(summary.master.filesRotated).toBeGreaterThanOrEqual(4);
    expect(alone.files).toBe(summary.master.filesRotated);
    expect(alone.packets).toBe(summary.master.packetsCaptured);
    expect(summary.master.packetsCaptured).toBeGreaterThanOrEqual(summary.packetsSent);
    expect(summary.packetsSent).toBeGreaterThan(SOME_TRAFFIC);
    // Round robin: both nodes got files, together all of them.
    const nodes = Object.values(summary.pool);
    for (const node of nodes) expect(node.filesReplayed).toBeGreaterThanOrEqual(2);
    expect(nodes.reduce((sum, n) => sum + n.filesReplayed, 0)).toBe(summary.master.filesRotated);
    expect(summary.missingFromPool).toBe(0);
    expect(summary.extraInPool).toBe(0);
  });

  it("with the flow strategy, shows every TCP session to one sensor only, whole", async () => {
    const summary = await runDemo({
      dir: scratch("flow"),
      seconds: 10,
      rotateSeconds: 2,
      strategy: "flow",
    });
    expect(summary.missingFromPool).toBe(0);
    expect(summary.extraInPool).toBe(0);
    const [one, two] = await Promise.all(
      Object.values(summary.sensors).map(
        async (s) => new Set((await tsharkSessions(s.capture)).filter((x) => x.startsWith("tcp "))),
      ),
    );
    expect(one!.size).toBeGreaterThan(5);
    expect(two!.size).toBeGreaterThan(5);
    const shared = [...one!].filter((session) => two!.has(session));
    expect(shared).toEqual([]);
  });

  it("loses and duplicates nothing when a node's folder turns unwritable for a while and the master is SIGKILLed", async () => {
    const summary = await runDemo({
      dir: scratch("faults"),
      seconds: 14,
      rotateSeconds: 2,
      during: async (parts) => {
        await sleep(3000);
        // Immutable, not a read-only bind mount: the master runs in the lab's namespace, with a mount
        // namespace of its own (ip netns exec), where a mount made here may never show.
        const folder = parts.incoming("node01");
        execFileSync("chattr", ["+i", folder]);
        try {
          await sleep(5000);
        } finally {
          execFileSync("chattr", ["-i", folder]);
        }
        await sleep(1500);
        await parts.restartMaster("SIGKILL");
      },
    });
    expect(summary.master.restarts).toBe(1);
    expect(summary.pool["node01"]!.timesUnhealthy).toBeGreaterThanOrEqual(1); // the fault did happen
    expect(summary.alone["arkime"]!.packets).toBeGreaterThan(SOME_TRAFFIC);
    expect(summary.missingFromPool).toBe(0);
    expect(summary.extraInPool).toBe(0);
    // While node01 could not take files, node02 did: both still took part.
    for (const node of Object.values(summary.pool)) expect(node.filesReplayed).toBeGreaterThanOrEqual(1);
  });
});
