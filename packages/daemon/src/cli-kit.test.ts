import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { statusCommand } from "./cli-kit.js";
import { metricsSettings } from "./config-fields.js";
import { MetricsRegistry } from "./metrics.js";
import { serveMetrics } from "./metrics-server.js";

const dir = mkdtempSync(join(tmpdir(), "sluice-status-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const Schema = z.strictObject({ metrics: metricsSettings("sluice-test") });
const auth = { basic: { user: "ops", password: "pass word" } };

/** Runs the command, returning its exit status and what it printed. */
async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const stdout = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  const stderr = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    err += String(chunk);
    return true;
  });
  try {
    const command = statusCommand({
      app: "sluice-test",
      what: "test daemon",
      schema: Schema,
      defaultConfig: join(dir, "missing.json"),
      format: (s: { packets: number }) => `packets: ${s.packets}\n`,
    });
    return { code: await command(args), out, err };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}

describe("status command", () => {
  it("reads status.json with the config's credentials and prints its summary, or the document", async () => {
    const server = await serveMetrics(new MetricsRegistry(), "127.0.0.1:0", {
      auth: () => auth,
      status: () => ({ app: "sluice-test", host: "h", pid: 1, startedAt: "x", now: "y", packets: 7 }),
    });
    try {
      const config = join(dir, "with-auth.json");
      writeFileSync(config, JSON.stringify({ metrics: { listen: `127.0.0.1:${server.port}`, auth } }));
      expect(await run(["--config", config])).toEqual({ code: 0, out: "packets: 7\n", err: "" });
      const json = await run(["--config", config, "--json"]);
      expect(JSON.parse(json.out)).toMatchObject({ app: "sluice-test", packets: 7 });

      const refused = await run(["--metrics", `127.0.0.1:${server.port}`]);
      expect(refused.code).toBe(1);
      expect(refused.err).toContain("answered 401: it needs the credentials of metrics.auth");
    } finally {
      await server.close();
    }
  });

  it("says when nothing answers", async () => {
    const config = join(dir, "nothing.json");
    writeFileSync(config, JSON.stringify({ metrics: { listen: "127.0.0.1:9" } }));
    const result = await run(["--config", config]);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^sluice-test: no test daemon answers at 127\.0\.0\.1:9: /);
  });
});
