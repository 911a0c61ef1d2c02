import { request } from "node:http";
import { describe, expect, it } from "vitest";
import type { MetricsAuth } from "./http-auth.js";
import { MetricsRegistry, sampleSum } from "./metrics.js";
import { endpointUrl, fetchMetricsText, fetchStatus, serveMetrics } from "./metrics-server.js";
import type { StatusHeader } from "./status-page.js";

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  method = "GET",
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

const header: StatusHeader = {
  app: "sluice-test",
  host: "h",
  pid: 1,
  startedAt: "2026-01-01T00:00:00.000Z",
  now: "2026-01-01T00:00:01.000Z",
};

/** A registry with known counters and a status document made from its samples. */
async function serve(auth?: MetricsAuth) {
  const registry = new MetricsRegistry();
  registry.counter("sluice_packets_captured_total", "Packets.", ["source"]).inc({ source: "eth1" }, 42);
  const server = await serveMetrics(registry, "127.0.0.1:0", {
    auth: () => auth,
    realm: "sluice-test",
    status: async () => {
      const samples = await registry.samples();
      return { ...header, packets: sampleSum(samples, "sluice_packets_captured_total") };
    },
    page: { title: "test", render: (s: { packets: number }, k) => `<p>${k.int(s.packets)} packets</p>` },
  });
  return { registry, server };
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

describe("metrics server", () => {
  it("serves status.json from the same counters as /metrics", async () => {
    const { registry, server } = await serve();
    try {
      registry.counter("sluice_packets_captured_total", "Packets.", ["source"]).inc({ source: "eth1" }, 8);
      const answer = await get(server.port, "/status.json");
      expect(answer.status).toBe(200);
      expect(answer.headers["content-type"]).toBe("application/json; charset=utf-8");
      expect(answer.headers["cache-control"]).toBe("no-store");
      expect(JSON.parse(answer.body)).toEqual({ ...header, packets: 50 });
      expect(await fetchMetricsText(`127.0.0.1:${server.port}`)).toContain(
        'sluice_packets_captured_total{source="eth1"} 50',
      );
    } finally {
      await server.close();
    }
  });

  it("serves the page at / with its content security policy", async () => {
    const { server } = await serve();
    try {
      const answer = await get(server.port, "/");
      expect(answer.status).toBe(200);
      expect(answer.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(answer.headers["content-security-policy"]).toContain("script-src 'sha256-");
      expect(answer.headers["x-frame-options"]).toBe("DENY");
      expect(answer.body).toContain("<p>42 packets</p>");
      expect((await get(server.port, "/nothing")).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it("changes nothing: every method but GET and HEAD is refused", async () => {
    const { server } = await serve();
    try {
      for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
        const answer = await get(server.port, "/status.json", {}, method);
        expect(answer.status).toBe(405);
        expect(answer.headers["allow"]).toBe("GET, HEAD");
      }
      const head = await get(server.port, "/status.json", {}, "HEAD");
      expect(head.status).toBe(200);
      expect(head.body).toBe("");
    } finally {
      await server.close();
    }
  });

  it("asks for credentials everywhere but /healthz, and takes basic auth or the token", async () => {
    const auth = { basic: { user: "ops", password: "s3cret pass" }, token: "0123456789abcdef0123" };
    const { server } = await serve(auth);
    try {
      for (const path of ["/", "/status.json", "/metrics"]) {
        const refused = await get(server.port, path);
        expect(refused.status, path).toBe(401);
        expect(refused.headers["www-authenticate"]).toBe('Basic realm="sluice-test", charset="UTF-8"');
        expect(refused.body).not.toContain("42");
      }
      expect((await get(server.port, "/healthz")).status).toBe(200);
      const wrong = [
        basic("ops", "wrong"),
        basic("other", "s3cret pass"),
        "Bearer 0123456789abcdef0124",
        "Bearer",
        "Basic !!!",
        basic("ops", ""),
      ];
      for (const authorization of wrong) {
        expect((await get(server.port, "/status.json", { authorization })).status, authorization).toBe(401);
      }
      expect(
        (await get(server.port, "/status.json", { authorization: basic("ops", "s3cret pass") })).status,
      ).toBe(200);
      expect((await get(server.port, "/metrics", { authorization: `Bearer ${auth.token}` })).status).toBe(
        200,
      );
      expect(await fetchStatus(`127.0.0.1:${server.port}`, { auth })).toMatchObject({ packets: 42 });
      await expect(fetchStatus(`127.0.0.1:${server.port}`)).rejects.toThrow(/401: it needs the credentials/);
    } finally {
      await server.close();
    }
  });

  it("challenges with Bearer when only a token is configured", async () => {
    const { server } = await serve({ token: "0123456789abcdef0123" });
    try {
      const refused = await get(server.port, "/metrics");
      expect(refused.headers["www-authenticate"]).toBe('Bearer realm="sluice-test"');
      expect(
        await fetchMetricsText(`127.0.0.1:${server.port}`, { auth: { token: "0123456789abcdef0123" } }),
      ).toContain("42");
    } finally {
      await server.close();
    }
  });

  it("answers on loopback without credentials only to loopback names, against DNS rebinding", async () => {
    const { server } = await serve();
    try {
      for (const host of ["evil.example", `evil.example:${server.port}`, "10.0.0.5", "[fe80::1]:80"]) {
        const refused = await get(server.port, "/status.json", { host });
        expect(refused.status, host).toBe(421);
        expect(refused.body).not.toContain("42");
      }
      for (const host of [`localhost:${server.port}`, "127.0.0.1", `[::1]:${server.port}`]) {
        expect((await get(server.port, "/status.json", { host })).status, host).toBe(200);
      }
      expect((await get(server.port, "/healthz", { host: "evil.example" })).status).toBe(200);
    } finally {
      await server.close();
    }
    // With credentials, any name may ask: the credentials decide.
    const token = "0123456789abcdef0123";
    const guarded = await serve({ token });
    try {
      const headers = { host: "sensors.example.org", authorization: `Bearer ${token}` };
      expect((await get(guarded.server.port, "/status.json", headers)).status).toBe(200);
    } finally {
      await guarded.server.close();
    }
  });

  it("finds the endpoint behind a host:port, its own URL or a reverse proxy's folder", () => {
    expect(endpointUrl("127.0.0.1:9464", "status.json")).toBe("http://127.0.0.1:9464/status.json");
    expect(endpointUrl(":9464", "metrics")).toBe("http://127.0.0.1:9464/metrics");
    expect(endpointUrl("[::]:9464", "metrics")).toBe("http://[::1]:9464/metrics");
    expect(endpointUrl("http://h:9464/metrics", "status.json")).toBe("http://h:9464/status.json");
    expect(endpointUrl("https://proxy/sluice/master/", "status.json")).toBe(
      "https://proxy/sluice/master/status.json",
    );
    expect(endpointUrl("https://proxy/sluice/master", "metrics")).toBe("https://proxy/sluice/master/metrics");
  });
});
