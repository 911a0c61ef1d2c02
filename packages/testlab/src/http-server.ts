// HTTP server for the lab: GET /bytes/N answers with N pseudo-random bytes (N = 0: 204, headers only).
// `node http-server.js PORT`; listens on every address of its namespace, IPv4 and IPv6, and prints
// "listening on PORT" when ready.
import { createServer } from "node:http";
import { exitWithParent } from "./script-lifeline.js";

exitWithParent();
const port = Number(process.argv[2] ?? 8080);
// Incompressible bytes, so a capture's size is not an artefact of repeated content.
const body = Buffer.alloc(4 << 20);
let x = 0x9e3779b9;
for (let i = 0; i < body.length; i += 4) {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  body.writeUInt32LE(x >>> 0, i);
}

const server = createServer((req, res) => {
  const match = /^\/bytes\/(\d+)$/.exec(req.url ?? "");
  if (!match) {
    res.writeHead(404, { "content-type": "text/plain" }).end("try /bytes/N\n");
    return;
  }
  let remaining = Math.min(Number(match[1]), 1 << 30);
  if (remaining === 0) {
    res.writeHead(204).end();
    return;
  }
  res.writeHead(200, { "content-type": "application/octet-stream", "content-length": remaining });
  let offset = (remaining * 7919) % body.length;
  const pump = (): void => {
    while (remaining > 0) {
      const n = Math.min(remaining, body.length - offset, 256 * 1024);
      remaining -= n;
      const more = res.write(body.subarray(offset, offset + n));
      offset = (offset + n) % body.length;
      if (!more && remaining > 0) {
        res.once("drain", pump);
        return;
      }
    }
    res.end();
  };
  pump();
});
server.keepAliveTimeout = 30_000;
server.listen(port, "::", () => console.log(`listening on ${port}`));
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => process.exit(0));
