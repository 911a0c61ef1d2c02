import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  browserUnavailableReason,
  ciOutput,
  labUnavailableReason,
  missingTools,
  openBrowser,
  randpkt,
  withLab,
} from "@sluice/testlab";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, runNode } from "./testing/node-process.js";

const reason =
  (existsSync(CLI) ? null : `${CLI} built (npx tsup)`) ??
  labUnavailableReason() ??
  missingTools("randpkt") ??
  browserUnavailableReason();
if (reason) console.warn(`skipping the node's status page in a browser: it needs ${reason}`);

const dir = mkdtempSync(join(tmpdir(), "node-page-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(reason !== null)("the node's status page in Chromium", () => {
  it("moves its progress bar and replay counters while a file is replayed into an interface", async () => {
    await withLab(async (lab) => {
      const at = (name: string) => join(dir, name);
      mkdirSync(at("in"));
      writeFileSync(
        at("node.json"),
        JSON.stringify({
          incoming: at("in"),
          output: { type: "interface", interface: lab.a.iface, netns: lab.a.netns },
          speed: { pps: 1000 },
          failed: at("failed"),
          stateDir: at("state"),
          stableSeconds: 0.5,
          rescanSeconds: 0.5,
          metrics: { listen: "127.0.0.1:0" },
        }),
      );
      // One that is not a capture (to show a failure and its reason), one replayed whole, and one of
      // 12 s at 1000 packets/s to watch.
      writeFileSync(at("in/span0-20261122T100000Z-000001.pcap"), "this is not a capture\n");
      for (const [name, packets] of [
        ["span0-20261122T100100Z-000002.pcap", 1500],
        ["span0-20261122T100200Z-000003.pcap", 12_000],
      ] as const) {
        randpkt(at(`${name}.tmp`), "udp", packets, 1000);
        renameSync(at(`${name}.tmp`), at(`in/${name}`));
      }
      const node = runNode(at("node.json"));
      const browser = await openBrowser();
      try {
        const started = await node.event("started");
        await node.event("replay-started", (e) => e["file"] === "span0-20261122T100200Z-000003.pcap");
        const page = await browser.newPage();
        await page.goto(`http://${String(started["metrics"])}/`);
        const tile = (label: string) =>
          page.locator(".tile", { has: page.locator(".label", { hasText: new RegExp(`^${label}$`) }) });
        const bar = '[data-key="current"] svg.bar';
        const ratio = async () => Number(await page.locator(bar).getAttribute("data-ratio"));
        await expect.poll(ratio, { timeout: 10_000 }).toBeGreaterThan(0);
        const first = await ratio();
        await expect.poll(ratio, { timeout: 10_000 }).toBeGreaterThan(first + 0.05);
        const sent = async () => {
          const text = (await page.locator('[data-key="current"]').textContent()) ?? "";
          return Number(/([\d,]+) of 12,000 packets/.exec(text)?.[1]?.replace(/,/g, "") ?? Number.NaN);
        };
        const before = await sent();
        await expect.poll(sent, { timeout: 10_000 }).toBeGreaterThan(before);
        await expect
          .poll(() => tile("Replaying").locator(".value").textContent())
          .toMatch(/^[1-9][\d.]* k? ?pkt\/s$/);
        expect(await page.locator('tr[data-key="replayed:span0-20261122T100100Z-000002.pcap"]').count()).toBe(
          1,
        );
        const failed = page.locator('tr[data-key="failed:span0-20261122T100000Z-000001.pcap"]');
        expect(await failed.getAttribute("class")).toBe("bad");
        expect(await failed.textContent()).toContain("bad magic");
        expect(await tile("Output").locator(".value").textContent()).toBe("up");
        // Six seconds of chart, for a screenshot that shows one.
        await expect
          .poll(async () => Number(await page.locator("svg.spark").first().getAttribute("data-points")), {
            timeout: 10_000,
          })
          .toBeGreaterThanOrEqual(6);
        await page.screenshot({ path: ciOutput("status-node.png"), fullPage: true });
        expect(browser.errors).toEqual([]);
        node.child.kill("SIGTERM");
        expect(await node.exited).toBe(0);
      } finally {
        await browser.close();
        if (node.child.exitCode === null) node.child.kill("SIGKILL");
      }
    });
  });
});
