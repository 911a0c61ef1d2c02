import { type ChildProcess, spawn, spawnSync } from "node:child_process";
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
import { NodeConfig } from "./config.js";
import { RunningNode } from "./node-activity.js";
import { SensorNode } from "./sensor-node.js";
import { renderNodeStatus } from "./status-page.js";
import { NODE_HISTORY, type NodeStatus, nodeStatus } from "./status-report.js";

const missing = hasTool("randpkt") ? (hasTool("mkfifo") ? null : "mkfifo") : "randpkt (tshark's tools)";
if (missing) console.warn(`skipping the node's status document tests: they need ${missing}`);

let dir = "";
let reader: ChildProcess | null = null;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "node-status-"));
});
afterAll(() => {
  reader?.kill();
  rmSync(dir, { recursive: true, force: true });
});

const header = { app: "sluice-node", host: "h", pid: 1, startedAt: "2026-11-22T10:00:00.000Z" };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(missing !== null)("the node's status document", () => {
  let status: NodeStatus;
  let samples: Sample[];
  let small = 0;
  let big = 0;

  // A real node replaying into a FIFO that `cat` drains: one good file, one that is not a capture, and
  // one big enough (4000 packets at 2000/s) that its progress can be read while it replays.
  beforeAll(async () => {
    const at = (name: string) => join(dir, name);
    mkdirSync(at("in"));
    expect(spawnSync("mkfifo", [at("fifo")]).status).toBe(0);
    reader = spawn("sh", ["-c", `exec cat "${at("fifo")}" > /dev/null`], { stdio: "ignore" });
    const config = parseConfig(NodeConfig, {
      incoming: at("in"),
      output: { type: "fifo", path: at("fifo") },
      speed: { pps: 2000 },
      failed: at("failed"),
      stateDir: at("state"),
      stableSeconds: 0.2,
      rescanSeconds: 0.2,
    });
    const registry = new MetricsRegistry();
    const history = new MetricsHistory({ names: NODE_HISTORY });
    const node = new RunningNode(new SensorNode(config, silentLogger, registry));
    const document = async (): Promise<NodeStatus> => {
      samples = await registry.samples();
      const now = Date.now();
      history.record(samples, now);
      return {
        ...header,
        now: new Date(now).toISOString(),
        ...nodeStatus({ daemon: node, config, samples, history, now }),
      };
    };
    const drop = (name: string, packets: number): number => {
      randpkt(at(`${name}.tmp`), "udp", packets, 400);
      renameSync(at(`${name}.tmp`), at(`in/${name}`));
      return readCaptureSync(readFileSync(at(`in/${name}`))).packets.length;
    };
    const replayed = new Promise((resolve) => node.engine.queue.once("replayed", resolve));
    const failed = new Promise((resolve) => node.engine.queue.once("file-failed", resolve));
    await node.start();
    try {
      await document();
      writeFileSync(at("in/junk.pcap"), "not a capture at all, just words\n");
      small = drop("small.pcap", 100);
      await Promise.all([replayed, failed]);
      const started = new Promise((resolve) => node.engine.queue.once("replay-started", resolve));
      big = drop("big.pcap", 4000);
      await started;
      status = await document();
      while ((status.current?.packetsSent ?? 0) < 500) {
        await sleep(100);
        status = await document();
      }
    } finally {
      await node.stop();
    }
  });

  it("shows the output and the file being replayed with its progress", () => {
    expect(status.output).toEqual({
      type: "fifo",
      target: join(dir, "fifo"),
      netns: null,
      state: "up",
      retries: 0,
      speed: "2000pps",
    });
    expect(status.current).toMatchObject({ name: "big.pcap", packets: big });
    expect(status.current!.packetsSent).toBeGreaterThanOrEqual(500);
    expect(status.current!.packetsSent).toBeLessThan(big);
    expect(status.current!.bytesSent).toBeGreaterThan(0);
    expect(status.rate.pps).toBeGreaterThan(0);
    expect(status.history.pps.length).toBeGreaterThanOrEqual(2);
  });

  it("counts what /metrics counts, and keeps the files replayed and failed with their reasons", () => {
    expect(status.totals).toMatchObject({ filesReplayed: 1, filesFailed: 1, packetsSent: small });
    expect(status.totals.packetsSent).toBe(sampleSum(samples, "sluice_node_packets_sent_total"));
    expect(status.totals.bytesSent).toBe(sampleSum(samples, "sluice_node_bytes_sent_total"));
    expect(status.current!.packetsSent).toBe(sampleSum(samples, "sluice_node_current_file_packets_sent"));
    expect(status.failedBy).toEqual([{ reason: "bad-magic", files: 1 }]);
    expect(status.recentReplayed).toMatchObject([{ name: "small.pcap", packets: small }]);
    expect(status.recentFailed).toMatchObject([{ name: "junk.pcap", reason: "bad-magic" }]);
    expect(status.recentFailed[0]!.message).toMatch(/not a pcap or pcapng file/);
  });

  it("renders the progress bar and a failed file red with its reason, in the page and in `status`", () => {
    const html = renderNodeStatus(status, statusKit());
    const ratio = Number(/data-key="current".*?data-ratio="([\d.]+)"/.exec(html)?.[1]);
    expect(ratio).toBeCloseTo(status.current!.packetsSent / big, 3);
    expect(html).toMatch(/<tr class="bad" data-key="failed:junk.pcap">.*?bad magic/);
    expect(html).toContain('data-key="replayed:small.pcap"');
    const text = formatStatus(status);
    expect(text).toContain("output:    up, fifo");
    expect(text).toMatch(new RegExp(`current: {3}big\\.pcap \\(\\d+ of ${big} packets sent\\)`));
    expect(text).toContain("failed:    1 files (bad-magic 1)");
  });
});
