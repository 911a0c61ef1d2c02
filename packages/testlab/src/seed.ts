import { randomInt } from "node:crypto";

// Randomised tests draw from one seed per test process (a vitest worker runs one test file): the vitest
// setup (vitest-setup.ts) prints it when a test fails, and SLUICE_SEED=<it> repeats the same inputs.

let chosen: number | undefined;

/** The seed of this run: SLUICE_SEED when set, otherwise one picked at random once per process. */
export function testSeed(): number {
  if (chosen !== undefined) return chosen;
  const env = process.env["SLUICE_SEED"];
  if (env === undefined || env === "") chosen = randomInt(0, 2 ** 32 - 1);
  else if (/^\d+$/.test(env) && Number(env) < 2 ** 32) chosen = Number(env);
  else throw new Error(`SLUICE_SEED=${env}: expected an integer from 0 to 4294967295`);
  return chosen;
}

/**
 * Numbers in [0, 1) that depend only on the run's seed and `label` (mulberry32): each use draws from its own
 * stream, so one test drawing more does not change what another gets.
 */
export function seededRandom(label: string, seed = testSeed()): () => number {
  let state = fnv1a(`${seed}/${label}`);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** `length` bytes from a seeded stream (test payloads that must repeat under SLUICE_SEED). */
export function seededBytes(random: () => number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length + 3);
  for (let i = 0; i < length; i += 4) bytes.writeUInt32LE(Math.floor(random() * 2 ** 32), i);
  return bytes.subarray(0, length);
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
