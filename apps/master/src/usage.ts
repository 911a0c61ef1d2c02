/** Thrown for a command line that cannot run: exit 2 with the usage text. */
export class UsageError extends Error {
  override name = "UsageError";
}

export const USAGE = `Usage: sluice-master <command> [options]

Commands:
  capture --interface IF --out DIR [options]
      capture an interface into rotated PCAP files (tcpdump -G / dumpcap -b, done right): a file is
      written under a hidden name, fsynced and renamed when complete; rotation happens on time also
      on an idle link. Prints each finished file's path on stdout as it becomes ready, and a stats line
      on stderr at the end. Leftovers of a crash in DIR are salvaged first.

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
      --user NAME            switch to this user once the interface is open (like tcpdump -Z)
      --name LABEL           source label in file names (default: the interface)
      --buffer-mib N         kernel capture buffer (default 64)
      --netns NAME           capture inside this network namespace

Exit status: 0 after a clean stop (end of --duration/--count, SIGINT, SIGTERM); 1 on a capture error;
2 on a usage error.
`;
