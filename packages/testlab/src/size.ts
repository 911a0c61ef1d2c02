import { LabError } from "./errors.js";

const UNITS: Record<string, number> = { "": 1, K: 1e3, M: 1e6, G: 1e9 };

/**
 * Parses a size like 500M, 2G, 10K or 1234 into bytes (decimal units, as file sizes are quoted).
 * For the CLI's --bytes and for benchmark settings given as text.
 */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([KMG]?)B?$/i.exec(text.trim());
  if (!match) throw new LabError("bad-option", `not a size: "${text}" (try 500M, 2G, 64K)`);
  return Math.round(Number(match[1]) * (UNITS[(match[2] ?? "").toUpperCase()] ?? 1));
}
