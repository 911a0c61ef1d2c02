import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { labUnavailableReason } from "./availability.js";
import { cleanupStaleLabs } from "./cleanup.js";
import { createLab } from "./lab.js";
import { LIFELINE_ENV } from "./script-lifeline.js";
import { scriptPath } from "./scripts.js";
import { allEnded, listNamespaces, reportSkip } from "./test-helpers.js";

const reason = labUnavailableReason();
reportSkip(reason, "cleanup tests");

const distIndex = fileURLToPath(new URL("../dist/index.js", import.meta.url));

// A separate node process that builds a lab with a sleeper and the HTTP server running in it, prints the
// namespace names and then does what `then` says.
function labProcess(then: string): ChildProcess {
  const script = `
    const { createLab } = await import(${JSON.stringify(distIndex)});
    const lab = await createLab();
    lab.exec("a", "sleep", ["60"]);
    await lab.http({ requests: 1, responseBytes: 10 });
    console.log(JSON.stringify([lab.a.netns, lab.b.netns]));
    ${then}
  `;
  return spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "pipe"],
  });
}

async function namesFrom(child: ChildProcess): Promise<string[]> {
  const [line] = (await once(child.stdout!.setEncoding("utf8"), "data")) as [string];
  return JSON.parse(line.split("\n")[0] ?? "") as string[];
}

const pidsIn = (netns: string): number[] =>
  (spawnSync("ip", ["netns", "pids", netns], { encoding: "utf8" }).stdout ?? "")
    .split("\n")
    .filter(Boolean)
    .map(Number);

async function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return { code: child.exitCode, signal: child.signalCode };
  const [code, signal] = (await once(child, "exit")) as [number | null, string | null];
  return { code, signal };
}

describe.skipIf(reason !== null)("cleanup", () => {
  it("removes namespaces of a dead process and kills what still runs inside them", async () => {
    // The owner lives until the scene is set, so no other test file's createLab cleans up early.
    const owner = spawn("sleep", ["30"], { stdio: "ignore" });
    const stale = [`sl-${owner.pid}-7-a`, `sl-${owner.pid}-7-b`];
    for (const name of stale) spawnSync("ip", ["netns", "add", name]);
    const sleeper = spawn("ip", ["netns", "exec", stale[0] ?? "", "sleep", "60"], { stdio: "ignore" });
    // Once the kernel lists a process in the namespace, cleanup has something to kill there.
    while (spawnSync("ip", ["netns", "pids", stale[0] ?? ""], { encoding: "utf8" }).stdout.trim() === "")
      await new Promise((r) => setTimeout(r, 10));
    expect(listNamespaces()).toEqual(expect.arrayContaining(stale));
    owner.kill("SIGKILL");
    await exitOf(owner);

    expect(await cleanupStaleLabs()).toEqual(expect.arrayContaining(stale));
    for (const name of stale) expect(listNamespaces()).not.toContain(name);
    expect((await exitOf(sleeper)).signal).toBe("SIGKILL");
  });

  it("leaves namespaces of running processes alone", async () => {
    const live = `sl-${process.ppid}-253-a`;
    spawnSync("ip", ["netns", "add", live]);
    try {
      expect(await cleanupStaleLabs()).not.toContain(live);
      expect(listNamespaces()).toContain(live);
    } finally {
      spawnSync("ip", ["netns", "del", live]);
    }
  });

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`removes the lab on ${signal} and lets the signal end the process`, async () => {
      const child = labProcess("setInterval(() => {}, 1000);");
      const names = await namesFrom(child);
      const pids = names.flatMap(pidsIn);
      expect(pids.length).toBeGreaterThanOrEqual(2);
      child.kill(signal);
      expect(await exitOf(child)).toEqual({ code: null, signal });
      for (const name of names) expect(listNamespaces()).not.toContain(name);
      expect(await allEnded(pids)).toBe(true);
    });
  }

  it("leaves the signal to the application's own handler after cleaning up", async () => {
    const child = labProcess(`
      process.on("SIGINT", () => { console.log("app handler"); process.exit(0); });
      setInterval(() => {}, 1000);
    `);
    const names = await namesFrom(child);
    let out = "";
    child.stdout!.on("data", (s: string) => {
      out += s;
    });
    child.kill("SIGINT");
    expect(await exitOf(child)).toEqual({ code: 0, signal: null });
    expect(out).toContain("app handler");
    for (const name of names) expect(listNamespaces()).not.toContain(name);
  });

  it("removes the lab when the process exits without destroying it", async () => {
    const child = labProcess("process.exit(3);");
    const names = await namesFrom(child);
    expect(await exitOf(child)).toEqual({ code: 3, signal: null });
    for (const name of names) expect(listNamespaces()).not.toContain(name);
  });

  it("leaves a SIGKILLed process's lab for the next cleanup, which removes it with its processes", async () => {
    const child = labProcess("setInterval(() => {}, 1000);");
    const names = await namesFrom(child);
    const pids = names.flatMap(pidsIn);
    child.kill("SIGKILL");
    await exitOf(child);
    // Another test file's createLab may clean up first; either way the lab must end up gone.
    await cleanupStaleLabs();
    for (const name of names) expect(listNamespaces()).not.toContain(name);
    expect(await allEnded(pids)).toBe(true);
  });

  it("ends the lab's traffic programs when the lab's process goes away", async () => {
    const lab = await createLab();
    try {
      const sink = lab.exec("a", process.execPath, [scriptPath("udp-sink"), "sink"], {
        stdin: "pipe",
        env: { [LIFELINE_ENV]: "1" },
      });
      await sink.waitFor(/listening on/);
      // What the kernel does to the pipe when this process dies, short of killing the test runner.
      sink.child.stdin?.destroy();
      expect(await sink.exited).toBe(0);
    } finally {
      await lab.destroy();
    }
  });
});
