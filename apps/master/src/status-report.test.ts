import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  MetricsHistory,
  MetricsRegistry,
  parseConfig,
  type Sample,
  sampleSum,
  silentLogger,
  statusKit,
} from "@sluice/daemon";
import { readCaptureSync } from "@sluice/pcap-format";
import { hasTool, randpkt } from "@sluice/testlab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatStatus } from "./commands/status.js";
import { MasterConfig } from "./config.js";
import { Dispatcher } from "./dispatcher.js";
import { renderMasterStatus } from "./status-page.js";
import { MASTER_HISTORY, type MasterStatus, masterStatus } from "./status-report.js";

const missing = hasTool("randpkt") ? null : "randpkt (tshark's tools)";
if (missing) console.warn(`skipping the master's status document tests: they need ${missing}`);

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "master-status-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const header = { app: "sluice-master", host: "h", pid: 1, startedAt: "2026-11-22T10:00:00.000Z" };

describe.skipIf(missing !== null)("the master's status document", () => {
  let status: MasterStatus;
  let samples: Sample[];
  let files: { packets: number; bytes: number }[];

  // A real dispatcher: an inbox, a pool whose second node's folder does not exist, one alone consumer.
  beforeAll(async () => {
    const at = (name: string) => join(dir, name);
    for (const folder of ["inbox", "n1", "arkime"]) mkdirSync(at(folder));
    writeFileSync(at("not-a-folder"), "");
    const config = parseConfig(MasterConfig, {
      spool: at("spool"),
      sources: [{ type: "folder", name: "inbox", path: at("inbox"), stableSeconds: 0.05 }],
      pools: [
        {
          name: "sensors",
          nodes: [
            { name: "n1", path: at("n1") },
            { name: "n2", path: at("not-a-folder") },
          ],
        },
      ],
      alone: [{ name: "arkime", path: at("arkime") }],
      quota: { files: 100 },
      delivery: { healthIntervalSeconds: 0.2 },
    });
    const registry = new MetricsRegistry();
    const history = new MetricsHistory({ names: MASTER_HISTORY });
    const dispatcher = new Dispatcher(config, silentLogger, registry);
    await dispatcher.start();
    try {
      history.record(await registry.samples(), 0);
      const dispatched = new Promise<void>((resolve) => {
        let n = 0;
        dispatcher.routing.on("dispatched", () => ++n === 3 && resolve());
      });
      files = [];
      for (let i = 0; i < 3; i++) {
        randpkt(at(`f${i}.tmp`), "tcp", 40 + i * 10, 600);
        const capture = readCaptureSync(readFileSync(at(`f${i}.tmp`)));
        files.push({
          packets: capture.packets.length,
          bytes: capture.packets.reduce((sum, p) => sum + p.data.length, 0),
        });
        renameSync(at(`f${i}.tmp`), at(`inbox/f${i}.pcap`));
      }
      await dispatched;
      samples = await registry.samples();
      history.record(samples, 2000);
      const now = Date.parse("2026-11-22T10:05:00.000Z");
      status = {
        ...header,
        now: new Date(now).toISOString(),
        ...masterStatus({ daemon: dispatcher, config, samples, history, now }),
      };
    } finally {
      await dispatcher.stop();
    }
  });

  it("shows each source's counters as /metrics has them, with rates from the history", () => {
    const packets = files.reduce((sum, f) => sum + f.packets, 0);
    const bytes = files.reduce((sum, f) => sum + f.bytes, 0);
    expect(sampleSum(samples, "sluice_packets_captured_total", { source: "inbox" })).toBe(packets);
    expect(status.sources).toEqual([
      {
        name: "inbox",
        type: "folder",
        input: join(dir, "inbox"),
        state: "watching",
        detail: null,
        packets,
        bytes,
        files: 3,
        dropped: { kernel: 0, interface: 0, spool: 0 },
        rate: { pps: packets / 2, mbps: (bytes * 8) / 2 / 1e6 },
        history: { pps: [packets / 2], mbps: [(bytes * 8) / 2 / 1e6] },
        currentFiles: [],
      },
    ]);
  });

  it("gives each destination its health and, when unhealthy, the reason in words", () => {
    const [pool] = status.pools;
    expect(pool).toMatchObject({ name: "sensors", strategy: "round-robin" });
    const [n1, n2] = pool!.nodes;
    expect(n1).toMatchObject({ name: "n1", kind: "pool", health: "healthy", reason: null, delivered: 3 });
    expect(n1!.backlog).toBe(3);
    expect(n1!.deliveriesLastMinute).toBe(3);
    expect(n1!.lastDeliveryAt).not.toBeNull();
    expect(n2).toMatchObject({
      name: "n2",
      health: "unhealthy",
      reason: "not-a-directory",
      message: `${join(dir, "not-a-folder")} is not a folder`,
      delivered: 0,
      lastDeliveryAt: null,
    });
    expect(status.alone).toMatchObject([{ name: "arkime", kind: "alone", health: "healthy", delivered: 3 }]);
    for (const d of [n1!, n2!, status.alone[0]!]) {
      const of = { destination: d.name, result: "ok" };
      expect(d.delivered).toBe(sampleSum(samples, "sluice_deliveries_total", of));
    }
  });

  it("shows the spool, its quota, and the last files with where each went", () => {
    expect(status.spool).toEqual({
      path: join(dir, "spool"),
      pendingFiles: 0,
      pendingBytes: 0,
      quota: { files: 100, bytes: null },
      dispatched: 3,
      dropped: { quota: 0, missing: 0 },
    });
    expect(status.recentFiles).toHaveLength(3);
    for (const file of status.recentFiles) {
      expect(file).toMatchObject({ source: "inbox", state: "dispatched", dropped: null });
      expect(file.deliveries.map((d) => `${d.to}=${d.destination}`).sort()).toEqual([
        "alone:arkime=arkime",
        "pool:sensors=n1",
      ]);
    }
    expect(status.recentFiles.map((f) => f.packets).sort()).toEqual(files.map((f) => f.packets).sort());
    expect(status.historySeconds).toBe(2);
  });

  it("renders an unhealthy destination red with its reason, in the page and in `status`", () => {
    const html = renderMasterStatus(status, statusKit());
    const row = /<tr class="bad" data-key="destination:n2">.*?<\/tr>/.exec(html)?.[0];
    expect(row).toContain("not a directory");
    expect(row).toContain("is not a folder");
    expect(html).toMatch(/<tr data-key="destination:n1">.*?healthy/);
    const text = formatStatus(status);
    expect(text).toMatch(/^n2\s+pool\s+NO \(not-a-directory\)/m);
    expect(text).toContain(`n2: not-a-directory: ${join(dir, "not-a-folder")} is not a folder`);
    expect(text).toMatch(/^inbox\s+watching\s+\d+/m);
  });
});
