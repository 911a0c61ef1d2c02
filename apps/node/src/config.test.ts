import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { configReference } from "@sluice/daemon";
import { afterAll, describe, expect, it } from "vitest";
import { nodeJsonSchema } from "./commands/schema.js";
import { NodeConfig } from "./config.js";
import { CLI } from "./testing/node-process.js";

const built = existsSync(CLI);
if (!built) console.warn(`skipping sluice-node config command tests: ${CLI} is not built`);
const dir = mkdtempSync(join(tmpdir(), "node-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content, null, 2));
  return path;
}

const CONTRACT = {
  incoming: "/srv/sluice/in",
  output: { type: "interface", interface: "owlh" },
  speed: "original",
  after: { action: "delete" },
  failed: "/srv/sluice/failed",
  metrics: { listen: "127.0.0.1:9465" },
};

describe("node config schema", () => {
  it("accepts the documented contract and fills in defaults", () => {
    const config = NodeConfig.parse(CONTRACT);
    expect(config).toMatchObject({
      maxGapMs: 5000,
      oversize: "skip",
      stateDir: "/var/lib/sluice-node",
      stableSeconds: 10,
      retry: { initialSeconds: 1, maxSeconds: 30 },
      log: { level: "info" },
    });
  });

  it("accepts every documented speed and output shape", () => {
    for (const speed of ["original", "topspeed", "2x", "0.5x", { pps: 1000 }, { mbps: 100 }]) {
      expect(NodeConfig.safeParse({ ...CONTRACT, speed }).success, JSON.stringify(speed)).toBe(true);
    }
    const fifo = { ...CONTRACT, output: { type: "fifo", path: "/run/zeek.pcap" } };
    const move = { ...CONTRACT, after: { action: "move", path: "/srv/done" } };
    expect(NodeConfig.parse(fifo).output).toEqual({ type: "fifo", path: "/run/zeek.pcap" });
    expect(NodeConfig.parse(move).after).toEqual({ action: "move", path: "/srv/done" });
  });

  it("takes output.qdiscBypass on an interface output (default false), and only a boolean", () => {
    expect(NodeConfig.parse(CONTRACT).output).toMatchObject({ qdiscBypass: false });
    const on = { ...CONTRACT, output: { ...CONTRACT.output, qdiscBypass: true } };
    expect(NodeConfig.parse(on).output).toMatchObject({ qdiscBypass: true });
    const wrong = NodeConfig.safeParse({ ...CONTRACT, output: { ...CONTRACT.output, qdiscBypass: "yes" } });
    expect(wrong.error?.issues.map((i) => i.path.join("."))).toContain("output.qdiscBypass");
  });

  it("refuses speeds the replayer would not understand", () => {
    for (const speed of ["fast", "0x", "x", { pps: 0 }, { pps: 1, mbps: 2 }, 3]) {
      expect(NodeConfig.safeParse({ ...CONTRACT, speed }).success, JSON.stringify(speed)).toBe(false);
    }
  });
});

describe.skipIf(!built)("sluice-node config commands", () => {
  it("check-config accepts the contract", () => {
    const { code, out } = cli("check-config", "--schema-only", file("contract.json", CONTRACT));
    expect(out).toContain("ok (/srv/sluice/in → interface owlh, speed original, after: delete)");
    expect(code).toBe(0);
  });

  it("check-config names every problem with its JSON path and exits 1", () => {
    const bad = {
      ...CONTRACT,
      output: { type: "interface", interface: "a-very-long-interface-name", mtu: 9000 },
      speed: "warp",
      after: { action: "move" },
      stableSeconds: -1,
    };
    const path = file("bad.json", bad);
    const { code, out } = cli("check-config", "--schema-only", path);
    expect(code).toBe(1);
    const lines = out.trim().split("\n");
    expect(lines).toContain(`${path}: $.output.interface: Too big: expected string to have <=15 characters`);
    expect(lines).toContain(`${path}: $.output.mtu: unknown field`);
    expect(lines.some((l) => l.startsWith(`${path}: $.speed: `))).toBe(true);
    expect(lines).toContain(`${path}: $.after.path: missing (expected string)`);
    expect(lines).toContain(`${path}: $.stableSeconds: Too small: expected number to be >0`);
    expect(lines).toHaveLength(5);
  });

  it("check-config refuses a failed or after folder that is the incoming folder", () => {
    const bad = { ...CONTRACT, failed: "/srv/sluice/in/", after: { action: "move", path: "/srv/sluice/in" } };
    const { code, out } = cli("check-config", "--schema-only", file("loop.json", bad));
    expect(code).toBe(1);
    expect(out).toContain("$.failed: /srv/sluice/in is the incoming folder: it would be replayed again");
    expect(out).toContain("$.after.path: /srv/sluice/in is the incoming folder");
  });

  it("check-config points at the line and column of JSON that does not parse", () => {
    const { code, out } = cli(
      "check-config",
      "--schema-only",
      file("broken.json", '{\n  "incoming": "/x",\n  "output": }\n'),
    );
    expect(code).toBe(1);
    expect(out).toMatch(/broken\.json: line 3 column 13: not JSON/);
  });

  it("accepts every shipped example node config", () => {
    const examples = fileURLToPath(new URL("../../../examples/", import.meta.url));
    const configs = readdirSync(examples, { recursive: true, encoding: "utf8" })
      .filter((f) => /(^|\/)node[^/]*\.json$/.test(f))
      .map((f) => join(examples, f));
    expect(configs.length).toBeGreaterThanOrEqual(3);
    for (const config of configs) {
      expect(JSON.parse(readFileSync(config, "utf8")).$schema).toBe(
        "../../apps/node/schema/sluice-node.schema.json",
      );
    }
    const { code, out } = cli("check-config", "--schema-only", ...configs);
    expect(out.trim().split("\n")).toHaveLength(configs.length);
    expect(code, out).toBe(0);
  });

  it("prints usage and exits 2 on an unknown command or option, and prints its version", () => {
    expect(cli("launch")).toMatchObject({ code: 2 });
    expect(cli("launch").err).toContain('unknown command "launch"');
    expect(cli("replay", "--interface", "x", "--warp", "f.pcap")).toMatchObject({ code: 2 });
    expect(cli("replay", "f.pcap").err).toContain("exactly one of --interface IF or --fifo PATH");
    expect(cli("replay", "--interface", "x", "--speed", "warp", "f.pcap").code).toBe(2);
    expect(cli("replay", "--fifo", "/tmp/f", "--qdisc-bypass", "f.pcap").err).toContain(
      "--qdisc-bypass goes with --interface",
    );
    expect(cli("--help")).toMatchObject({ code: 0 });
    expect(cli("--version").out).toMatch(/^sluice-node \d+\.\d+\.\d+/);
  });

  it("keeps the README's config reference generated from the schema", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const block = /<!-- config-reference:start -->\n([\s\S]*?)<!-- config-reference:end -->/.exec(
      readme,
    )?.[1];
    expect(block).toBe(configReference(nodeJsonSchema()));
  });

  it("ships a JSON Schema generated from the config schema", () => {
    const shipped = JSON.parse(
      readFileSync(new URL("../schema/sluice-node.schema.json", import.meta.url), "utf8"),
    );
    expect(shipped).toEqual(nodeJsonSchema());
    expect(shipped.properties.oversize.enum).toEqual(["skip", "truncate"]);
  });
});
