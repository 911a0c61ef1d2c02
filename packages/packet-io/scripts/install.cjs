// Builds the native addon at install, as node_pcap's is built. A failed build is not an install
// failure: this package is an optional accelerator, and Sluice falls back to node_pcap. The loader
// (src/binding.ts) says why the addon is missing when it is asked for it.
"use strict";
const { spawnSync } = require("node:child_process");
const { join } = require("node:path");

if (process.platform !== "linux") {
  console.warn("@sluice/packet-io: not Linux, so no addon; Sluice uses node_pcap");
  process.exit(0);
}
// npm puts its own node-gyp on PATH for install scripts and names it in npm_config_node_gyp.
const gyp = process.env.npm_config_node_gyp;
const [command, args] = gyp ? [process.execPath, [gyp, "rebuild"]] : ["node-gyp", ["rebuild"]];
const result = spawnSync(command, args, { stdio: "inherit", cwd: join(__dirname, "..") });
if (result.status !== 0) {
  console.warn(
    `@sluice/packet-io: the native addon did not build (${result.error?.message ?? `exit ${result.status}`}; is libpcap-dev installed?); Sluice will use node_pcap`,
  );
}
process.exit(0);
