import { ReplayError } from "./errors.js";

/** How fast records are sent. */
export type Speed =
  /** Gaps as captured, divided by `multiplier` ("original" is 1, "2x" is 2, "0.5x" is 0.5). */
  | { kind: "original"; multiplier: number }
  /** As fast as inject goes. */
  | { kind: "topspeed" }
  /** A fixed packet rate. */
  | { kind: "pps"; pps: number }
  /** A fixed bit rate, counting frame bytes. */
  | { kind: "mbps"; mbps: number };

function positive(value: unknown, what: string, given: unknown): number {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isFinite(n) || n <= 0) {
    throw new ReplayError(
      "bad-option",
      `speed ${JSON.stringify(given)}: ${what} must be a positive finite number`,
      { option: "speed", value: given },
    );
  }
  return n;
}

/** Accepts "original" | "topspeed" | "<n>x" | "<n>pps" | "<n>mbps" | { pps: N } | { mbps: N }; throws ReplayError reason "bad-option". */
export function parseSpeed(value: unknown): Speed {
  if (typeof value === "string") {
    const text = value.trim().toLowerCase();
    if (text === "original") return { kind: "original", multiplier: 1 };
    if (text === "topspeed") return { kind: "topspeed" };
    const match = /^(\d+(?:\.\d+)?|\.\d+)x$/.exec(text);
    if (match) return { kind: "original", multiplier: positive(Number(match[1]), "the multiplier", value) };
    const rate = /^(\d+(?:\.\d+)?|\.\d+)\s*(pps|mbps)$/.exec(text);
    if (rate?.[2] === "pps") return { kind: "pps", pps: positive(Number(rate[1]), "pps", value) };
    if (rate?.[2] === "mbps") return { kind: "mbps", mbps: positive(Number(rate[1]), "mbps", value) };
  } else if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const record = value as { kind?: unknown; pps?: unknown; mbps?: unknown; multiplier?: unknown };
    const keys = Object.keys(record);
    if (keys.length === 1 && keys[0] === "pps")
      return { kind: "pps", pps: positive(record.pps, "pps", value) };
    if (keys.length === 1 && keys[0] === "mbps")
      return { kind: "mbps", mbps: positive(record.mbps, "mbps", value) };
    if (record.kind === "topspeed") return { kind: "topspeed" };
    if (record.kind === "original")
      return { kind: "original", multiplier: positive(record.multiplier ?? 1, "the multiplier", value) };
    if (record.kind === "pps") return { kind: "pps", pps: positive(record.pps, "pps", value) };
    if (record.kind === "mbps") return { kind: "mbps", mbps: positive(record.mbps, "mbps", value) };
  }
  throw new ReplayError(
    "bad-option",
    `speed ${JSON.stringify(value)} is not one of "original", "topspeed", "<n>x" (e.g. "2x"), { "pps": N }, { "mbps": N }`,
    { option: "speed", value },
  );
}

/** The speed as parseSpeed accepts it back: "original", "2x", "topspeed", "1000pps", "100mbps". */
export function formatSpeed(speed: Speed): string {
  switch (speed.kind) {
    case "original":
      return speed.multiplier === 1 ? "original" : `${speed.multiplier}x`;
    case "topspeed":
      return "topspeed";
    case "pps":
      return `${speed.pps}pps`;
    case "mbps":
      return `${speed.mbps}mbps`;
  }
}
