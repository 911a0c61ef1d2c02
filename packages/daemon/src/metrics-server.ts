import { createServer, get, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { DaemonError } from "./errors.js";
import type { MetricsRegistry } from "./metrics.js";

/** A running metrics endpoint. */
export interface MetricsServer {
  /** Where it listens (the real port when 0 was asked). */
  readonly host: string;
  readonly port: number;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/** Parses "host:port", "[v6]:port" or ":port" (all addresses). */
export function parseListenAddress(listen: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(listen.trim());
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new DaemonError("bad-option", `listen must be host:port, [v6]:port or :port, not "${listen}"`, {
      option: "listen",
    });
  }
  return { host: match[1] ?? (match[2] || "0.0.0.0"), port };
}

/**
 * Serves `GET /metrics` (Prometheus text format) and `GET /healthz` ("ok") at `listen`. Resolves once
 * listening; rejects with the socket error (EADDRINUSE, EACCES) otherwise.
 */
export function serveMetrics(registry: MetricsRegistry, listen: string): Promise<MetricsServer> {
  const { host, port } = parseListenAddress(listen);
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (path === "/metrics") {
      registry.render().then(
        (text) => {
          response.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
          response.end(request.method === "HEAD" ? undefined : text);
        },
        (error: unknown) => {
          response.writeHead(500, { "content-type": "text/plain" }).end(`${(error as Error).message}\n`);
        },
      );
      return;
    }
    if (path === "/healthz") {
      response.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return;
    }
    response.writeHead(404, { "content-type": "text/plain" }).end("try /metrics\n");
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const address = server.address() as AddressInfo;
      resolve({
        host,
        port: address.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/** Reads a metrics endpoint ("host:port" or a URL); rejects on a connection error or a non-200 answer. */
export function fetchMetricsText(listen: string, timeoutMs = 5000): Promise<string> {
  let url: string;
  if (/^https?:\/\//.test(listen)) url = listen;
  else {
    const { host, port } = parseListenAddress(listen);
    const target = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
    url = `http://${target.includes(":") ? `[${target}]` : target}:${port}/metrics`;
  }
  return new Promise((resolve, reject) => {
    const request = get(url, { timeout: timeoutMs }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        body += chunk;
      });
      response.on("end", () => {
        if (response.statusCode === 200) resolve(body);
        else reject(new Error(`${url} answered ${response.statusCode}`));
      });
      response.on("error", reject);
    });
    request.on("timeout", () => request.destroy(new Error(`${url} did not answer in ${timeoutMs} ms`)));
    request.on("error", reject);
  });
}
