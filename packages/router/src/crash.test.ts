import { spawn } from "node:child_process";
import {
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { seededRandom } from "@sluice/testlab";
import { afterEach, describe, expect, it } from "vitest";
import { STAGING_DIR } from "./destination.js";
import { makeSpoolFiles, scratch, visible } from "./testing/spool-files.js";

const CHILD = fileURLToPath(new URL("./testing/router-child.mjs", import.meta.url));
const built = existsSync(fileURLToPath(new URL("../dist/index.js", import.meta.url)));
if (!built) console.warn("skipping the router crash test: build @sluice/router first (npm run build)");

const removers: (() => void)[] = [];
afterEach(() => {
  for (const remove of removers.splice(0)) remove();
});

// Where the kills land comes from the run's seed (printed on failure; SLUICE_SEED repeats it).
const random = seededRandom("router-crash");

// Runs the router child; with `killAfterSteps`, SIGKILLs it a random 0-5 ms after it reported that many
// deliveries or dispatches, so kills land at every stage of the work.
function runChild(config: string, ready: string, killAfterSteps: number | null) {
  const child = spawn(process.execPath, [CHILD, config, ready], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let steps = 0;
  const kill = () => setTimeout(() => child.kill("SIGKILL"), random() * 5);
  if (killAfterSteps === 0) kill();
  child.stdout.on("data", (d: Buffer) => {
    out += d;
    const before = steps;
    steps += d
      .toString()
      .split("\n")
      .filter((l) => l.startsWith("d")).length;
    if (killAfterSteps !== null && before < killAfterSteps && steps >= killAfterSteps) kill();
  });
  child.stderr.on("data", (d) => {
    err += d;
  });
  return new Promise<{ finished: boolean; code: number | null; steps: number; err: string }>((resolve) => {
    child.on("exit", (code) => resolve({ finished: out.includes("idle"), code, steps, err }));
  });
}

// Takes files out of a node's folder as a sensor would, and remembers every arrival: a file delivered
// twice to the pool shows up twice here.
function consumer(dir: string, seen: string) {
  mkdirSync(seen, { recursive: true });
  const arrivals: string[] = [];
  const timer = setInterval(() => {
    for (const name of visible(dir)) {
      arrivals.push(name);
      const target = join(seen, `${name}.${arrivals.length}`);
      linkSync(join(dir, name), target);
      unlinkSync(join(dir, name));
    }
  }, 5);
  return { arrivals, stop: () => clearInterval(timer) };
}

describe.skipIf(!built)("router crash safety", () => {
  it("delivers every file exactly once per pool and to every alone consumer across SIGKILLs at random instants", async () => {
    const rounds = 10;
    const killsPerRound = 6;
    let totalKills = 0;
    for (let round = 0; round < rounds; round++) {
      const { dir, remove } = scratch("sluice-crash-");
      removers.push(remove);
      const at = (n: string) => join(dir, n);
      for (const n of ["n1", "n2", "n3", "arkime", "storage"]) mkdirSync(at(n));
      const files = makeSpoolFiles(at("ready"), 12, 600_000);
      const config = at("router.json");
      writeFileSync(
        config,
        JSON.stringify({
          journalDir: at("journal"),
          healthIntervalMs: 50,
          retry: { initialMs: 10, maxMs: 50 },
          pools: [
            {
              name: "sensors",
              nodes: [
                { name: "n1", path: at("n1") },
                { name: "n2", path: at("n2"), link: false },
                { name: "n3", path: at("n3"), ready: "close-write", link: false },
              ],
            },
          ],
          alone: [
            { name: "arkime", path: at("arkime"), ready: "close-write", link: false },
            { name: "storage", path: at("storage") },
          ],
        }),
      );
      const sensor = consumer(at("n1"), at("n1-seen"));
      let kills = 0;
      let remaining = files.length * 4; // 3 deliveries and a dispatch per file
      for (;;) {
        const killAt = kills < killsPerRound ? Math.floor(random() * remaining) : null;
        const result = await runChild(config, at("ready"), killAt);
        remaining = Math.max(1, remaining - result.steps);
        if (result.finished) break;
        expect(result.code, result.err).toBe(null); // killed, not failed
        kills++;
        expect(kills).toBeLessThan(killsPerRound + 5);
      }
      // The router is idle: every delivery to n1 is in; wait until the sensor has taken the last ones.
      while (visible(at("n1")).length > 0) await new Promise((r) => setTimeout(r, 5));
      sensor.stop();
      totalKills += kills;
      const inPool = [...sensor.arrivals, ...visible(at("n2")), ...visible(at("n3"))].sort();
      expect(inPool, `round ${round}`).toEqual(files.map((f) => f.name));
      for (const f of files) {
        const node = ["n2", "n3"].find((n) => existsSync(join(at(n), f.name)));
        const copy = node
          ? join(at(node), f.name)
          : join(at("n1-seen"), readdirSync(at("n1-seen")).find((s) => s.startsWith(f.name))!);
        expect(readFileSync(copy).equals(f.content)).toBe(true);
        for (const consumer of ["arkime", "storage"]) {
          expect(readFileSync(join(at(consumer), f.name)).equals(f.content)).toBe(true);
        }
      }
      for (const consumer of ["arkime", "storage"]) expect(visible(at(consumer))).toHaveLength(files.length);
      expect(visible(at("ready"))).toEqual([]);
      for (const n of ["n2", "n3", "arkime"]) {
        const staging = join(at(n), STAGING_DIR);
        if (existsSync(staging)) expect(readdirSync(staging)).toEqual([]);
      }
    }
    expect(totalKills).toBeGreaterThanOrEqual(rounds); // the kills really landed mid-work
  });
});
