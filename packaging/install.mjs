#!/usr/bin/env node
// @ts-check
// `make install` and `make uninstall`.
//
// install: packs every published workspace (packaging/pack.mjs) and installs the tarballs with npm into
// $PREFIX/lib/sluice, a tree of its own with the production dependencies only (native addons such as
// node_pcap built there by node-gyp), nothing linked into the checkout. Then links each package's commands
// into $PREFIX/bin and installs its man pages, the config JSON Schemas ($PREFIX/share/sluice/schema), the
// systemd units (pointed at $PREFIX/bin), and the sysusers.d and tmpfiles.d files that make the sluice user
// and the spool. Every path outside $PREFIX/lib/sluice is recorded in $PREFIX/lib/sluice/install.json, with
// the folders the install had to create, which uninstall reads to remove exactly those. A new install is built beside the old one and swapped in only
// once its commands run, so a failed upgrade leaves the old install working. DESTDIR stages the whole tree
// elsewhere (for a package build): nothing written refers to DESTDIR.
//
// usage: node packaging/install.mjs install|uninstall [--prefix /usr/local] [--destdir DIR]
//          [--unit-dir DIR] [--tarballs DIR]
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, extname, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  binsOf,
  packagesWithInstallScripts,
  publishedWorkspaces,
  readManifest,
  repoRoot,
} from "../scripts/workspaces.mjs";
import { packAll } from "./pack.mjs";

/** The prefix the shipped units name, replaced by the real one at install. */
const UNIT_PREFIX = "/usr/local";

const { values, positionals } = parseArgs({
  options: {
    prefix: { type: "string", default: "/usr/local" },
    destdir: { type: "string", default: "" },
    "unit-dir": { type: "string" },
    tarballs: { type: "string" },
  },
  allowPositionals: true,
});
const action = positionals[0];
const prefix = resolve(values.prefix ?? "/usr/local");
const destdir = values.destdir ? resolve(values.destdir) : "";
/** Where systemd looks for units of this prefix (/usr/local/lib/systemd/system is in its search path). */
const unitDir = resolve(values["unit-dir"] ?? join(prefix, "lib", "systemd", "system"));
const libDir = join(prefix, "lib", "sluice");
/** A path as written under DESTDIR. */
const staged = (/** @type {string} */ path) => (destdir ? join(destdir, path) : path);
const manifestPath = join(libDir, "install.json");

try {
  if (action === "install") install();
  else if (action === "uninstall") uninstall();
  else {
    console.error(
      "usage: node packaging/install.mjs install|uninstall [--prefix P] [--destdir D] [--unit-dir U]",
    );
    process.exitCode = 2;
  }
} catch (error) {
  console.error(`sluice ${action}: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}

function install() {
  const packages = publishedWorkspaces();
  const tarballDir = values.tarballs ?? mkdtempSync(join(tmpdir(), "sluice-pack-"));
  const tarballs = values.tarballs
    ? readdirSync(tarballDir)
        .filter((f) => f.endsWith(".tgz"))
        .map((f) => join(tarballDir, f))
    : packAll(tarballDir);

  /** @type {string[]} folders above $PREFIX/lib/sluice that do not exist yet (a new prefix, a DESTDIR) */
  const madeForLib = [];
  for (let dir = dirname(libDir); dir !== "/" && !existsSync(staged(dir)); dir = dirname(dir))
    madeForLib.push(dir);

  // The new tree, beside the old one.
  const next = staged(`${libDir}.new`);
  rmSync(next, { recursive: true, force: true });
  mkdirSync(next, { recursive: true });
  const allowScripts = Object.fromEntries(packagesWithInstallScripts().map((name) => [name, true]));
  writeJson(join(next, "package.json"), {
    name: "sluice-installation",
    private: true,
    description: "Sluice, installed by its make install; make uninstall removes it.",
    dependencies: Object.fromEntries(packages.map((w) => [w.manifest.name, w.manifest.version])),
    allowScripts,
  });
  console.log(`installing ${packages.length} packages into ${next} (npm; node-gyp builds native addons)`);
  // All tarballs in one install: they depend on each other at their exact versions. --prefer-offline takes
  // the third-party packages from npm's cache (filled by make setup) where it has them.
  execFileSync(
    "npm",
    ["install", "--no-save", "--no-package-lock", "--prefer-offline", "--no-audit", "--no-fund", ...tarballs],
    { cwd: next, stdio: ["ignore", "inherit", "inherit"] },
  );
  if (!values.tarballs) rmSync(tarballDir, { recursive: true, force: true });

  // Each command must start from the new tree before it replaces the old one.
  const commands = packages.flatMap((w) =>
    Object.entries(binsOf(w.manifest)).map(([command, path]) => ({
      command,
      target: join(libDir, "node_modules", w.manifest.name, path),
    })),
  );
  for (const { command, target } of commands) {
    const inNext = join(next, relative(libDir, target));
    chmodSync(inNext, 0o755);
    const version = execFileSync(inNext, ["--version"], { cwd: "/", encoding: "utf8" }).trim();
    console.log(`  ${command}: ${version}`);
  }

  const previous = readInstalled();
  const current = staged(libDir);
  if (existsSync(current)) {
    renameSync(current, `${current}.old`);
    renameSync(next, current);
    rmSync(`${current}.old`, { recursive: true, force: true });
  } else renameSync(next, current);

  /** @type {string[]} every path written outside libDir, as the target system sees it */
  const files = [];
  /** @type {Set<string>} folders that did not exist before an install of ours (this one or an earlier one) */
  const dirs = new Set(previous.dirs);
  for (const dir of madeForLib) dirs.add(dir);
  const put = (/** @type {string} */ path, /** @type {(to: string) => void} */ write) => {
    for (let dir = dirname(path); dir !== "/" && !existsSync(staged(dir)); dir = dirname(dir)) dirs.add(dir);
    mkdirSync(dirname(staged(path)), { recursive: true });
    rmSync(staged(path), { force: true });
    write(staged(path));
    files.push(path);
  };

  for (const { command, target } of commands) {
    const link = join(prefix, "bin", command);
    refuseForeign(link, previous.files);
    put(link, (to) => symlinkSync(relative(dirname(link), target), to));
  }
  for (const w of packages) {
    const installed = join(current, "node_modules", w.manifest.name);
    for (const page of [readManifest(join(installed, "package.json")).man ?? []].flat()) {
      const section = extname(page).slice(1);
      put(join(prefix, "share", "man", `man${section}`, page.split("/").pop() ?? page), (to) =>
        copyFileSync(join(installed, page), to),
      );
    }
    const schemas = join(installed, "schema");
    if (existsSync(schemas)) {
      for (const schema of readdirSync(schemas).filter((f) => f.endsWith(".schema.json"))) {
        put(join(prefix, "share", "sluice", "schema", schema), (to) =>
          copyFileSync(join(schemas, schema), to),
        );
      }
    }
  }
  const systemd = join(repoRoot, "packaging", "systemd");
  for (const unit of readdirSync(systemd).filter((f) => f.endsWith(".service"))) {
    const text = readFileSync(join(systemd, unit), "utf8").replaceAll(
      `${UNIT_PREFIX}/bin/`,
      `${prefix}/bin/`,
    );
    put(join(unitDir, unit), (to) => writeFileSync(to, text, { mode: 0o644 }));
  }
  for (const kind of ["sysusers.d", "tmpfiles.d"]) {
    for (const conf of readdirSync(join(systemd, kind))) {
      put(join(prefix, "lib", kind, conf), (to) => copyFileSync(join(systemd, kind, conf), to));
    }
  }

  // What the previous install had and this one does not (a command renamed, a unit dropped) goes.
  for (const path of previous.files.filter((p) => !files.includes(p))) removeFile(path);
  writeJson(staged(manifestPath), { prefix, files, dirs: [...dirs].sort() });

  console.log(`installed into ${destdir ? `${destdir} (DESTDIR) ` : ""}${prefix}:`);
  for (const path of files) console.log(`  ${path}`);
  console.log(`  ${libDir}/ (the packages and their dependencies)`);
  if (!destdir) {
    console.log(
      "next: systemd-sysusers && systemd-tmpfiles --create sluice.conf && systemctl daemon-reload  (the sluice user, /var/spool/sluice, the units)",
    );
  }
}

function uninstall() {
  const { files, dirs } = readInstalled();
  if (!existsSync(staged(libDir))) {
    console.log(`nothing installed in ${staged(libDir)}`);
    return;
  }
  for (const path of files) removeFile(path);
  rmSync(staged(libDir), { recursive: true, force: true });
  for (const path of [`${libDir}.new`, `${libDir}.old`])
    rmSync(staged(path), { recursive: true, force: true });
  // The folders the install made, deepest first, each only if nothing else has been put in it since.
  for (const dir of dirs.sort((a, b) => b.length - a.length)) {
    if (existsSync(staged(dir)) && readdirSync(staged(dir)).length === 0) rmdirSync(staged(dir));
  }
  console.log(
    `removed ${libDir} and ${files.length} files from ${destdir ? `${destdir} (DESTDIR) ` : ""}${prefix}`,
  );
}

/** What the install in place recorded (nothing when there is no install). */
function readInstalled() {
  const path = staged(manifestPath);
  /** @type {{ files: string[]; dirs?: string[] }} */
  const recorded = existsSync(path) ? JSON.parse(readFileSync(path, "utf8")) : { files: [] };
  return { files: recorded.files, dirs: recorded.dirs ?? [] };
}

/** A command of the same name that another install put there is not ours to replace. */
function refuseForeign(/** @type {string} */ link, /** @type {string[]} */ ours) {
  const path = staged(link);
  if (!exists(path) || ours.includes(link)) return;
  const target = lstatSync(path).isSymbolicLink() ? resolve(dirname(path), readlinkSync(path)) : "";
  if (!target.startsWith(`${staged(libDir)}/`)) {
    throw new Error(`${path} exists and is not from a Sluice install: remove it first (npm uninstall -g?)`);
  }
}

function removeFile(/** @type {string} */ path) {
  if (exists(staged(path))) rmSync(staged(path), { force: true });
}

/** Like existsSync, but true for a symbolic link whose target is gone. */
function exists(/** @type {string} */ path) {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function writeJson(/** @type {string} */ path, /** @type {unknown} */ value) {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}
