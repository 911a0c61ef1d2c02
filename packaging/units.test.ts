import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { UNIT_WRITABLE_PATHS } from "../apps/master/src/commands/import-owlh.js";
import { DEFAULT_SPOOL, MasterConfig } from "../apps/master/src/config.js";
import { USAGE as MASTER_USAGE } from "../apps/master/src/usage.js";
import { NodeConfig } from "../apps/node/src/config.js";
import { USAGE as NODE_USAGE } from "../apps/node/src/usage.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const units = join(root, "packaging", "systemd");
const analyze = spawnSync("systemd-analyze", ["--version"]).status === 0;
if (!analyze) console.warn("skipping the systemd-analyze check: systemd-analyze is not installed");

/** A unit file's [Service] settings, each key with every value it was given (space-separated lists split). */
function service(text: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let section = "";
  for (const line of text.split("\n")) {
    const header = /^\[(\w+)\]$/.exec(line.trim());
    if (header) section = header[1]!;
    const setting = /^(\w+)=(.*)$/.exec(line);
    if (section !== "Service" || setting === null) continue;
    const [, key, value] = setting;
    const split = /^(ReadWritePaths|StateDirectory|RuntimeDirectory)$/.test(key!)
      ? value!.split(/\s+/)
      : [value!];
    settings.set(key!, [...(settings.get(key!) ?? []), ...split.filter((v) => v !== "")]);
  }
  return settings;
}

const unit = (name: string) => service(readFileSync(join(units, name), "utf8"));
const conf = (path: string) =>
  readFileSync(join(units, path), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("#"))
    .map((l) => l.split(/\s+/));

/** What a unit lets its service write: ReadWritePaths (with "-": only if present), state and runtime dirs. */
function writable(settings: Map<string, string[]>): string[] {
  return [
    ...(settings.get("ReadWritePaths") ?? []).map((p) => p.replace(/^-/, "")),
    ...(settings.get("StateDirectory") ?? []).map((d) => `/var/lib/${d}`),
    ...(settings.get("RuntimeDirectory") ?? []).map((d) => `/run/${d}`),
  ];
}

const within = (path: string, dirs: string[]) =>
  dirs.some((d) => resolve(path) === d || resolve(path).startsWith(`${d}/`));

/** ReadWritePaths a drop-in shipped beside an example adds (examples/<x>/systemd/<unit>.d/*.conf). */
function dropIns(example: string, unitName: string): string[] {
  const dir = join(root, "examples", example, "systemd", `${unitName}.d`);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => writable(service(readFileSync(join(dir, f), "utf8"))));
}

/** Example configs meant for the units: all but the demo's, which `make demo` runs in /tmp. */
function examples(pattern: RegExp): { example: string; file: string }[] {
  return readdirSync(join(root, "examples"), { recursive: true, encoding: "utf8" })
    .filter((f) => pattern.test(f) && !f.startsWith("demo/"))
    .map((f) => ({ example: dirname(f), file: join(root, "examples", f) }));
}

/** Every folder `foldersOf` names in each example config is writable under the unit (and its drop-ins). */
function expectWritable(unitName: string, pattern: RegExp, foldersOf: (config: unknown) => string[]): void {
  const base = writable(unit(unitName));
  const configs = examples(pattern);
  expect(configs.length).toBeGreaterThanOrEqual(4);
  for (const { example, file } of configs) {
    const allowed = [...base, ...dropIns(example, unitName)];
    for (const folder of foldersOf(JSON.parse(readFileSync(file, "utf8")))) {
      expect(within(folder, allowed), `${file}: ${folder}`).toBe(true);
    }
  }
}

describe("packaging/systemd", () => {
  it.skipIf(!analyze)(
    "has units systemd-analyze verify finds nothing wrong with but the commands not installed",
    () => {
      const files = readdirSync(units).filter((f) => f.endsWith(".service"));
      expect(files.sort()).toEqual(["sluice-master.service", "sluice-node.service", "sluice-owlh.service"]);
      const result = spawnSync("systemd-analyze", ["verify", "--man=no", ...files.map((f) => `./${f}`)], {
        cwd: units,
        encoding: "utf8",
      });
      const problems = `${result.stdout}${result.stderr}`
        .split("\n")
        .filter(
          (line) =>
            line.trim() !== "" && !/Command \/usr\/local\/bin\/sluice-\w+ is not executable/.test(line),
        );
      expect(problems).toEqual([]);
    },
  );

  it("lets the master write its default spool, which tmpfiles.d creates for the unit's user", () => {
    const master = unit("sluice-master.service");
    const inbox = { type: "folder", name: "inbox", path: "/srv/inbox" }; // a config needs a source
    expect(MasterConfig.parse({ sources: [inbox] }).spool).toBe(DEFAULT_SPOOL);
    // Required (no "-"): the master cannot work without it, so the unit should not start either.
    expect(master.get("ReadWritePaths")).toContain(DEFAULT_SPOOL);
    expect(conf("tmpfiles.d/sluice.conf")).toContainEqual([
      "d",
      DEFAULT_SPOOL,
      "0750",
      "sluice",
      "sluice",
      "-",
    ]);
    expect(master.get("User")).toEqual(["sluice"]);
    expect(master.get("ProtectSystem")).toEqual(["strict"]);
    // import-owlh's notes name the folders outside these.
    expect(UNIT_WRITABLE_PATHS).toEqual(
      writable(new Map([["ReadWritePaths", master.get("ReadWritePaths")!]])),
    );
  });

  it("gives the node its default state directory and the user both units run as", () => {
    const node = unit("sluice-node.service");
    const defaults = NodeConfig.parse({
      incoming: "/x",
      output: { type: "interface", interface: "owlh" },
      failed: "/y",
    });
    expect(defaults.stateDir).toBe(`/var/lib/${node.get("StateDirectory")![0]}`);
    expect(node.get("ProtectSystem")).toEqual(["strict"]);
    const users = conf("sysusers.d/sluice.conf")
      .filter((l) => l[0] === "u")
      .map((l) => l[1]);
    for (const name of ["sluice-master.service", "sluice-node.service"]) {
      expect(users).toContain(unit(name).get("User")![0]);
    }
  });

  it("only requires paths that exist on a fresh install: the rest of ReadWritePaths is optional", () => {
    const created = conf("tmpfiles.d/sluice.conf").map((l) => l[1]);
    for (const name of ["sluice-master.service", "sluice-node.service"]) {
      for (const path of unit(name).get("ReadWritePaths") ?? []) {
        if (!path.startsWith("-")) expect(created, `${name}: ${path}`).toContain(path);
      }
    }
  });

  it("starts the commands from /usr/local/bin with the config files their status commands read", () => {
    const commands = {
      "sluice-master.service": { usage: MASTER_USAGE, config: "/etc/sluice/master.json" },
      "sluice-node.service": { usage: NODE_USAGE, config: "/etc/sluice/node.json" },
    };
    for (const [name, { usage, config }] of Object.entries(commands)) {
      const settings = unit(name);
      const command = name.replace(".service", "");
      expect(settings.get("ExecStart")).toEqual([`/usr/local/bin/${command} run --config ${config}`]);
      expect(settings.get("ExecStartPre")).toEqual([`/usr/local/bin/${command} check-config ${config}`]);
      // The status command's help names the config it reads by default (wrapped anywhere).
      expect(usage.replace(/\s+/g, " ")).toContain(`default config ${config}`);
    }
    expect(unit("sluice-owlh.service").get("ExecStart")).toEqual([
      "/usr/local/bin/sluice-node setup-interface --name owlh --mtu 65535",
    ]);
  });

  it("lets the master write every folder of the example configs (with the example's drop-ins)", () => {
    expectWritable("sluice-master.service", /(^|\/)master\.json$/, (json) => {
      const config = MasterConfig.parse(json);
      return [
        config.spool,
        ...config.sources.flatMap((s) => (s.type === "folder" ? [s.path] : [])),
        ...config.pools.flatMap((p) => p.nodes.map((n) => n.path)),
        ...config.alone.map((a) => a.path),
        ...(config.afterDispatch.action === "move" ? [config.afterDispatch.path] : []),
      ];
    });
  });

  it("lets the node write every folder of the example configs (with the example's drop-ins)", () => {
    expectWritable("sluice-node.service", /(^|\/)node[^/]*\.json$/, (json) => {
      const config = NodeConfig.parse(json);
      return [
        config.incoming,
        config.failed,
        config.stateDir,
        ...(config.after.action === "move" ? [config.after.path] : []),
        ...(config.output.type === "fifo" ? [dirname(config.output.path)] : []),
      ];
    });
  });
});
