import { createHash, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";

/** Credentials the metrics endpoint and status page ask for (either is enough). */
export interface MetricsAuth {
  /** HTTP basic auth: what a browser prompts for. */
  basic?: { user: string; password: string } | undefined;
  /** `Authorization: Bearer <token>`: what Prometheus (`authorization.credentials`) and scripts send. */
  token?: string | undefined;
}

/** True for an address only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) return h === "::1" || /^::ffff:127\./.test(h) || h === "0:0:0:0:0:0:0:1";
  return false;
}

/** The host name of a `Host` header ("localhost:9464" → "localhost", "[::1]:9464" → "::1"); "" without one. */
export function hostOf(header: string | undefined): string {
  if (header === undefined) return "";
  const v6 = /^\[([^\]]+)\]/.exec(header);
  if (v6) return v6[1]!;
  const colon = header.lastIndexOf(":");
  return colon < 0 ? header : header.slice(0, colon);
}

const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest();

// Equal-length digests, so the comparison takes the same time whatever was sent.
const same = (a: string, b: string): boolean => timingSafeEqual(digest(a), digest(b));

/** True when an `Authorization` header carries credentials `auth` accepts. */
export function isAuthorized(header: string | undefined, auth: MetricsAuth): boolean {
  if (header === undefined) return false;
  const space = header.indexOf(" ");
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === "bearer" && auth.token !== undefined) return same(value, auth.token);
  if (scheme === "basic" && auth.basic !== undefined) {
    const decoded = Buffer.from(value, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return false;
    // Both halves are compared, always, so a wrong user takes as long as a wrong password.
    const user = same(decoded.slice(0, colon), auth.basic.user);
    const password = same(decoded.slice(colon + 1), auth.basic.password);
    return user && password;
  }
  return false;
}

/** The `WWW-Authenticate` challenge of a 401: basic when a browser can answer it. */
export function challengeOf(auth: MetricsAuth, realm: string): string {
  return auth.basic !== undefined ? `Basic realm="${realm}", charset="UTF-8"` : `Bearer realm="${realm}"`;
}

/** The `Authorization` header a client (the `status` command) sends with `auth`: the token when there is one. */
export function authorizationOf(auth: MetricsAuth): string {
  if (auth.token !== undefined) return `Bearer ${auth.token}`;
  const { user, password } = auth.basic!;
  return `Basic ${Buffer.from(`${user}:${password}`, "utf8").toString("base64")}`;
}
