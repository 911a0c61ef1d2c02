export { UsageError } from "@sluice/daemon/run-cli";

export const USAGE = `Usage: sluice-node <command> [options]

Commands:
  run --config FILE
      watches the config's incoming folder, verifies each PCAP and replays the files one after
      another in capture order (the time in the master's file names) into the output interface or
      FIFO; deletes or moves each file only once its replay finished (a journal in stateDir keeps
      kill -9 from replaying a finished file again). Incomplete files wait stableSeconds, then go to
      the failed folder with <name>.reason.json. Logs one JSON object per line on stdout; a live
      status page (GET /), GET /status.json and Prometheus GET /metrics at metrics.listen.
      SIGTERM/SIGINT: stop at a packet boundary, keep the file, exit 0.
      SIGHUP: reload the config (an invalid one is refused, the old one kept).
      A missing incoming folder is refused unless "createIncoming": true. stateDir is locked: a
      second node on it exits 1 naming the first one's pid (a dead holder's lock is taken over).

  check-config [--schema-only] FILE...
      every problem of a node config with its JSON path ($.output.interface), all at once: the
      schema's, then what run checks on this machine before it opens anything (incoming exists,
      folders writable); exit 1 if any. --schema-only: the schema's only.

  setup-interface [--name owlh] [--mtu 65535] [--netns NS] [--remove]
      creates the interface the sensors listen on (a dummy interface; a veth pair NAME + NAME-peer
      where the kernel has no dummy link type), sets the MTU and brings it up. Idempotent.
      --remove deletes it (also idempotent).

  replay (--interface IF [--netns NS] | --fifo PATH) [options] FILE...
      replays capture files once, like tcpreplay: a progress bar on a TTY, a line per file, and a
      final line with packets sent, skipped, failed and the rate.

      --speed S              original (default), topspeed, or a multiplier such as 2x or 0.5x
      --pps N                a fixed packet rate instead
      --mbps N               a fixed bit rate instead
      --max-gap-ms N         original pacing: the longest pause replayed (default 5000)
      --oversize skip|truncate   frames over the MTU: count and skip (default), or truncate
      --timer spin|sleep     paced speeds: busy-wait between sends like tcpreplay (default: the
                             most exact timing, one core busy), or sleep until just before each
                             send time (little CPU, a longer tail of late frames)
      --qdisc-bypass         PACKET_QDISC_BYPASS (packet-io addon): skip the interface's qdisc;
                             taps on the interface itself then see nothing, only its peer does

  status [--config FILE] [--metrics HOST:PORT|URL] [--json]
      asks a running node for its status document (GET /status.json at the config's metrics.listen,
      with its metrics.auth; default config /etc/sluice/node.json) and prints the output, current
      file, rate, backlog, lag, totals and recent failures; --json prints the document itself.

  schema [--markdown]
      prints the config's JSON Schema (point an editor at it with "$schema"), or with --markdown
      the config reference table.

  --help      prints this text (man sluice-node shows it as a man page).
  --version   prints the version: "sluice-node X.Y.Z".

Exit status: 0 after a clean stop, a valid config or a complete replay; 1 on an invalid config, a
failed replay or an unreachable node; 2 on a usage error.
`;
