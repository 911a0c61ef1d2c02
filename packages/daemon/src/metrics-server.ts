import { createServer, get as httpGet, type Server, type ServerResponse } from "node:http";
import { get as httpsGet } from "node:https";
import type { AddressInfo } from "node:net";
import { DaemonError } from "./errors.js";
import {
  authorizationOf,
  challengeOf,
  hostOf,
  isAuthorized,
  isLoopbackHost,
  type MetricsAuth,
} from "./http-auth.js";
import type { MetricsRegistry } from "./metrics.js";
import { renderStatusPage, type StatusHeader, type StatusPage } from "./status-page.js";

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

/** What `serveMetrics` serves besides `/metrics` and `/healthz`. */
export interface MetricsServerOptions {
  /** The status document: `GET /status.json`, and the page at `GET /` when `page` is given. */
  status?: () => Promise<StatusHeader> | StatusHeader;
  page?: StatusPage;
  /**
   * Credentials every path but `/healthz` asks for, read at each request (so a reload can change them);
   * undefined: none asked.
   */
  auth?: () => MetricsAuth | undefined;
  /** The realm a browser shows when it asks (default "sluice"). */
  realm?: string;
}

const NO_STORE = { "cache-control": "no-store", "x-content-type-options": "nosniff" };

/**
 * Serves `GET /metrics` (Prometheus text format), `GET /healthz` ("ok") and, with `options.status`,
 * `GET /status.json` and the status page at `GET /`, at `listen`. Read-only: any other method is 405.
 * On a loopback address without `auth`, a request naming another host (DNS rebinding) gets 421.
 * Resolves once listening; rejects with the socket error (EADDRINUSE, EACCES) otherwise.
 */
export function serveMetrics(
  registry: MetricsRegistry,
  listen: string,
  options: MetricsServerOptions = {},
): Promise<MetricsServer> {
  const { host, port } = parseListenAddress(listen);
  // 200 with what `produce` makes (headers, body), or 500 with its error.
  const answer = (
    response: ServerResponse,
    head: boolean,
    produce: () => Promise<[Record<string, string>, string]>,
  ): void => {
    produce().then(
      ([headers, body]) => response.writeHead(200, headers).end(head ? undefined : body),
      (error: unknown) =>
        response.writeHead(500, { "content-type": "text/plain" }).end(`${(error as Error).message}\n`),
    );
  };
  const { status, page } = options;
  const loopback = isLoopbackHost(host);
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    const head = request.method === "HEAD";
    if (request.method !== "GET" && !head) {
      response.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (path === "/healthz") {
      response.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return;
    }
    const auth = options.auth?.();
    // A web page elsewhere can point a name of its own at 127.0.0.1 (DNS rebinding) and read a loopback
    // endpoint that asks for nothing; only loopback names reach one.
    if (auth === undefined && loopback && !isLoopbackHost(hostOf(request.headers.host))) {
      response
        .writeHead(421, { "content-type": "text/plain" })
        .end("this endpoint answers to loopback names only (localhost, 127.0.0.1, [::1])\n");
      return;
    }
    if (auth !== undefined && !isAuthorized(request.headers.authorization, auth)) {
      response
        .writeHead(401, {
          "content-type": "text/plain",
          "www-authenticate": challengeOf(auth, options.realm ?? "sluice"),
        })
        .end("credentials needed (metrics.auth)\n");
      return;
    }
    if (path === "/metrics") {
      answer(response, head, async () => [
        { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
        await registry.render(),
      ]);
    } else if (status !== undefined && path === "/status.json") {
      answer(response, head, async () => [
        { "content-type": "application/json; charset=utf-8", ...NO_STORE },
        `${JSON.stringify(await status())}\n`,
      ]);
    } else if (status !== undefined && page !== undefined && (path === "/" || path === "/index.html")) {
      answer(response, head, async () => {
        const { html, csp } = renderStatusPage(page, await status());
        const headers = {
          "content-type": "text/html; charset=utf-8",
          "content-security-policy": csp,
          "referrer-policy": "no-referrer",
          "x-frame-options": "DENY",
          ...NO_STORE,
        };
        return [headers, html];
      });
    } else {
      response
        .writeHead(404, { "content-type": "text/plain" })
        .end(status === undefined ? "try /metrics\n" : "try /, /status.json or /metrics\n");
    }
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

/** Options of the endpoint readers. */
export interface FetchEndpointOptions {
  timeoutMs?: number;
  /** Credentials to send (the config's `metrics.auth`). */
  auth?: MetricsAuth | undefined;
}

/**
 * The URL of `path` ("metrics", "status.json") at an endpoint given as "host:port" or as a URL: the
 * URL of the endpoint itself (`http://host:9464/metrics`) or of the folder a reverse proxy serves it
 * under (`https://proxy/sluice/master/`).
 */
export function endpointUrl(listen: string, path: "metrics" | "status.json"): string {
  if (/^https?:\/\//.test(listen)) {
    const url = new URL(listen);
    const folder = url.pathname.replace(/\/(?:metrics|status\.json)$/, "");
    url.pathname = `${folder.endsWith("/") ? folder : `${folder}/`}${path}`;
    return url.toString();
  }
  const { host, port } = parseListenAddress(listen);
  const target = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return `http://${target.includes(":") ? `[${target}]` : target}:${port}/${path}`;
}

/** Reads `path` of an endpoint; rejects on a connection error or a non-200 answer. */
function fetchEndpoint(
  listen: string,
  path: "metrics" | "status.json",
  options: FetchEndpointOptions,
): Promise<string> {
  const url = endpointUrl(listen, path);
  const timeoutMs = options.timeoutMs ?? 5000;
  const headers = options.auth ? { authorization: authorizationOf(options.auth) } : {};
  const get = url.startsWith("https:") ? httpsGet : httpGet;
  return new Promise((resolve, reject) => {
    const request = get(url, { timeout: timeoutMs, headers }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        body += chunk;
      });
      response.on("end", () => {
        if (response.statusCode === 200) resolve(body);
        else if (response.statusCode === 401)
          reject(new Error(`${url} answered 401: it needs the credentials of metrics.auth`));
        else reject(new Error(`${url} answered ${response.statusCode}`));
      });
      response.on("error", reject);
    });
    request.on("timeout", () => request.destroy(new Error(`${url} did not answer in ${timeoutMs} ms`)));
    request.on("error", reject);
  });
}

/** Reads a metrics endpoint ("host:port" or a URL); rejects on a connection error or a non-200 answer. */
export function fetchMetricsText(listen: string, options: FetchEndpointOptions = {}): Promise<string> {
  return fetchEndpoint(listen, "metrics", options);
}

/** Reads a running daemon's status document (`GET /status.json`). */
export async function fetchStatus(listen: string, options: FetchEndpointOptions = {}): Promise<unknown> {
  return JSON.parse(await fetchEndpoint(listen, "status.json", options));
}
