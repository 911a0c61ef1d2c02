import { EventEmitter } from "node:events";
import { stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import {
  type BackoffPolicy,
  backoffDelay,
  captureStartMs,
  compareCaptureOrder,
  type Logger,
  type Metrics,
  moveFile,
  pathExists,
  readFirstRecordTime,
  removeFile,
  silentLogger,
} from "@sluice/spool";
import { type Destination, discardStaged, progress, publish, stage } from "./destination.js";
import { RouterError } from "./errors.js";
import { splitByFlow } from "./flow-split.js";
import { HealthMonitor } from "./health.js";
import {
  type DeliveryRecord,
  type JournalFile,
  type JournalRecord,
  openJournal,
  type RouterJournal,
  snapshot,
} from "./journal.js";
import { RouterMetrics } from "./router-metrics.js";
import { type Pool, type ResolvedRouting, type RoutingOptions, resolveRouting } from "./routing-options.js";
import { pickNode } from "./strategy.js";

/** Everything a router needs: where its journal lives, where files go, and how hard to try. */
export interface RouterOptions extends RoutingOptions {
  /** Folder of the journal (the master uses `<spool>/journal`). */
  journalDir: string;
  /** How long a destination's health is trusted before it is checked again (default 5 s). */
  healthIntervalMs?: number;
  /** Retry backoff after a failed delivery: doubles from `initialMs` up to `maxMs` (1 s, 60 s). */
  retry?: { initialMs?: number; maxMs?: number };
  /** Deliveries in flight at once (default 4). */
  concurrency?: number;
  logger?: Logger;
  /** Where the Prometheus series go (structural: @sluice/daemon's MetricsRegistry fits). */
  metrics?: Metrics;
}

/** A delivery that reached its destination. */
export interface DeliveredEvent {
  /** The name delivered: the spool file's, or its flow part's (`<stem>-<node>.pcap`). */
  file: string;
  /** The spool file it came from (the same as `file` unless the pool splits by flow). */
  spoolFile: string;
  /** `pool:<name>` or `alone:<name>`. */
  key: string;
  destination: string;
  path: string;
  method: "link" | "copy" | "recovered";
  bytes: number;
  /** From submit to published. */
  latencyMs: number;
}

export interface RouterEvents {
  delivered: [DeliveredEvent];
  /** Every delivery of a file succeeded and the spool file was deleted or moved. */
  dispatched: [{ file: string; path: string }];
  /** A delivery failed; it is retried (a pool tries another healthy node first). */
  "delivery-failed": [{ file: string; key: string; destination: string | null; error: RouterError }];
  /** A pool has no healthy node: its deliveries wait in the spool. */
  "pool-unavailable": [{ pool: string }];
  /** A file left the spool without all its deliveries (quota, or the spool file vanished). */
  dropped: [{ file: string; reason: "quota" | "missing"; missed: string[] }];
}

interface Delivery extends DeliveryRecord {
  kind: "pool" | "alone";
  group: string;
  running: boolean;
  attempts: number;
  notBefore: number;
  /** Read back from the journal: what the destination holds must be looked at before acting. */
  recovered: boolean;
  /** Nodes that hold a different file of this name: never picked again for it. */
  excluded: Set<string>;
  /** How the file reached the staging name, once it has. */
  method: "link" | "copy" | null;
}

interface SpoolFile {
  name: string;
  path: string;
  size: number;
  at: number;
  /** Where it sorts in capture order: its first record's time (@sluice/spool's captureStartMs). */
  startMs: number;
  deliveries: Delivery[];
  finishing: boolean;
  /** Its plan is on disk: nothing is delivered before. */
  durable: boolean;
}

const COMPACT_AFTER = 10_000;

/**
 * Hands every submitted file to one node of each pool and to every alone consumer, and deletes (or moves)
 * it only when every delivery succeeded. Each decision is fsynced to a journal before it takes effect and
 * files are staged under hidden names before they are published, so after a crash at any instant a
 * restart completes what was pending, never sends a file twice to a pool, and misses no consumer.
 */
export class Router extends EventEmitter<RouterEvents> {
  private routing: ResolvedRouting;
  private readonly journalDir: string;
  private journal: RouterJournal | null = null;
  private readonly files = new Map<string, SpoolFile>();
  /** The same files in capture order: each destination gets its backlog oldest first. */
  private readonly ordered: SpoolFile[] = [];
  private readonly health: HealthMonitor;
  private readonly cursors = new Map<string, number>();
  private readonly unavailable = new Set<string>();
  private readonly retry: BackoffPolicy;
  private readonly concurrency: number;
  private readonly log: Logger;
  private readonly metrics: RouterMetrics | null;
  private active = 0;
  private timer: NodeJS.Timeout | null = null;
  private healthTimer: NodeJS.Timeout | null = null;
  private readonly healthIntervalMs: number;
  private wakeAt = Number.POSITIVE_INFINITY;
  private stopping = false;
  private submitting: Promise<unknown> = Promise.resolve();
  private idleWaiters: (() => void)[] = [];

  constructor(options: RouterOptions) {
    super();
    this.routing = resolveRouting(options);
    this.journalDir = resolve(options.journalDir);
    this.healthIntervalMs = options.healthIntervalMs ?? 5000;
    this.health = new HealthMonitor(this.healthIntervalMs, (name, health) => {
      if (health.healthy) {
        this.log.info("destination-healthy", { destination: name });
        this.wake(name);
      } else
        this.log.warn("destination-unhealthy", {
          destination: name,
          reason: health.reason,
          message: health.message,
        });
    });
    this.retry = { initialMs: options.retry?.initialMs ?? 1000, maxMs: options.retry?.maxMs ?? 60_000 };
    this.concurrency = options.concurrency ?? 4;
    this.log = options.logger ?? silentLogger;
    this.metrics = options.metrics ? new RouterMetrics(options.metrics, this) : null;
  }

  /** Opens the journal and resumes every delivery a previous run left unfinished. */
  async start(): Promise<void> {
    const { journal, replay } = await openJournal(this.journalDir);
    this.journal = journal;
    for (const bad of replay.badLines) this.log.warn("journal-bad-line", { file: journal.path, ...bad });
    for (const record of replay.open) await this.restore(record);
    if (replay.open.length > 0) {
      this.log.info("recovered", {
        files: replay.open.length,
        deliveries: replay.open.reduce(
          (n, f) => n + f.deliveries.filter((d) => d.state !== "done").length,
          0,
        ),
      });
    }
    // Heartbeats are read on a timer, so a node that dies is seen without traffic; an unhealthy destination
    // is looked at again on it too, so its backlog leaves as soon as it is back.
    this.healthTimer = setInterval(() => void this.watchHealth(), this.healthIntervalMs);
    this.healthTimer.unref?.();
    this.pump();
  }

  /** True when the journal knows `name` (pending now). */
  has(name: string): boolean {
    return this.files.has(name);
  }

  /**
   * Takes a finished spool file: chooses its pool nodes, makes that durable, and starts delivering.
   * Resolves once the plan is in the journal. A file already pending is ignored.
   */
  submit(path: string): Promise<void> {
    // Plans are made one at a time (round robin follows submission order); their fsyncs overlap.
    const planned = this.submitting.then(() => this.plan(resolve(path)));
    this.submitting = planned.catch(() => {});
    return planned.then((plan) => plan.durable);
  }

  /** Applies new pools, alone consumers, afterDispatch and quota; deliveries in flight finish as they were. */
  reconfigure(options: RoutingOptions): void {
    const next = resolveRouting(options);
    const previous = this.routing;
    this.routing = next;
    for (const name of previous.destinations.keys()) {
      if (!next.destinations.has(name)) {
        this.health.forget(name);
        this.metrics?.forget(name);
      }
    }
    for (const file of this.files.values()) {
      for (const d of file.deliveries) {
        if (d.state === "done" || d.state === "cancelled" || d.running) continue;
        if (!this.groupExists(d)) void this.cancel(file, d);
        else d.notBefore = 0;
      }
    }
    this.log.info("reconfigured", {
      pools: next.pools.map((p) => ({ name: p.name, nodes: p.nodes.map((n) => n.name) })),
      alone: next.alone.map((a) => a.name),
    });
    this.enforceQuota();
    this.pump();
  }

  /** Files waiting for at least one delivery, with their total size. */
  pending(): { files: number; bytes: number } {
    let bytes = 0;
    for (const file of this.files.values()) bytes += file.size;
    return { files: this.files.size, bytes };
  }

  /** The current routing (resolved). */
  get config(): ResolvedRouting {
    return this.routing;
  }

  /** The destinations' last known health, by name. */
  healthOf(name: string): ReturnType<HealthMonitor["peek"]> {
    return this.health.peek(name);
  }

  /** Checks every destination whose last check is older than the health interval. */
  async refreshHealth(): Promise<void> {
    await Promise.all([...this.routing.destinations.values()].map((d) => this.health.get(d)));
  }

  /** Resolves when nothing is pending (every submitted file dispatched or dropped). */
  idle(): Promise<void> {
    if (this.files.size === 0) return Promise.resolve();
    return new Promise((done) => this.idleWaiters.push(done));
  }

  /**
   * Stops starting deliveries, waits up to `timeoutMs` for those in flight, and closes the journal. What
   * is left pending is resumed by the next start.
   */
  async stop(timeoutMs = 30_000): Promise<{ pending: number }> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.healthTimer = null;
    await this.submitting;
    const deadline = Date.now() + timeoutMs;
    while (this.active > 0 && Date.now() < deadline) await sleep(20);
    if (this.active === 0) await this.journal?.close();
    return { pending: this.files.size };
  }

  private async restore(record: JournalFile): Promise<void> {
    const file: SpoolFile = {
      name: record.name,
      path: record.path,
      size: record.size,
      at: record.at,
      startMs: record.startMs ?? (await captureStart(record.path, record.name).catch(() => record.at)),
      finishing: false,
      durable: true,
      deliveries: record.deliveries.map((d) => {
        const [kind, group] = splitKey(d.key);
        if (kind === "pool" && d.dest !== null) {
          const pool = this.routing.pools.find((p) => p.name === group);
          const index = pool?.nodes.findIndex((n) => n.name === d.dest) ?? -1;
          if (pool && index >= 0) this.cursors.set(pool.name, (index + 1) % pool.nodes.length);
        }
        return {
          ...d,
          kind,
          group,
          running: false,
          attempts: 0,
          notBefore: 0,
          recovered: true,
          excluded: new Set(),
          method: null,
        };
      }),
    };
    this.add(file);
    for (const d of file.deliveries) {
      if (d.state !== "done" && d.state !== "cancelled" && !this.groupExists(d)) void this.cancel(file, d);
    }
  }

  // Chooses the nodes and records the plan; resolves (to a promise of its durability) once the file is
  // registered, so the next plan can start while this one's journal write is in flight.
  private async plan(path: string): Promise<{ durable: Promise<void> }> {
    if (this.stopping) throw new RouterError("bad-option", "the router is stopping");
    const name = basename(path);
    if (this.files.has(name)) return { durable: Promise.resolve() };
    let size: number;
    let startMs: number;
    try {
      const info = await stat(path);
      size = info.size;
      startMs = await captureStart(path, name, info.mtimeMs);
    } catch (error) {
      throw RouterError.from(error, "spool", `submitting ${path}`, path);
    }
    const deliveries: Delivery[] = [];
    for (const pool of this.routing.pools) {
      if (pool.strategy === "flow") {
        const parts = await this.splitForPool(pool, path, name);
        if (parts !== null) {
          deliveries.push(...parts);
          continue;
        }
      }
      const dest = await this.pick(pool, new Set());
      deliveries.push(this.delivery(`pool:${pool.name}`, dest));
    }
    for (const consumer of this.routing.alone)
      deliveries.push(this.delivery(`alone:${consumer.name}`, consumer));
    const file: SpoolFile = {
      name,
      path,
      size,
      at: Date.now(),
      startMs,
      deliveries,
      finishing: false,
      durable: false,
    };
    const record: JournalRecord = {
      op: "file",
      name,
      path,
      size,
      at: file.at,
      startMs,
      deliveries: deliveries.map(journalDelivery),
    };
    this.add(file);
    const durable = this.requireJournal()
      .append(record)
      .then(
        () => {
          file.durable = true;
          this.log.debug?.("planned", { file: name, deliveries: record.deliveries });
          this.enforceQuota();
          this.pump();
        },
        (error: unknown) => {
          this.remove(file);
          throw RouterError.from(error, "journal", `journaling the plan of ${name}`);
        },
      );
    return { durable };
  }

  private delivery(key: string, dest: Destination | null): Delivery {
    const [kind, group] = splitKey(key);
    return {
      key,
      dest: dest?.name ?? null,
      path: dest?.path ?? null,
      state: "pending",
      kind,
      group,
      running: false,
      attempts: 0,
      notBefore: 0,
      recovered: false,
      excluded: new Set(),
      method: null,
    };
  }

  // A flow pool's deliveries: one part per healthy node (every node when none is healthy: the parts wait for
  // their nodes), or null when the file cannot be split (then it goes whole to one node).
  private async splitForPool(pool: Pool, path: string, name: string): Promise<Delivery[] | null> {
    const healthy: Destination[] = [];
    for (const node of pool.nodes) if ((await this.health.get(node)).healthy) healthy.push(node);
    const over = healthy.length > 0 ? healthy : pool.nodes;
    try {
      const parts = await splitByFlow(
        path,
        name,
        over.map((n) => n.name),
        join(dirname(path), ".parts"),
        pool.flowKey,
      );
      return parts.map((part) => ({
        ...this.delivery(`pool:${pool.name}#${part.node}`, over.find((n) => n.name === part.node)!),
        part: { name: part.name, source: part.path, size: part.size },
      }));
    } catch (error) {
      this.log.warn("flow-split-failed", { file: name, pool: pool.name, error });
      return null;
    }
  }

  // The next healthy node of a pool by its strategy, or null when none is healthy.
  private async pick(pool: Pool, excluded: ReadonlySet<string>): Promise<Destination | null> {
    const candidates = [];
    for (const node of pool.nodes) {
      if (excluded.has(node.name)) continue;
      const health = await this.health.get(node);
      if (!health.healthy) continue;
      candidates.push({ name: node.name, backlog: (health.backlog ?? 0) + this.inFlight(node.name) });
    }
    const order = pool.nodes.map((n) => n.name);
    const choice = pickNode(pool.strategy, order, this.cursors.get(pool.name) ?? 0, candidates);
    if (choice === null) {
      if (!this.unavailable.has(pool.name)) {
        this.unavailable.add(pool.name);
        this.log.warn("pool-unavailable", { pool: pool.name, nodes: this.healthSummary(pool.nodes) });
        this.emit("pool-unavailable", { pool: pool.name });
      }
      return null;
    }
    if (this.unavailable.delete(pool.name)) this.log.info("pool-available", { pool: pool.name });
    this.cursors.set(pool.name, choice.cursor);
    return pool.nodes.find((n) => n.name === choice.node)!;
  }

  private inFlight(dest: string): number {
    let n = 0;
    for (const file of this.files.values()) {
      for (const d of file.deliveries)
        if (d.dest === dest && d.state !== "done" && d.state !== "cancelled") n++;
    }
    return n;
  }

  private healthSummary(nodes: Destination[]): Record<string, string> {
    return Object.fromEntries(nodes.map((n) => [n.name, this.health.peek(n.name)?.message ?? "unknown"]));
  }

  // Starts what may start, oldest file first. Lanes keep each destination's files in capture order: a
  // delivery waiting out a backoff holds back the later files' deliveries on its lane, and a staged file is
  // published only once every earlier file's delivery on its lane is done (staging may overlap).
  private pump(): void {
    if (this.stopping || this.journal === null) return;
    const now = Date.now();
    let wake = Number.POSITIVE_INFINITY;
    const waiting = new Set<string>();
    const earlier = new Set<string>();
    outer: for (const file of this.ordered) {
      if (file.finishing) continue;
      let open = 0;
      for (const d of file.deliveries) {
        if (d.state === "done" || d.state === "cancelled") continue;
        open++;
        const lanes = lanesCrossed(d);
        const held = lanes.some((lane) => waiting.has(lane));
        const behind = lanes.some((lane) => earlier.has(lane));
        const own = laneOf(d);
        earlier.add(own);
        if (!file.durable || d.running) continue;
        if (d.notBefore > now) {
          waiting.add(own);
          wake = Math.min(wake, d.notBefore);
          continue;
        }
        if (held || (d.state === "staged" && behind)) continue;
        // An alone consumer or a flow part takes its files one at a time, in order: a later file staged
        // first could take the space an earlier one needs (a full tmpfs), and then neither gets through.
        if (d.state === "pending" && (d.kind === "alone" || d.part !== undefined) && behind) continue;
        if (this.active >= this.concurrency) break outer;
        void this.run(file, d);
      }
      if (open === 0 && file.durable) void this.finish(file);
    }
    this.schedule(wake);
  }

  // True when no earlier file (capture order) still has a delivery on this delivery's lanes.
  private mayPublish(file: SpoolFile, d: Delivery): boolean {
    const lanes = lanesCrossed(d);
    for (const other of this.ordered) {
      if (other === file) return true;
      if (other.finishing) continue;
      for (const e of other.deliveries) {
        if (e.state !== "done" && e.state !== "cancelled" && lanes.includes(laneOf(e))) return false;
      }
    }
    return true;
  }

  // A destination came back: what waits for it (or for any node of its pools) is tried at once.
  private wake(dest: string): void {
    const pools = new Set(
      this.routing.pools.filter((p) => p.nodes.some((n) => n.name === dest)).map((p) => p.name),
    );
    for (const file of this.files.values()) {
      for (const d of file.deliveries) {
        if (d.running || d.state === "done" || d.state === "cancelled") continue;
        if (d.dest === dest || (d.dest === null && d.kind === "pool" && pools.has(d.group))) {
          d.notBefore = 0;
          d.attempts = 0;
        }
      }
    }
    this.pump();
  }

  // Reads the heartbeats, and looks again at destinations known unhealthy (one check per interval each).
  private async watchHealth(): Promise<void> {
    const due = [...this.routing.destinations.values()].filter(
      (d) => d.heartbeat !== null || this.health.peek(d.name)?.healthy === false,
    );
    await Promise.all(due.map((d) => this.health.get(d))).catch((error: unknown) =>
      this.log.warn("health-check-failed", { error }),
    );
  }

  private schedule(at: number): void {
    if (at === Number.POSITIVE_INFINITY || at >= this.wakeAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.wakeAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.wakeAt = Number.POSITIVE_INFINITY;
        this.pump();
      },
      Math.max(0, at - Date.now()),
    );
    this.timer.unref?.();
  }

  private async run(file: SpoolFile, d: Delivery): Promise<void> {
    d.running = true;
    this.active++;
    try {
      if (d.kind === "pool" && (await this.leaveRemovedNode(file, d))) return;
      if (d.state === "pending") await this.stageOne(file, d);
      // Published in capture order: an earlier file on the same lane goes first (pump comes back).
      if (d.state === "staged" && this.mayPublish(file, d)) await this.publishOne(file, d);
    } catch (error) {
      await this.failed(file, d, RouterError.from(error, "destination", `delivering ${file.name}`));
    } finally {
      d.running = false;
      this.active--;
      this.pump();
    }
  }

  // A pool delivery whose node left the pool goes to another node, unless the file already reached it.
  private async leaveRemovedNode(file: SpoolFile, d: Delivery): Promise<boolean> {
    const pool = this.routing.pools.find((p) => p.name === d.group)!;
    if (d.dest === null || pool.nodes.some((n) => n.name === d.dest)) return false;
    if (d.state === "staged" && d.path !== null) {
      const reached = await progress(d.path, itemName(file, d)).catch(() => "unknown" as const);
      if (reached === "published" || (reached === "absent" && d.recovered)) {
        await this.markDone(file, d, "recovered");
        return true;
      }
      await discardStaged(d.path, itemName(file, d));
    }
    await this.assign(file, d, null);
    return false;
  }

  private async stageOne(file: SpoolFile, d: Delivery): Promise<void> {
    let dest = d.dest === null ? undefined : this.routing.destinations.get(d.dest);
    if (d.kind === "pool" && d.part !== undefined && dest !== undefined && !d.excluded.has(dest.name)) {
      // A flow part keeps to its node (its sessions are there) for as long as the node is in the pool.
      if (!(await this.health.get(dest)).healthy) {
        this.later(d);
        return;
      }
    } else if (d.kind === "pool") {
      if (dest === undefined || !(await this.health.get(dest)).healthy || d.excluded.has(dest.name)) {
        const pool = this.routing.pools.find((p) => p.name === d.group)!;
        const picked = await this.pick(pool, d.excluded);
        if (picked === null) {
          if (d.dest !== null) await this.assign(file, d, null);
          this.later(d);
          return;
        }
        if (picked.name !== d.dest) await this.assign(file, d, picked);
        dest = picked;
      }
    } else if (dest === undefined || !(await this.health.get(dest)).healthy) {
      this.later(d);
      return;
    }
    if (!(await pathExists(itemSource(file, d)))) {
      await this.lostSource(file, d);
      return;
    }
    d.method = await stage(itemSource(file, d), dest.path, itemName(file, d), dest.link);
    d.state = "staged";
    d.recovered = false;
    await this.requireJournal().append({
      op: "staged",
      name: file.name,
      key: d.key,
      dest: dest.name,
      path: dest.path,
    });
  }

  private async publishOne(file: SpoolFile, d: Delivery): Promise<void> {
    const dir = d.path!;
    const dest = this.routing.destinations.get(d.dest!);
    if (d.recovered) {
      await stat(dir); // an unreachable folder says nothing: wait for it
      const reached = await progress(dir, itemName(file, d));
      if (reached !== "staged") {
        // Published before the crash; if it is gone, its consumer has already taken it.
        await this.markDone(file, d, "recovered");
        return;
      }
    }
    await publish(dir, itemName(file, d), dest?.ready ?? "rename");
    await this.markDone(file, d, d.method ?? "recovered");
  }

  private async markDone(file: SpoolFile, d: Delivery, method: DeliveredEvent["method"]): Promise<void> {
    await this.requireJournal().append({
      op: "done",
      name: file.name,
      key: d.key,
      dest: d.dest!,
      path: d.path!,
    });
    d.state = "done";
    d.attempts = 0;
    this.health.noteDelivered(d.dest!);
    const event: DeliveredEvent = {
      file: itemName(file, d),
      spoolFile: file.name,
      key: d.key,
      destination: d.dest!,
      path: join(d.path!, itemName(file, d)),
      method,
      bytes: d.part?.size ?? file.size,
      latencyMs: Date.now() - file.at,
    };
    this.log.info("delivered", { ...event });
    this.emit("delivered", event);
  }

  private async assign(file: SpoolFile, d: Delivery, dest: Destination | null): Promise<void> {
    d.dest = dest?.name ?? null;
    d.path = dest?.path ?? null;
    d.state = "pending";
    d.recovered = false;
    await this.requireJournal().append({
      op: "assign",
      name: file.name,
      key: d.key,
      dest: d.dest,
      path: d.path,
    });
  }

  private async failed(file: SpoolFile, d: Delivery, error: RouterError): Promise<void> {
    this.log.warn("delivery-failed", { file: file.name, key: d.key, destination: d.dest, error });
    this.emit("delivery-failed", { file: file.name, key: d.key, destination: d.dest, error });
    if (error.reason === "journal") {
      // Without a journal nothing can be made durable: stop trying until it works again.
      this.later(d);
      return;
    }
    if (d.dest !== null && error.reason !== "conflict") this.health.markFailing(d.dest, error.message);
    const keepsNode = d.part !== undefined && error.reason !== "conflict";
    if (d.kind === "pool" && d.dest !== null && !keepsNode && !(d.state === "staged" && d.recovered)) {
      // Not published (publish is the last step and it failed): another node may take the file.
      if (error.reason === "conflict") d.excluded.add(d.dest);
      if (d.path !== null) await discardStaged(d.path, itemName(file, d));
      try {
        await this.assign(file, d, null);
      } catch {
        // The journal will say so on the next append.
      }
      return;
    }
    this.later(d);
  }

  // The spool file vanished before this delivery staged it (removed by hand): nothing left to send.
  private async lostSource(file: SpoolFile, d: Delivery): Promise<void> {
    this.log.error("spool-file-missing", { file: file.name, path: file.path, key: d.key });
    this.emit("dropped", { file: file.name, reason: "missing", missed: [d.key] });
    await this.cancel(file, d);
  }

  private later(d: Delivery): void {
    d.attempts++;
    d.notBefore = Date.now() + backoffDelay(d.attempts, this.retry);
  }

  private async cancel(file: SpoolFile, d: Delivery): Promise<void> {
    d.state = "cancelled";
    await this.requireJournal()
      .append({ op: "cancel", name: file.name, key: d.key })
      .catch(() => {});
    this.log.info("delivery-cancelled", { file: file.name, key: d.key });
    this.pump();
  }

  private groupExists(d: Delivery): boolean {
    return d.kind === "pool"
      ? this.routing.pools.some((p) => p.name === d.group)
      : this.routing.alone.some((a) => a.name === d.group);
  }

  // Every delivery is done: delete or move the spool file, then record the file as complete.
  private async finish(file: SpoolFile): Promise<void> {
    if (file.finishing) return;
    file.finishing = true;
    try {
      await this.afterDispatch(file);
      // A restart that does not see this finds every delivery done and the spool file gone: complete again.
      this.requireJournal().appendLater({ op: "complete", name: file.name });
    } catch (error) {
      file.finishing = false;
      this.log.error("after-dispatch-failed", { file: file.name, error });
      this.schedule(Date.now() + this.retry.initialMs);
      return;
    }
    this.remove(file);
    this.log.info("dispatched", { file: file.name, path: file.path });
    this.emit("dispatched", { file: file.name, path: file.path });
    await this.maybeCompact();
    this.notifyIdle();
  }

  private async afterDispatch(file: SpoolFile): Promise<void> {
    await removeParts(file);
    const action = this.routing.afterDispatch;
    const sidecar = `${file.path}.json`;
    if (action.action === "delete") {
      await removeFile(file.path);
      await removeFile(sidecar);
      return;
    }
    // Never over a file of the same name there: a clash takes the next name, its sidecar following it.
    const moved = await moveFile(file.path, action.path, file.name);
    const name = moved === null ? file.name : basename(moved);
    await moveFile(sidecar, action.path, `${name}.json`).catch(() => {});
  }

  private enforceQuota(): void {
    const { bytes: maxBytes, files: maxFiles } = this.routing.quota;
    let files = 0;
    let bytes = 0;
    for (const file of this.files.values()) {
      if (file.finishing) continue; // being dispatched or dropped already
      files++;
      bytes += file.size;
    }
    for (const file of this.ordered) {
      if (files <= maxFiles && bytes <= maxBytes) return;
      if (file.finishing || file.deliveries.some((d) => d.running)) continue;
      files--;
      bytes -= file.size;
      void this.drop(file, "quota");
    }
  }

  private async drop(file: SpoolFile, reason: "quota" | "missing"): Promise<void> {
    file.finishing = true;
    const missed = file.deliveries
      .filter((d) => d.state !== "done" && d.state !== "cancelled")
      .map((d) => d.key);
    try {
      await removeParts(file);
      await removeFile(file.path);
      await removeFile(`${file.path}.json`);
      await this.requireJournal().append({ op: "dropped", name: file.name, reason });
    } catch (error) {
      file.finishing = false;
      this.log.error("drop-failed", { file: file.name, error });
      return;
    }
    this.remove(file);
    this.log.warn("spool-dropped", { file: file.name, reason, size: file.size, missed });
    this.emit("dropped", { file: file.name, reason, missed });
    this.notifyIdle();
  }

  private async maybeCompact(): Promise<void> {
    const journal = this.journal;
    if (journal === null || journal.backlog < COMPACT_AFTER) return;
    const open = snapshot(
      this.ordered.map((f) => ({
        name: f.name,
        path: f.path,
        size: f.size,
        at: f.at,
        startMs: f.startMs,
        deliveries: f.deliveries.map(journalDelivery),
      })),
    );
    await journal.compact(open).catch((error) => this.log.error("journal-compaction-failed", { error }));
  }

  // Registers a pending file, in capture order (files mostly come in order: look from the end).
  private add(file: SpoolFile): void {
    this.files.set(file.name, file);
    let at = this.ordered.length;
    while (at > 0 && compareCaptureOrder(this.ordered[at - 1]!, file) > 0) at--;
    this.ordered.splice(at, 0, file);
  }

  private remove(file: SpoolFile): void {
    this.files.delete(file.name);
    const at = this.ordered.indexOf(file);
    if (at >= 0) this.ordered.splice(at, 1);
  }

  private notifyIdle(): void {
    if (this.files.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const done of waiters) done();
  }

  private requireJournal(): RouterJournal {
    if (this.journal === null) throw new RouterError("journal", "the router has not been started");
    return this.journal;
  }
}

/** Where a spool file sorts in capture order: its first record, else its name's time, else its mtime. */
async function captureStart(path: string, name: string, mtimeMs?: number): Promise<number> {
  const mtime = mtimeMs ?? (await stat(path)).mtimeMs;
  let first: ReturnType<typeof readFirstRecordTime> = null;
  try {
    first = readFirstRecordTime(path);
  } catch {
    // Unreadable here: the name or the mtime says where it sorts; the delivery will report the fault.
  }
  return captureStartMs(name, first, mtime);
}

// The lane a delivery keeps in order on: its alone consumer or flow part; a whole-file pool delivery, its
// node once it has one (before, its pool: any node it may get).
function laneOf(d: Delivery): string {
  if (d.kind === "alone" || d.part !== undefined) return d.key;
  return d.dest === null ? `pool:${d.group}` : `dest:${d.dest}`;
}

// The lanes whose earlier deliveries a delivery must not overtake: its own, and for a whole-file pool
// delivery also its pool's deliveries still without a node (one of them may get the same node).
function lanesCrossed(d: Delivery): string[] {
  if (d.kind === "alone" || d.part !== undefined) return [d.key];
  return d.dest === null ? [`pool:${d.group}`] : [`pool:${d.group}`, `dest:${d.dest}`];
}

// `pool:<name>`, `pool:<name>#<node>` (a flow part) or `alone:<name>`.
function splitKey(key: string): ["pool" | "alone", string] {
  const colon = key.indexOf(":");
  const kind = key.slice(0, colon);
  const hash = key.indexOf("#", colon);
  return [kind === "pool" ? "pool" : "alone", key.slice(colon + 1, hash === -1 ? undefined : hash)];
}

/** What a delivery hands over: its flow part's name, or the spool file's. */
function itemName(file: SpoolFile, d: Delivery): string {
  return d.part?.name ?? file.name;
}

function itemSource(file: SpoolFile, d: Delivery): string {
  return d.part?.source ?? file.path;
}

function journalDelivery(d: Delivery): DeliveryRecord {
  const { key, dest, path, state, part } = d;
  return part === undefined ? { key, dest, path, state } : { key, dest, path, state, part };
}

async function removeParts(file: SpoolFile): Promise<void> {
  for (const d of file.deliveries) if (d.part !== undefined) await removeFile(d.part.source);
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
