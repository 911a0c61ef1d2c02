/** Parses 500M, 2G, 10K, 1234 into bytes (decimal units, as file sizes are quoted). */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([KMG]?)B?$/i.exec(text.trim());
  if (!match) throw new Error(`not a size: "${text}" (try 500M, 2G, 64K)`);
  const unit = { "": 1, K: 1e3, M: 1e6, G: 1e9 }[match[2]!.toUpperCase() as "" | "K" | "M" | "G"];
  return Math.round(Number(match[1]) * unit);
}
