import { mkdir, readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Logger, MetricsRegistry } from "@sluice/daemon";
import { salvageDirectory } from "@sluice/rotator";
import { Router, type RoutingOptions } from "@sluice/router";
import type { MasterConfig } from "./config.js";
import { RecentFiles } from "./recent-files.js";
import { SourceMetrics } from "./source-metrics.js";
import {
  createSource,
  type RunningSource,
  type SourceContext,
  type SourceView,
  sourceKey,
  succeed,
} from "./sources.js";

const MIB = 1024 * 1024;

/** The routing part of a master config, in the router's terms. */
export function routingOf(config: MasterConfig): RoutingOptions {
  const destination = (d: MasterConfig["alone"][number]) => ({
    name: d.name,
    path: d.path,
    ready: d.ready,
    ...(d.link !== undefined && { link: d.link }),
    ...(d.minFreeMiB !== undefined && { minFreeBytes: d.minFreeMiB * MIB }),
    ...(d.maxBacklog !== undefined && { maxBacklog: d.maxBacklog }),
    ...(d.mount !== undefined && { mount: d.mount }),
    ...(d.heartbeat !== undefined && {
      heartbeat: {
        ...(d.heartbeat.file !== undefined && { file: d.heartbeat.file }),
        ...(d.heartbeat.url !== undefined && { url: d.heartbeat.url }),
        maxAgeMs: d.heartbeat.maxAgeSeconds * 1000,
      },
    }),
  });
  return {
    pools: config.pools.map((p) => ({
      name: p.name,
      strategy: p.strategy,
      flowKey: p.flowKey,
      nodes: p.nodes.map(destination),
    })),
    alone: config.alone.map(destination),
    afterDispatch: config.afterDispatch,
    ...(config.quota && {
      quota: {
        ...(config.quota.mib !== undefined && { bytes: config.quota.mib * MIB }),
        ...(config.quota.files !== undefined && { files: config.quota.files }),
      },
    }),
  };
}

/**
 * The master at work: sources write finished files into `<spool>/ready`, the router hands each to one node
 * of every pool and to every alone consumer. Start salvages what a crash left, resumes the journal's
 * pending deliveries, and routes files that were finished but never submitted.
 */
export class Dispatcher {
  readonly spool: string;
  readonly ready: string;
  private config: MasterConfig;
  private readonly router: Router;
  private readonly sources = new Map<string, RunningSource>();
  private readonly sourceMetrics: SourceMetrics;
  /** The last files rotated and where each went (for the status page). */
  readonly recent: RecentFiles;

  constructor(
    config: MasterConfig,
    private readonly log: Logger,
    metrics: MetricsRegistry,
  ) {
    this.config = config;
    this.spool = resolve(config.spool);
    this.ready = join(this.spool, "ready");
    this.router = new Router({
      ...routingOf(config),
      journalDir: join(this.spool, "journal"),
      concurrency: config.delivery.concurrency,
      healthIntervalMs: config.delivery.healthIntervalSeconds * 1000,
      retry: { maxMs: config.delivery.retryMaxSeconds * 1000 },
      logger: log,
      metrics,
    });
    this.sourceMetrics = new SourceMetrics(metrics, () => [...this.sources.values()]);
    this.recent = new RecentFiles(this.router);
  }

  /** What each running source is doing, by name (for the status page). */
  sourceViews(): Map<string, SourceView> {
    return new Map([...this.sources].map(([name, source]) => [name, source.view()]));
  }

  /** The router, for status and tests. */
  get routing(): Router {
    return this.router;
  }

  async start(): Promise<void> {
    await mkdir(this.ready, { recursive: true });
    const salvage = await salvageDirectory(this.ready, { keepEmpty: this.config.rotation.keepEmpty });
    for (const m of salvage.finished) this.log.warn("file-salvaged", { path: m.path, packets: m.packets });
    for (const a of salvage.setAside) this.log.error("file-set-aside", { ...a });
    await this.router.start();
    // Inbox sources first: they finish moves a crash cut short before those files could be routed twice.
    const ordered = [...this.config.sources].sort(
      (a, b) => Number(b.type === "folder") - Number(a.type === "folder"),
    );
    for (const source of ordered) await this.startSource(source);
    await this.adopt();
  }

  /**
   * Applies a new config: routing at once, sources that changed restarted, others untouched. A changed
   * capture source is restarted without a gap (the new capture opens before the old one stops); a
   * changed socket or inbox source is stopped, then started again.
   */
  async reload(next: MasterConfig): Promise<void> {
    if (resolve(next.spool) !== this.spool) {
      throw new Error(`the spool cannot change without a restart (${this.spool} → ${resolve(next.spool)})`);
    }
    this.router.reconfigure(routingOf(next));
    const previous = this.config;
    this.config = next;
    const wanted = new Map(next.sources.map((s) => [s.name, s]));
    for (const [name, running] of [...this.sources]) {
      const config = wanted.get(name);
      if (config === undefined) await this.stopSource(name, "removed");
      else if (sourceKey(config, next) !== running.key) await this.replaceSource(running, config);
    }
    for (const config of next.sources) if (!this.sources.has(config.name)) await this.startSource(config);
    this.log.info("config-reloaded", {
      sources: next.sources.map((s) => s.name),
      rotationChanged: JSON.stringify(previous.rotation) !== JSON.stringify(next.rotation),
    });
  }

  /** Finishes every source's open files, lets in-flight deliveries end (up to the stop timeout). */
  async stop(): Promise<{ pending: number }> {
    for (const name of [...this.sources.keys()]) await this.stopSource(name, "stopping");
    return this.router.stop(this.config.delivery.stopTimeoutSeconds * 1000);
  }

  private context(): SourceContext {
    const { rotation } = this.config;
    return {
      ready: this.ready,
      failed: join(this.spool, "failed"),
      rotation: {
        seconds: rotation.seconds,
        align: rotation.align,
        keepEmpty: rotation.keepEmpty,
        ...(rotation.mib !== undefined && { mib: rotation.mib }),
        ...(rotation.packets !== undefined && { packets: rotation.packets }),
      },
      user: this.config.user,
      log: this.log,
      onFile: (file) => {
        this.recent.rotated(file);
        const { path, source } = file;
        this.router.submit(path).catch((error) => this.log.error("submit-failed", { source, path, error }));
      },
    };
  }

  private async startSource(config: MasterConfig["sources"][number]): Promise<void> {
    const source = createSource(config, this.context(), this.config);
    try {
      await source.start();
    } catch (error) {
      this.log.error("source-failed", { source: config.name, type: config.type, error });
      throw error;
    }
    this.sources.set(config.name, source);
    this.log.info("source-started", { source: config.name, type: config.type });
  }

  // A changed source: a capture hands over to its successor without a gap, anything else restarts.
  private async replaceSource(
    running: RunningSource,
    config: MasterConfig["sources"][number],
  ): Promise<void> {
    const { name } = running;
    let swapped: Awaited<ReturnType<typeof succeed>>;
    try {
      swapped = await succeed(running, config, this.context(), this.config);
    } catch (error) {
      this.log.error("source-failed", {
        source: name,
        type: config.type,
        error,
        kept: "the running capture",
      });
      throw error;
    }
    if (swapped === null) {
      await this.stopSource(name, "changed");
      await this.startSource(config);
      return;
    }
    const counters = await running.counters();
    this.sourceMetrics.retire(name, counters);
    this.sources.set(name, swapped.source);
    this.log.info("source-stopped", { source: name, why: "changed", ...counters });
    this.log.info("source-reloaded", { source: name, type: config.type, ...swapped.handover });
  }

  private async stopSource(name: string, why: string): Promise<void> {
    const source = this.sources.get(name)!;
    await source.stop();
    const counters = await source.counters();
    this.sources.delete(name);
    this.sourceMetrics.retire(name, counters);
    this.log.info("source-stopped", { source: name, why, ...counters });
  }

  // Files finished before a crash but never submitted (or whose journal entry was lost).
  private async adopt(): Promise<void> {
    const names = (await readdir(this.ready)).filter(
      (n) => !n.startsWith(".") && /\.pcap(ng)?$/.test(n) && !this.router.has(n),
    );
    for (const name of names.sort()) await this.router.submit(join(this.ready, name));
    if (names.length > 0) this.log.info("files-adopted", { files: names.length });
  }
}
