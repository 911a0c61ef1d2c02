export { UsageError } from "@sluice/daemon/run-cli";

export const USAGE = `Usage: sluice-master <command> [options]

Commands:
  run --config FILE
      the dispatcher: captures the config's sources into rotated files in the spool and hands each
      finished file to one node of every pool and to every alone consumer, exactly once per pool,
      surviving kill -9 (a journal in <spool>/journal). Logs one JSON object per line on stdout;
      a live status page (GET /), GET /status.json and Prometheus GET /metrics at metrics.listen.
      SIGTERM/SIGINT: finish open files and in-flight deliveries, exit 0. SIGHUP: reload the
      config (an invalid one is refused, the old one kept); a changed capture source restarts
      without a gap (the new capture opens before the old one stops), unchanged ones keep running.
      The spool is locked: a second master on it exits 1 naming the first one's pid (a dead
      holder's lock is taken over).

  check-config [--schema-only] FILE...
      every problem of a master config with its JSON path ($.pools[0].nodes[1].path), all at once:
      the schema's, then what run checks on this machine before it opens anything (user exists,
      interfaces and namespaces exist, filters compile, spool and destinations writable); exit 1 if
      any. --schema-only: the schema's only, for a config written for another machine.

  import-owlh dispatcher-nodes.json
      prints the Sluice config equivalent to an OwlH Dispatcher's node list (notes on stderr).

  status [--config FILE] [--metrics HOST:PORT|URL] [--json]
      asks a running master for its status document (GET /status.json at the config's
      metrics.listen, with its metrics.auth; default config /etc/sluice/master.json) and prints
      sources with their rates, spool and destinations with their health and its reason; --json
      prints the document itself.

  schema [--markdown]
      prints the config's JSON Schema (point an editor at it with "$schema"), or with --markdown
      the config reference table.

  capture --interface IF --out DIR [options]
      capture an interface into rotated PCAP files (tcpdump -G / dumpcap -b, done right): a file is
      written under a hidden name, fsynced and renamed when complete; rotation happens on time also
      on an idle link. Prints each finished file's path on stdout as it becomes ready, and a stats line
      on stderr at the end: captured = written + dropped by spool (by reason); kernel and interface
      drops never reached the capture. Leftovers of a crash in DIR are salvaged first. A DIR that is a
      running master's <spool>/ready is refused, naming the master's pid. If the interface disappears,
      the open file is finished and published and capture exits 1 (as tcpdump). With the packet-io
      addon, one worker and no --netns/--user, capture runs in this one process.

      --interface IF         interface to capture (also "any")
      --out DIR              directory for the files (created if missing)
      --filter BPF           capture filter, as for tcpdump
      --snaplen N            bytes kept per packet (default 65535)
      --rotate-seconds N     start a new file every N seconds (default 60)
      --align                start files on multiples of the interval (:00, :01, ...)
      --rotate-mib N         start a new file once the current one holds N MiB
      --rotate-packets N     start a new file after N packets
      --keep-empty           also write a file for an interval without packets
      --duration S           stop after S seconds
      --count N              stop after N packets
      --user NAME            switch to this user once the interface is open (like tcpdump -Z);
                             refused up front when that user cannot write to DIR
      --name LABEL           source label in file names (default: the interface)
      --buffer-mib N         kernel capture buffer (default 64)
      --netns NAME           capture inside this network namespace (in a child process; run
                             under "ip netns exec NAME" to capture in one process)
      --workers N            N capture processes sharing the interface (PACKET_FANOUT, hash: each
                             flow stays in one worker's files, named <label>-w<N>-...; needs the
                             packet-io addon; not with --count)
      --packet-io MODE       auto (default: the packet-io addon when built, else node_pcap with a
                             warning), native (the addon or fail), pcap (node_pcap); default
                             SLUICE_PACKET_IO

  --help      prints this text (man sluice-master shows it as a man page).
  --version   prints the version: "sluice-master X.Y.Z".

Exit status: 0 after a clean stop (end of --duration/--count, SIGINT, SIGTERM; capture: SIGHUP) or a valid config;
1 on a capture error (also: the interface disappeared, or captured packets the spool could not
take), an invalid config, a spool locked by another master or an unreachable master; 2 on a usage
error.
`;
