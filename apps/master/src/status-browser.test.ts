import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type BrowserPage,
  browserUnavailableReason,
  ciOutput,
  labUnavailableReason,
  openBrowser,
  withLab,
} from "@sluice/testlab";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, runMaster } from "./testing/master-process.js";

const reason =
  (existsSync(CLI) ? null : `${CLI} built (npx tsup)`) ??
  labUnavailableReason() ??
  browserUnavailableReason();
if (reason) console.warn(`skipping the master's status page in a browser: it needs ${reason}`);

const dir = mkdtempSync(join(tmpdir(), "master-page-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The number at the start of a cell ("12,345 …"). */
async function numberIn(page: BrowserPage, selector: string): Promise<number> {
  const text = (await page.locator(selector).first().textContent()) ?? "";
  return Number(/[\d,]+/.exec(text)?.[0]?.replace(/,/g, "") ?? Number.NaN);
}

describe.skipIf(reason !== null)("the master's status page in Chromium", () => {
  it("moves with live traffic, and turns a destination made unwritable red with its reason", async () => {
    let traffic: Promise<unknown> = Promise.resolve();
    await withLab(async (lab) => {
      const at = (name: string) => join(dir, name);
      for (const folder of ["n1", "n2", "arkime"]) mkdirSync(at(folder));
      writeFileSync(
        at("master.json"),
        JSON.stringify({
          spool: at("spool"),
          sources: [{ type: "interface", name: "span0", interface: lab.a.iface, netns: lab.a.netns }],
          rotation: { seconds: 2 },
          pools: [{ name: "suricata", nodes: ["n1", "n2"].map((n) => ({ name: n, path: at(n) })) }],
          alone: [{ name: "arkime", path: at("arkime") }],
          quota: { mib: 64 },
          delivery: { healthIntervalSeconds: 1, retryMaxSeconds: 2 },
          metrics: { listen: "127.0.0.1:0" },
        }),
      );
      const master = runMaster(at("master.json"));
      const browser = await openBrowser();
      // 1000 datagrams a second from b to a for up to 40 s; the lab stops them when it is destroyed.
      traffic = lab.udp({ packets: 40_000, ratePps: 1000, size: [100, 1200] }).catch(() => null);
      try {
        const started = await master.event("started");
        await master.event("source-started");
        const page = await browser.newPage();
        await page.goto(`http://${String(started["metrics"])}/`);
        const source = 'tr[data-key="source:span0"]';
        const captured = () => numberIn(page, `${source} td:nth-child(5)`);
        await expect.poll(captured, { timeout: 20_000 }).toBeGreaterThan(0);
        const first = await captured();
        // The counter and the chart move without a reload: the page's script polls status.json.
        await expect.poll(captured, { timeout: 20_000 }).toBeGreaterThan(first);
        const chart = `${source} svg.spark polyline.line`;
        const before = await page.locator(chart).first().getAttribute("points");
        await expect
          .poll(() => page.locator(chart).first().getAttribute("points"), { timeout: 10_000 })
          .not.toBe(before);
        // Ten seconds of chart, for a screenshot that shows one.
        await expect
          .poll(
            async () => Number(await page.locator(`${source} svg.spark`).first().getAttribute("data-points")),
            { timeout: 20_000 },
          )
          .toBeGreaterThanOrEqual(10);
        await expect
          .poll(() => page.locator(`${source} td:nth-child(3)`).textContent())
          .toMatch(/[1-9][\d.]* k? ?pkt\/s/);
        await expect
          .poll(() => page.locator('tr[data-key^="file:span0-"]').count(), { timeout: 20_000 })
          .toBeGreaterThan(0);
        await expect
          .poll(() => page.locator(`${source} td:nth-child(9) .file`).textContent())
          .toMatch(/^span0-\d{8}T\d{6}Z-\d+\.pcap$/);

        // Immutable, as the end-to-end fault test does: root can write through a chmod.
        execFileSync("chattr", ["+i", at("arkime")]);
        try {
          const arkime = page.locator('tr[data-key="destination:arkime"]');
          await expect.poll(() => arkime.getAttribute("class"), { timeout: 20_000 }).toBe("bad");
          expect(await arkime.textContent()).toContain("unhealthy");
          // A failed delivery marks it "failing" at once; the next health check says why in its words.
          await expect.poll(() => arkime.textContent(), { timeout: 10_000 }).toContain("unwritable");
          expect(await arkime.textContent()).toMatch(/cannot create a file in .*arkime/);
          expect(await page.locator('tr[data-key="destination:n1"]').getAttribute("class")).toBeNull();
          expect(await page.locator(".tile.bad").first().textContent()).toContain("2 / 3 healthy");
          // The next file rotated after the fault waits for arkime: up to a rotation and a page poll away.
          await expect
            .poll(() => page.locator('tr[data-key^="file:"] .chip.pending').count(), { timeout: 20_000 })
            .toBeGreaterThan(0);
          await page.screenshot({ path: ciOutput("status-master.png"), fullPage: true });
        } finally {
          execFileSync("chattr", ["-i", at("arkime")]);
        }
        expect(browser.errors).toEqual([]);
        master.child.kill("SIGTERM");
        expect(await master.exited).toBe(0);
      } finally {
        await browser.close();
        if (master.child.exitCode === null) master.child.kill("SIGKILL");
        spawnSync("chattr", ["-i", at("arkime")]);
      }
    });
    await traffic;
  });
});
