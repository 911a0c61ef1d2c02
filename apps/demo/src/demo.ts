import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readPackets } from "@sluice/pcap-format";
import { createLab, type Lab, type LabProcess } from "@sluice/testlab";

/** What the demo runs; every field has a default that fits in about a minute. */
export interface DemoOptions {
  /** Working folder: spool, node folders, the alone folder, sensor captures (default /tmp/sluice-demo). */
  dir?: string;
  /** Seconds of traffic (default 40). */
  seconds?: number;
  /** Master rotation interval in seconds (default 5). */
  rotateSeconds?: number;
  /** Pool strategy (default the example config's, round-robin). */
  strategy?: string;
  /** Node replay speed (default the example config's). */
  speed?: string;
  /** Traffic scale: 1 is about 750 packets/s of HTTP, UDP and ICMP (default 1). */
  load?: number;
  /** Called between phases with a line of progress for the terminal. */
  progress?: (line: string) => void;
  /** Fault injection for the end-to-end test: called once traffic runs, with the live parts. */
  during?: (parts: DemoParts) => Promise<void>;
}

/** The live parts of a running demo, for fault injection. */
export interface DemoParts {
  readonly dir: string;
  readonly nodeNames: readonly string[];
  /** Incoming folder of each node. */
  incoming(node: string): string;
  /** SIGKILLs the master and starts it again on the same config. */
  restartMaster(signal?: NodeJS.Signals): Promise<void>;
}

/** Frames per sensor, per alone consumer and in total, with a digest multiset for exactly-once checks. */
export interface DemoSummary {
  dir: string;
  seconds: number;
  /** Frames on the wire, seen by tcpdump at the traffic source. */
  packetsSent: number;
  master: { packetsCaptured: number; droppedByKernel: number; filesRotated: number; restarts: number };
  pool: Record<
    string,
    { filesDelivered: number; filesReplayed: number; packetsReplayed: number; timesUnhealthy: number }
  >;
  sensors: Record<string, { packets: number; capture: string }>;
  alone: Record<string, { files: number; packets: number; folder: string }>;
  /** Every frame in the alone folder appears exactly once across the pool's sensors. */
  poolMatchesAlone: boolean;
  /** Frames in the alone folder that no sensor saw, and frames sensors saw more often than captured. */
  missingFromPool: number;
  extraInPool: number;
}

const here = fileURLToPath(new URL(".", import.meta.url));
const root = join(here, "..", "..", "..");
const masterCli = join(root, "apps", "master", "dist", "cli.js");
const nodeCli = join(root, "apps", "node", "dist", "cli.js");
/** The example config pair the demo starts from; users copy these. */
export const exampleMasterConfig = join(root, "examples", "demo", "master.json");
export const exampleNodeConfig = join(root, "examples", "demo", "node.json");

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface LogEvent {
  event: string;
  [field: string]: unknown;
}

function events(proc: LabProcess, name: string): LogEvent[] {
  const out: LogEvent[] = [];
  for (const line of proc.stdout().split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const event = JSON.parse(line) as LogEvent;
      if (event.event === name) out.push(event);
    } catch {
      // a torn last line while the process still writes
    }
  }
  return out;
}

async function frameDigests(files: string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const file of files) {
    for await (const packet of readPackets(file)) {
      const key = createHash("sha1").update(packet.data).digest("base64");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

function pcapsIn(folder: string): string[] {
  return readdirSync(folder)
    .filter((n) => !n.startsWith(".") && /\.pcap$/.test(n))
    .sort()
    .map((n) => join(folder, n));
}

/**
 * Runs the whole dispatcher on one machine: traffic in a namespace pair, a master capturing it, a pool of two
 * nodes replaying into their own owlh interfaces with tcpdump standing in for the sensors, and an alone folder.
 * Removes everything it created, also when it fails.
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoSummary> {
  const dir = options.dir ?? "/tmp/sluice-demo";
  const seconds = options.seconds ?? 40;
  const say = options.progress ?? (() => {});
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });

  const labs: Lab[] = [];
  // Every process's output, written next to the demo's files at the end (also on failure) for a look.
  const logs = new Map<string, LabProcess>();
  try {
    say("creating the lab: a traffic source, a master, two nodes (network namespaces)");
    const traffic = await createLab({ name: "demo-traffic" });
    labs.push(traffic);
    const nodesLab = await createLab({ name: "demo-nodes" });
    labs.push(nodesLab);
    const nodes = [
      { name: "node01", end: nodesLab.a },
      { name: "node02", end: nodesLab.b },
    ];

    // The master's config: the shipped example, pointed at this lab and this folder.
    const master = JSON.parse(readFileSync(exampleMasterConfig, "utf8"));
    delete master.$schema;
    master.spool = join(dir, "spool");
    master.sources[0].interface = traffic.b.iface;
    master.sources[0].netns = traffic.b.netns;
    master.rotation.seconds = options.rotateSeconds ?? master.rotation.seconds;
    master.pools[0].strategy = options.strategy ?? master.pools[0].strategy;
    master.pools[0].nodes = nodes.map((n) => ({ name: n.name, path: join(dir, n.name, "in") }));
    master.alone[0].path = join(dir, "arkime");
    master.metrics.listen = "127.0.0.1:0";
    for (const n of nodes) mkdirSync(join(dir, n.name, "in"), { recursive: true });
    mkdirSync(master.alone[0].path, { recursive: true });
    const masterConfig = join(dir, "master.json");
    writeFileSync(masterConfig, `${JSON.stringify(master, null, 2)}\n`);

    // Each node lives in its own namespace with its own owlh; tcpdump on the other end is the sensor.
    const sensors = new Map<string, LabProcess>();
    const nodeProcs = new Map<string, LabProcess>();
    for (const n of nodes) {
      const side = n.end === nodesLab.a ? "a" : "b";
      for (const key of ["all", "default"])
        await nodesLab.run(side, "sysctl", ["-qw", `net.ipv6.conf.${key}.disable_ipv6=1`]);
      await nodesLab.run(side, process.execPath, [nodeCli, "setup-interface", "--name", "owlh"]);
      const config = JSON.parse(readFileSync(exampleNodeConfig, "utf8"));
      delete config.$schema;
      config.incoming = join(dir, n.name, "in");
      config.failed = join(dir, n.name, "failed");
      // Each node its own journal: a state dir is locked by the node that uses it.
      config.stateDir = join(dir, n.name, "state");
      if (options.speed !== undefined) config.speed = options.speed;
      const path = join(dir, `${n.name}.json`);
      writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`);
      const capture = join(dir, `sensor-${n.name}.pcap`);
      const sensor = nodesLab.exec(side, "tcpdump", [
        "-i",
        "owlh-peer",
        "-B",
        "65536",
        "-s",
        "0",
        "-w",
        capture,
      ]);
      await sensor.waitFor(/listening on/);
      sensors.set(n.name, sensor);
      const proc = nodesLab.exec(side, process.execPath, [nodeCli, "run", "--config", path]);
      logs.set(`${n.name}.log`, proc);
      await proc.waitFor(/"event":"started"/, 20_000);
      nodeProcs.set(n.name, proc);
    }

    let masterProc = traffic.exec("b", process.execPath, [masterCli, "run", "--config", masterConfig]);
    const masterRuns: LabProcess[] = [masterProc];
    logs.set("master.log", masterProc);
    await masterProc.waitFor(/"event":"source-started"/, 20_000);
    say(
      `master capturing ${traffic.b.iface}, rotating every ${master.rotation.seconds} s into ${master.spool}`,
    );

    const wire = await traffic.capture(join(dir, "wire.pcap"), { on: "a" });
    say(`sending ${seconds} s of HTTP, UDP and ICMP between the traffic namespaces`);
    const parts: DemoParts = {
      dir,
      nodeNames: nodes.map((n) => n.name),
      incoming: (node) => join(dir, node, "in"),
      restartMaster: async (signal = "SIGKILL") => {
        masterProc.child.kill(signal);
        await masterProc.exited;
        masterProc = traffic.exec("b", process.execPath, [masterCli, "run", "--config", masterConfig]);
        masterRuns.push(masterProc);
        logs.set(`master-${masterRuns.length}.log`, masterProc);
        await masterProc.waitFor(/"event":"source-started"/, 20_000);
      },
    };
    const fault = options.during?.(parts);
    await generateTraffic(traffic, seconds * 1000, options.load ?? 1);
    await fault;
    await sleep(500);
    const wireStats = await wire.stop();

    say("stopping the master (SIGTERM: it finishes its open file and delivers it)");
    await masterProc.stop("SIGTERM", 60_000);
    say("waiting for the nodes to replay what they hold");
    await waitDrained(
      nodes.map((n) => join(dir, n.name, "in")),
      120_000,
    );
    for (const proc of nodeProcs.values()) await proc.stop("SIGTERM", 30_000);
    await sleep(1500); // tcpdump hands over its last ring block within its 1 s timeout
    for (const sensor of sensors.values()) await sensor.stop("SIGINT", 10_000);

    // The numbers.
    const rotated = masterRuns.flatMap((p) => events(p, "file-rotated"));
    const delivered = masterRuns.flatMap((p) => events(p, "delivered"));
    const sourceStops = masterRuns.flatMap((p) => events(p, "source-stopped"));
    const summary: DemoSummary = {
      dir,
      seconds,
      packetsSent: wireStats.packets,
      master: {
        packetsCaptured: rotated.reduce((sum, e) => sum + Number(e["packets"] ?? 0), 0),
        droppedByKernel: sourceStops.reduce((sum, e) => sum + Number(e["droppedByKernel"] ?? 0), 0),
        filesRotated: rotated.length,
        restarts: masterRuns.length - 1,
      },
      pool: {},
      sensors: {},
      alone: {},
      poolMatchesAlone: false,
      missingFromPool: 0,
      extraInPool: 0,
    };
    for (const n of nodes) {
      const proc = nodeProcs.get(n.name)!;
      const replayed = events(proc, "replayed");
      summary.pool[n.name] = {
        filesDelivered: delivered.filter((e) => e["destination"] === n.name).length,
        timesUnhealthy: masterRuns
          .flatMap((p) => events(p, "destination-unhealthy"))
          .filter((e) => e["destination"] === n.name).length,
        filesReplayed: replayed.length,
        packetsReplayed: replayed.reduce((sum, e) => sum + Number(e["packetsSent"]), 0),
      };
      const capture = join(dir, `sensor-${n.name}.pcap`);
      let packets = 0;
      for await (const _ of readPackets(capture)) packets++;
      summary.sensors[n.name] = { packets, capture };
    }
    const aloneFiles = pcapsIn(master.alone[0].path);
    const aloneDigests = await frameDigests(aloneFiles);
    let alonePackets = 0;
    for (const c of aloneDigests.values()) alonePackets += c;
    summary.alone[master.alone[0].name] = {
      files: aloneFiles.length,
      packets: alonePackets,
      folder: master.alone[0].path,
    };
    const poolDigests = await frameDigests(Object.values(summary.sensors).map((s) => s.capture));
    for (const [key, count] of aloneDigests) {
      const seen = poolDigests.get(key) ?? 0;
      if (seen < count) summary.missingFromPool += count - seen;
    }
    for (const [key, count] of poolDigests) {
      const expected = aloneDigests.get(key) ?? 0;
      if (count > expected) summary.extraInPool += count - expected;
    }
    summary.poolMatchesAlone = summary.missingFromPool === 0 && summary.extraInPool === 0;
    return summary;
  } finally {
    for (const [name, proc] of logs) writeFileSync(join(dir, name), proc.stdout() + proc.stderr());
    say("removing the lab");
    for (const lab of labs.reverse()) await lab.destroy();
  }
}

/** Moderate, varied traffic (about 750 packets/s at load 1), so 1x replay keeps up on 2 cores. */
async function generateTraffic(lab: Lab, durationMs: number, load: number): Promise<void> {
  const until = Date.now() + durationMs;
  while (Date.now() < until) {
    const round = Date.now();
    await Promise.all([
      lab.http({ requests: Math.ceil(10 * load), responseBytes: [0, 48_000], concurrency: 2 }),
      lab.http({ requests: Math.ceil(3 * load), responseBytes: [0, 8_000], ipv6: true }),
      lab.udp({ packets: Math.ceil(300 * load), size: [40, 1200], ratePps: 1000 * load, receiver: "echo" }),
      lab.ping({ count: 3, intervalMs: 200 }),
    ]);
    const left = 1000 - (Date.now() - round);
    if (left > 0) await sleep(Math.min(left, until - Date.now()));
  }
}

async function waitDrained(folders: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const waiting = folders.reduce((sum, f) => sum + pcapsIn(f).length, 0);
    if (waiting === 0) return;
    if (Date.now() > deadline) throw new Error(`the nodes still hold ${waiting} files after ${timeoutMs} ms`);
    await sleep(250);
  }
}
