import { z } from "zod";
import { isLoopbackHost } from "./http-auth.js";
import { parseListenAddress } from "./metrics-server.js";

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

const MetricsAuthSettings = z
  .strictObject({
    basic: z
      .strictObject({
        user: z.string().min(1).describe("User name."),
        password: z.string().min(1).describe("Password."),
      })
      .optional()
      .describe("HTTP basic auth: what a browser asks for."),
    token: z
      .string()
      .min(16)
      .optional()
      .describe(
        "Bearer token (Authorization: Bearer <token>, at least 16 characters): what Prometheus and scripts send.",
      ),
  })
  .superRefine((auth, ctx) => {
    if (auth.basic === undefined && auth.token === undefined) {
      ctx.addIssue({ code: "custom", message: "needs basic, token or both" });
    }
  })
  .describe("Credentials asked for everything but /healthz; either one is accepted.");

/**
 * The optional `metrics` field of a daemon config; `app` is the binary whose `status` reads it. A listen
 * address other machines can reach needs `auth`, or an explicit `allowUnauthenticated`.
 */
export function metricsSettings(app: string) {
  return z
    .strictObject({
      listen: z
        .string()
        .describe(
          '"host:port" of the HTTP endpoint: the status page (GET /), GET /status.json and the Prometheus GET /metrics.',
        ),
      auth: MetricsAuthSettings.optional(),
      allowUnauthenticated: z
        .boolean()
        .default(false)
        .describe(
          "Serve a listen address that is not loopback without auth (a trusted management network, a proxy that authenticates).",
        ),
    })
    .superRefine((metrics, ctx) => {
      let host: string;
      try {
        host = parseListenAddress(metrics.listen).host;
      } catch (error) {
        ctx.addIssue({ code: "custom", path: ["listen"], message: (error as Error).message });
        return;
      }
      if (!isLoopbackHost(host) && metrics.auth === undefined && !metrics.allowUnauthenticated) {
        ctx.addIssue({
          code: "custom",
          path: ["listen"],
          message: `${metrics.listen} is reachable from other machines: set metrics.auth (basic or token), or "allowUnauthenticated": true to show the status page and metrics to anyone who can reach it`,
        });
      }
    })
    .optional()
    .describe(`Status page and Prometheus metrics endpoint (what ${app} status reads).`);
}

/** The `metrics` settings of a daemon config, as the schema gives them. */
export type MetricsSettings = NonNullable<z.output<ReturnType<typeof metricsSettings>>>;
