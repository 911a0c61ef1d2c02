#!/usr/bin/env node
// @ts-check
// `npm pack` of every published workspace (every package not marked private) into one folder: the set of
// tarballs that installs anywhere with `npm install -g ./*.tgz` (they depend on each other, and @sluice/*
// is not on a registry yet, so they install together). Build first (`make build`): a tarball holds dist/.
//
// usage: node packaging/pack.mjs DIR      prints the tarballs' paths, one a line
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { publishedWorkspaces, repoRoot } from "../scripts/workspaces.mjs";

/**
 * Packs every published workspace into `dir`; returns the tarballs' paths.
 * @param {string} dir
 * @returns {string[]}
 */
export function packAll(dir) {
  mkdirSync(dir, { recursive: true });
  const folders = publishedWorkspaces().map((w) => `./${relative(repoRoot, w.dir)}`);
  const out = execFileSync("npm", ["pack", "--json", "--pack-destination", dir, ...folders], {
    cwd: repoRoot,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  /** @type {{ filename: string }[]} */
  const packed = JSON.parse(out);
  return packed.map((p) => join(dir, p.filename));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const dir = process.argv[2];
  if (dir === undefined) {
    console.error("usage: node packaging/pack.mjs DIR");
    process.exit(2);
  }
  for (const tarball of packAll(resolve(dir))) console.log(tarball);
}
