import { z } from "zod";

/** The `log` field every daemon config has. */
export const LogSettings = z
  .strictObject({
    level: z
      .enum(["debug", "info", "warn", "error"])
      .default("info")
      .describe("Lowest level logged (JSON lines on stdout)."),
  })
  .prefault({})
  .describe("Logging.");

/** The optional `metrics` field of a daemon config; `app` is the binary whose `status` reads it. */
export function metricsSettings(app: string) {
  return z
    .strictObject({ listen: z.string().describe('"host:port" of the Prometheus endpoint (GET /metrics).') })
    .optional()
    .describe(`Prometheus metrics endpoint (what ${app} status reads).`);
}
