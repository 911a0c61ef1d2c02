import { get as httpGet } from "node:http";
import { get as httpsGet } from "node:https";
import { join } from "node:path";
import { readHeartbeat } from "@sluice/spool";

/**
 * How the router tells a destination whose node is alive from one whose node is gone: a heartbeat file
 * the node rewrites in the folder, and/or an HTTP endpoint of the node (its `/healthz`). The node counts
 * as gone once every configured sign is older than `maxAgeMs`.
 */
export interface HeartbeatCheck {
  /** A hidden file the node rewrites in the destination folder (sluice-node: `.sluice-node-heartbeat`). */
  file?: string;
  /** A URL that answers 2xx while the node runs (sluice-node: `http://<node>:9465/healthz`). */
  url?: string;
  /** The longest a node may stay silent before it counts as gone. */
  maxAgeMs: number;
}

/** When each sign of a node was last seen changing or answering, by this process's clock. */
interface Sign {
  /** The heartbeat's content last read (a change is a sign of life, whatever the node's clock says). */
  key: string | null;
  at: number;
}

/**
 * Remembers the last sign of life of each destination's node. A heartbeat file counts from when this
 * process saw its content change; on first sight, from the time written in it (never later than now), so a
 * master started after its node died sees the node gone at once.
 */
export class Liveness {
  private readonly signs = new Map<string, Sign>();

  /** Null when the node is alive; otherwise what says it is gone. */
  async check(name: string, dir: string, heartbeat: HeartbeatCheck, now: number): Promise<string | null> {
    const problems: string[] = [];
    if (heartbeat.file !== undefined) {
      const problem = await this.checkFile(`${name}#file`, join(dir, heartbeat.file), heartbeat, now);
      if (problem === null) return null;
      problems.push(problem);
    }
    if (heartbeat.url !== undefined) {
      const problem = await this.checkUrl(`${name}#url`, heartbeat.url, heartbeat, now);
      if (problem === null) return null;
      problems.push(problem);
    }
    return problems.join("; ");
  }

  /** Forgets a destination that left the configuration. */
  forget(name: string): void {
    this.signs.delete(`${name}#file`);
    this.signs.delete(`${name}#url`);
  }

  private async checkFile(id: string, path: string, heartbeat: HeartbeatCheck, now: number) {
    let beat: Awaited<ReturnType<typeof readHeartbeat>>;
    try {
      beat = await readHeartbeat(path);
    } catch (error) {
      return `heartbeat ${path} unreadable: ${(error as Error).message}`;
    }
    if (beat === null) {
      this.signs.delete(id);
      return `no heartbeat at ${path}: no node writes there`;
    }
    const key = `${beat.pid}:${beat.hostname}:${beat.seq}:${beat.time}`;
    const sign = this.signs.get(id);
    if (sign === undefined) {
      const written = Date.parse(beat.time);
      this.signs.set(id, { key, at: Number.isNaN(written) ? now : Math.min(now, written) });
    } else if (sign.key !== key) {
      sign.key = key;
      sign.at = now;
    }
    const age = now - this.signs.get(id)!.at;
    if (age <= heartbeat.maxAgeMs) return null;
    return `heartbeat ${path} (pid ${beat.pid} on ${beat.hostname}) unchanged for ${Math.round(age / 1000)} s, over ${heartbeat.maxAgeMs / 1000} s`;
  }

  private async checkUrl(id: string, url: string, heartbeat: HeartbeatCheck, now: number) {
    const error = await answers(url, Math.min(heartbeat.maxAgeMs, 5000));
    if (error === null) {
      this.signs.set(id, { key: null, at: now });
      return null;
    }
    const sign = this.signs.get(id);
    if (sign !== undefined && now - sign.at <= heartbeat.maxAgeMs) return null;
    const since = sign === undefined ? "" : `, silent for ${Math.round((now - sign.at) / 1000)} s`;
    return `${url}: ${error}${since}`;
  }
}

/** Null when `url` answers 2xx within `timeoutMs`, else what happened. */
function answers(url: string, timeoutMs: number): Promise<string | null> {
  return new Promise((done) => {
    const get = url.startsWith("https:") ? httpsGet : httpGet;
    const request = get(url, { timeout: timeoutMs }, (response) => {
      response.resume();
      const status = response.statusCode ?? 0;
      done(status >= 200 && status < 300 ? null : `answered ${status}`);
    });
    request.on("timeout", () => request.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    request.on("error", (error) => done(error.message));
  });
}
