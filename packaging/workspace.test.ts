import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));
const workspaces = ["packages", "apps"].flatMap((group) =>
  readdirSync(join(root, group))
    .filter((name) => existsSync(join(root, group, name, "package.json")))
    .map((name) => ({
      dir: join(root, group, name),
      manifest: JSON.parse(readFileSync(join(root, group, name, "package.json"), "utf8")) as {
        name: string;
        scripts?: Record<string, string>;
      },
    })),
);

describe("the workspaces' scripts", () => {
  it("run only files that exist (make bench runs every bench script)", () => {
    const missing: string[] = [];
    for (const { dir, manifest } of workspaces) {
      for (const [script, command] of Object.entries(manifest.scripts ?? {})) {
        for (const [, file] of command.matchAll(/\bnode (\S+\.m?js)\b/g)) {
          if (!existsSync(join(dir, file!))) missing.push(`${manifest.name} ${script}: ${file}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it("give a bench script exactly to the packages with a bench/ folder", () => {
    for (const { dir, manifest } of workspaces) {
      expect(manifest.scripts?.["bench"] !== undefined, manifest.name).toBe(existsSync(join(dir, "bench")));
    }
  });
});
