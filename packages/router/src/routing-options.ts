import { resolve } from "node:path";
import type { FlowKeyKind } from "@sluice/decode";
import { entryKind } from "@sluice/spool";
import type { Destination, DestinationOptions } from "./destination.js";
import { RouterError } from "./errors.js";
import type { PoolStrategy } from "./strategy.js";

/** A group of interchangeable sensors: each file goes to exactly one of its nodes. */
export interface PoolOptions {
  name: string;
  /** Default "round-robin". */
  strategy?: PoolStrategy;
  /** What a `flow` pool keeps together: "5-tuple" (default) or "2-tuple" (every flow between two hosts). */
  flowKey?: FlowKeyKind;
  nodes: DestinationOptions[];
}

/** What happens to a spool file once every delivery of it succeeded. */
export type AfterDispatch = { action: "delete" } | { action: "move"; path: string };

/** Limits on what waits in the spool; beyond them the oldest undelivered files are dropped (and counted). */
export interface SpoolQuota {
  bytes?: number;
  files?: number;
}

/** Where files go and what happens to them after. The part of a router's options a reload may change. */
export interface RoutingOptions {
  pools?: PoolOptions[];
  alone?: DestinationOptions[];
  /** Default `{ action: "delete" }`. */
  afterDispatch?: AfterDispatch;
  quota?: SpoolQuota;
}

/** A pool with its nodes resolved. */
export interface Pool {
  name: string;
  strategy: PoolStrategy;
  flowKey: FlowKeyKind;
  nodes: Destination[];
}

/** Routing options with defaults filled in and checked. */
export interface ResolvedRouting {
  pools: Pool[];
  alone: Destination[];
  /** Every node and alone consumer by name. */
  destinations: Map<string, Destination>;
  afterDispatch: AfterDispatch;
  quota: { bytes: number; files: number };
}

const MIB = 1024 * 1024;
/** Pool nodes are unhealthy with more files than this waiting (their sensor has stopped reading). */
export const DEFAULT_NODE_BACKLOG = 1000;
export const DEFAULT_MIN_FREE_BYTES = 256 * MIB;

function destination(options: DestinationOptions, isNode: boolean): Destination {
  return {
    name: options.name,
    path: resolve(options.path),
    ready: options.ready ?? "rename",
    link: options.link ?? true,
    minFreeBytes: options.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES,
    // Alone consumers (Arkime, storage) keep what they get: their folder is not a queue.
    maxBacklog:
      options.maxBacklog === undefined ? (isNode ? DEFAULT_NODE_BACKLOG : null) : options.maxBacklog,
    mount: options.mount === undefined ? null : resolve(options.mount),
    heartbeat: options.heartbeat ?? null,
  };
}

// A heartbeat needs a sign to read, a positive age, and a file name no queue takes for a capture.
function checkHeartbeat(options: DestinationOptions, where: string): void {
  const heartbeat = options.heartbeat;
  if (heartbeat === undefined) return;
  const refuse = (message: string) => {
    throw new RouterError("bad-option", `${where}.heartbeat: ${message}`);
  };
  if (heartbeat.file === undefined && heartbeat.url === undefined) refuse("it needs a file, a url or both");
  if (!(heartbeat.maxAgeMs > 0)) refuse(`maxAgeMs must be positive, not ${heartbeat.maxAgeMs}`);
  const file = heartbeat.file;
  if (file !== undefined && (file.includes("/") || !file.startsWith(".") || entryKind(file) !== "ignored")) {
    refuse(`file must be a hidden name in the folder (such as .sluice-node-heartbeat), not "${file}"`);
  }
  if (heartbeat.url !== undefined && !/^https?:\/\//.test(heartbeat.url)) {
    refuse(`url must be http:// or https://, not "${heartbeat.url}"`);
  }
}

/**
 * Checks routing options and fills in defaults. Refuses (RouterError "bad-option") duplicate names, empty
 * pools, and two destinations sharing a folder: the second would meet the first's file under the same name.
 */
export function resolveRouting(options: RoutingOptions): ResolvedRouting {
  const destinations = new Map<string, Destination>();
  const folders = new Map<string, string>();
  const add = (options: DestinationOptions, isNode: boolean, where: string): Destination => {
    if (!options.name) throw new RouterError("bad-option", `${where}: a destination needs a name`);
    if (destinations.has(options.name)) {
      throw new RouterError("bad-option", `${where}: destination name "${options.name}" is used twice`);
    }
    checkHeartbeat(options, where);
    const dest = destination(options, isNode);
    const other = folders.get(dest.path);
    if (other !== undefined) {
      throw new RouterError(
        "bad-option",
        `${where}: "${dest.name}" and "${other}" share the folder ${dest.path}; each destination needs its own`,
      );
    }
    destinations.set(dest.name, dest);
    folders.set(dest.path, dest.name);
    return dest;
  };
  const poolNames = new Set<string>();
  const pools = (options.pools ?? []).map((pool, i): Pool => {
    if (!pool.name || poolNames.has(pool.name)) {
      throw new RouterError("bad-option", `pools[${i}]: pool name "${pool.name}" is missing or used twice`);
    }
    poolNames.add(pool.name);
    if (pool.nodes.length === 0)
      throw new RouterError("bad-option", `pools[${i}] "${pool.name}" has no nodes`);
    return {
      name: pool.name,
      strategy: pool.strategy ?? "round-robin",
      flowKey: pool.flowKey ?? "5-tuple",
      nodes: pool.nodes.map((node, j) => add(node, true, `pools[${i}].nodes[${j}]`)),
    };
  });
  const alone = (options.alone ?? []).map((consumer, i) => add(consumer, false, `alone[${i}]`));
  const afterDispatch = options.afterDispatch ?? { action: "delete" };
  if (afterDispatch.action === "move") {
    const path = resolve(afterDispatch.path);
    if (folders.has(path)) {
      throw new RouterError(
        "bad-option",
        `afterDispatch.path ${path} is also the folder of "${folders.get(path)}"`,
      );
    }
  }
  for (const [key, value] of Object.entries(options.quota ?? {})) {
    if (!(typeof value === "number" && value > 0)) {
      throw new RouterError("bad-option", `quota.${key} must be a positive number, not ${value}`);
    }
  }
  return {
    pools,
    alone,
    destinations,
    afterDispatch:
      afterDispatch.action === "move" ? { action: "move", path: resolve(afterDispatch.path) } : afterDispatch,
    quota: {
      bytes: options.quota?.bytes ?? Number.POSITIVE_INFINITY,
      files: options.quota?.files ?? Number.POSITIVE_INFINITY,
    },
  };
}
