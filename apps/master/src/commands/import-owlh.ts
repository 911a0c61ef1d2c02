import { resolve } from "node:path";
import { ConfigError, formatProblem, loadConfigFile, parseConfig } from "@sluice/daemon";
import { z } from "zod";
import { DEFAULT_SPOOL, MasterConfig } from "../config.js";
import { UsageError } from "../usage.js";

/** OwlH Dispatcher's dispatcher-nodes.json. */
const OwlhNodes = z.object({
  nodes: z
    .array(
      z.object({
        name: z.string().min(1),
        ntype: z.enum(["pool", "alone"]),
        pcappath: z.string().min(1),
      }),
    )
    .default([]),
  folders: z
    .array(z.object({ fname: z.string().min(1), ftype: z.string().optional(), fpath: z.string().min(1) }))
    .default([]),
});

// OwlH names are free text; Sluice names become parts of file names.
function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^[^A-Za-z0-9]+/, "") || "node";
}

/**
 * The folders packaging/systemd/sluice-master.service lets the master write (its ReadWritePaths; a test keeps
 * the two equal): the spool, and NFS mounts and local storage under /mnt and /data.
 */
export const UNIT_WRITABLE_PATHS = [DEFAULT_SPOOL, "/mnt", "/data"];

/** Turns an OwlH dispatcher-nodes.json into the equivalent Sluice master config. */
export function importOwlh(owlh: z.output<typeof OwlhNodes>): {
  config: Record<string, unknown>;
  notes: string[];
} {
  const notes: string[] = [];
  const destination = (n: { name: string; pcappath: string }) => ({
    name: safeName(n.name),
    path: n.pcappath,
  });
  const pool = owlh.nodes.filter((n) => n.ntype === "pool").map(destination);
  const alone = owlh.nodes.filter((n) => n.ntype === "alone").map(destination);
  const sources = owlh.folders.map((f) => {
    if (f.ftype !== undefined && f.ftype !== "local")
      notes.push(`folder "${f.fname}" has ftype "${f.ftype}"; imported as an inbox folder`);
    return { type: "folder", name: safeName(f.fname), path: f.fpath };
  });
  if (sources.length > 0) {
    notes.push(
      "OwlH read pcaps that tcpdump -G wrote into its folders; Sluice can capture itself: replace a folder source with " +
        '{ "type": "interface", "name": "span0", "interface": "eth1" } to get timer-driven rotation and atomic files',
    );
  }
  if (pool.length > 0) notes.push('OwlH\'s pool becomes the pool "owlh" with round robin, as OwlH did');
  const written = [...sources, ...pool, ...alone].map((f) => resolve(f.path));
  const outside = [...new Set(written)].filter(
    (path) => !UNIT_WRITABLE_PATHS.some((w) => path === w || path.startsWith(`${w}/`)),
  );
  if (outside.length > 0) {
    notes.push(
      `sluice-master.service (ProtectSystem=strict) writes only to ${UNIT_WRITABLE_PATHS.join(", ")}: ` +
        `add ${outside.join(" ")} to its ReadWritePaths= (systemctl edit sluice-master)`,
    );
  }
  const config = {
    spool: DEFAULT_SPOOL,
    sources,
    rotation: { seconds: 60, align: true },
    pools: pool.length > 0 ? [{ name: "owlh", strategy: "round-robin", nodes: pool }] : [],
    alone,
    afterDispatch: { action: "delete" },
  };
  return { config, notes };
}

/** `sluice-master import-owlh FILE`: prints the equivalent Sluice config on stdout, notes on stderr. */
export function runImportOwlh(args: string[]): number {
  if (args.length !== 1 || args[0]!.startsWith("-"))
    throw new UsageError("import-owlh needs one dispatcher-nodes.json");
  const file = args[0]!;
  let owlh: z.output<typeof OwlhNodes>;
  try {
    owlh = loadConfigFile(OwlhNodes, file);
  } catch (error) {
    if (!ConfigError.isInstance(error)) throw error;
    for (const problem of error.problems) process.stderr.write(`${file}: ${formatProblem(problem)}\n`);
    return 1;
  }
  const { config, notes } = importOwlh(owlh);
  try {
    parseConfig(MasterConfig, config, "the imported config");
  } catch (error) {
    if (!ConfigError.isInstance(error)) throw error;
    for (const problem of error.problems)
      process.stderr.write(`imported config: ${formatProblem(problem)}\n`);
    process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
    return 1;
  }
  for (const note of notes) process.stderr.write(`sluice-master: note: ${note}\n`);
  process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
  return 0;
}
