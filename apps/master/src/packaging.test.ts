import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const units = fileURLToPath(new URL("../../../packaging/systemd/", import.meta.url));
const analyze = spawnSync("systemd-analyze", ["--version"]).status === 0;
if (!analyze) console.warn("skipping the systemd unit check: systemd-analyze is not installed");

describe.skipIf(!analyze)("packaging/systemd", () => {
  it("has units systemd-analyze verify finds nothing wrong with but the binaries not installed here", () => {
    const files = readdirSync(units).filter((f) => f.endsWith(".service"));
    expect(files.sort()).toEqual(["sluice-master.service", "sluice-node.service", "sluice-owlh.service"]);
    const result = spawnSync("systemd-analyze", ["verify", "--man=no", ...files.map((f) => `./${f}`)], {
      cwd: units,
      encoding: "utf8",
    });
    const problems = `${result.stdout}${result.stderr}`
      .split("\n")
      .filter(
        (line) => line.trim() !== "" && !/Command \/usr\/local\/bin\/sluice-\w+ is not executable/.test(line),
      );
    expect(problems).toEqual([]);
  });
});
