// The sluice-node executable. A one-shot `replay` runs from the CommonJS builds of Sluice's packages:
// Node's ES module loader costs a process 20-30 ms to start here, a tenth of a short replay's whole
// time. Every other command runs the ES module CLI (cli.ts), as `node dist/cli.js` does.
import { runCli } from "@sluice/daemon/run-cli";
import { USAGE } from "./usage.js";

const argv = process.argv.slice(2);
if (argv[0] === "replay") {
  const { version } = require("../package.json") as { version: string };
  void runCli(
    {
      name: "sluice-node",
      version,
      usage: USAGE,
      // Required, so bundled here: the replay command and, through it, the packages' CommonJS builds.
      commands: {
        replay: (args) =>
          (require("./commands/replay.js") as typeof import("./commands/replay.js")).runReplay(args),
      },
    },
    argv,
  ).then((code) => {
    process.exitCode = code;
  });
} else {
  // Not bundled into this file: the ES module CLI is loaded as it is.
  const cli = "./cli.js";
  void import(cli);
}
