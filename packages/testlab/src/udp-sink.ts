// UDP receiver for the lab: `node udp-sink.js sink|echo`. Binds an ephemeral port on every address of its
// namespace (IPv4 and IPv6), prints "listening on PORT", counts datagrams (echo: sends each one back) and
// prints {"received":N,"bytes":N} when stopped with SIGTERM or SIGINT.
import { createSocket } from "node:dgram";
import { exitWithParent } from "./script-lifeline.js";

exitWithParent();
const echo = process.argv[2] === "echo";
const socket = createSocket({ type: "udp6", ipv6Only: false });
let received = 0;
let bytes = 0;
socket.on("message", (message, from) => {
  received++;
  bytes += message.length;
  if (echo) socket.send(message, from.port, from.address);
});
socket.bind(0, "::", () => console.log(`listening on ${socket.address().port}`));
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    console.log(JSON.stringify({ received, bytes }));
    process.exit(0);
  });
}
