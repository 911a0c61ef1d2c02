import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createLab, type Lab, labUnavailableReason } from "@sluice/testlab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI } from "./testing/node-process.js";

const reason = labUnavailableReason() ?? (existsSync(CLI) ? null : `${CLI} built (npx tsup)`);
if (reason) console.warn(`skipping setup-interface tests: they need ${reason}`);

let lab: Lab;
beforeAll(async () => {
  if (!reason) lab = await createLab();
});
afterAll(() => lab?.destroy());

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

interface Link {
  ifname: string;
  mtu: number;
  flags: string[];
  linkinfo?: { info_kind?: string };
}

function links(netns: string): Link[] {
  const out = spawnSync("ip", ["-n", netns, "-j", "-d", "link", "show"], { encoding: "utf8" }).stdout;
  return JSON.parse(out) as Link[];
}

describe.skipIf(reason !== null)("sluice-node setup-interface", () => {
  it("creates owlh inside a namespace, is idempotent, and removes it idempotently", () => {
    const netns = lab.a.netns;
    const dummy = spawnSync("ip", ["-n", netns, "link", "add", "probe0", "type", "dummy"]).status === 0;
    if (dummy) spawnSync("ip", ["-n", netns, "link", "del", "probe0"]);

    const first = cli("setup-interface", "--netns", netns, "--mtu", "9000");
    expect(first.code, first.err).toBe(0);
    expect(first.out).toContain(`owlh in netns ${netns}: created`);
    const made = links(netns).filter((l) => l.ifname.startsWith("owlh"));
    if (dummy) {
      expect(made.map((l) => l.linkinfo?.info_kind)).toEqual(["dummy"]);
    } else {
      // This kernel has no dummy link type: a veth pair, and the command says so.
      expect(first.err).toContain("no dummy link type here");
      expect(made.map((l) => [l.ifname, l.linkinfo?.info_kind]).sort()).toEqual([
        ["owlh", "veth"],
        ["owlh-peer", "veth"],
      ]);
    }
    for (const link of made) {
      expect(link.mtu).toBe(9000);
      expect(link.flags).toContain("UP");
    }

    const again = cli("setup-interface", "--netns", netns);
    expect(again.code, again.err).toBe(0);
    expect(again.out).toContain("already there");
    const after = links(netns).filter((l) => l.ifname.startsWith("owlh"));
    expect(after).toHaveLength(made.length);
    for (const link of after) expect(link.mtu).toBe(65535);

    expect(cli("setup-interface", "--netns", netns, "--remove")).toMatchObject({ code: 0 });
    expect(links(netns).filter((l) => l.ifname.startsWith("owlh"))).toEqual([]);
    const twice = cli("setup-interface", "--netns", netns, "--remove");
    expect(twice).toMatchObject({ code: 0 });
    expect(twice.out).toContain("not there");
  });

  it("refuses to take over an interface of another kind, and a bad MTU", () => {
    const taken = cli("setup-interface", "--netns", lab.a.netns, "--name", "lo");
    expect(taken.code).toBe(1);
    expect(taken.err).toContain("lo exists and is a");
    expect(cli("setup-interface", "--netns", lab.a.netns, "--mtu", "70000").code).toBe(2);
  });
});
