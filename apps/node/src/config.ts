import { isAbsolute, resolve } from "node:path";
import { LogSettings, metricsSettings } from "@sluice/daemon";
import { z } from "zod";

// One schema is the source of the config's types, defaults, check-config errors and the JSON Schema file
// (schema/sluice-node.schema.json, checked by a test to be current).

const positive = z.number().positive();
const absolutePath = z.string().min(1).refine(isAbsolute, "must be an absolute path (it starts with /)");

/** "original", "topspeed", "<n>x", { pps } or { mbps }: the shapes @sluice/replayer's parseSpeed accepts. */
export const SpeedSetting = z
  .union([
    z
      .string()
      .regex(
        /^(?:original|topspeed|(?!0*\.?0*x$)(?:\d+(?:\.\d+)?|\.\d+)x)$/,
        'expected "original", "topspeed" or a multiplier above 0 such as "2x" or "0.5x"',
      ),
    z.strictObject({ pps: positive.describe("Packets per second.") }),
    z.strictObject({ mbps: positive.describe("Megabits per second.") }),
  ])
  .describe(
    '"original" (the capture\'s own timing), "topspeed", "2x" / "0.5x", { "pps": N } or { "mbps": N }.',
  );

const mac = z.string().regex(/^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}$/, "a MAC address aa:bb:cc:dd:ee:ff");

const InterfaceOutput = z
  .strictObject({
    type: z.literal("interface"),
    interface: z.string().min(1).max(15).describe("Interface the sensors listen on (see setup-interface)."),
    netns: z.string().optional().describe("Network namespace the interface is in."),
    timer: z
      .enum(["sleep", "spin"])
      .default("sleep")
      .describe(
        'Paced speeds: "sleep" until just before each send time (little CPU), or "spin" like tcpreplay (one core busy while replaying, a gap-error tail about half as long).',
      ),
    qdiscBypass: z
      .boolean()
      .default(false)
      .describe(
        "PACKET_QDISC_BYPASS (with the packet-io addon): frames skip the interface's qdisc. Sensors listening on this interface itself then see nothing; only its peer (a veth's other end) does.",
      ),
    macs: z
      .strictObject({
        src: mac.describe("Source MAC address."),
        dst: mac.describe("Destination MAC address."),
      })
      .optional()
      .describe("MAC addresses given to Linux cooked (SLL) and raw-IP records made Ethernet frames."),
  })
  .describe("Inject every frame into a network interface (Suricata, Zeek, Snort listen on it).");

const FifoOutput = z
  .strictObject({
    type: z.literal("fifo"),
    path: absolutePath.describe("FIFO to write one continuous pcap stream to (zeek -r / suricata -r)."),
  })
  .describe("One continuous pcap stream into a FIFO.");

const After = z
  .discriminatedUnion("action", [
    z.strictObject({ action: z.literal("delete") }),
    z.strictObject({
      action: z.literal("move"),
      path: absolutePath.describe("Folder replayed files are moved to (e.g. for Arkime or storage)."),
    }),
  ])
  .describe('What to do with a file (and its .json sidecar) once replayed: delete it, or move it to "path".');

export const NodeConfig = z
  .strictObject({
    $schema: z.string().optional().describe("The JSON Schema this file follows, for editors."),
    incoming: absolutePath.describe("Folder the master delivers PCAP files to (often an NFS export)."),
    createIncoming: z
      .boolean()
      .default(false)
      .describe(
        "Create incoming when it is missing. By default a missing incoming is refused: a mistyped folder would be watched forever while the master delivers elsewhere.",
      ),
    output: z
      .discriminatedUnion("type", [InterfaceOutput, FifoOutput])
      .describe("Where packets go; the type field says which kind."),
    speed: SpeedSetting.default("original"),
    maxGapMs: z
      .number()
      .int()
      .min(0)
      .default(5000)
      .describe("Original pacing: the longest pause replayed, inside and between files."),
    oversize: z
      .enum(["skip", "truncate"])
      .default("skip")
      .describe("Frames larger than the interface's MTU: count and skip them, or truncate them."),
    after: After.default({ action: "delete" }),
    failed: absolutePath.describe(
      "Folder for files that cannot be replayed, each with <name>.reason.json beside it.",
    ),
    stateDir: absolutePath
      .default("/var/lib/sluice-node")
      .describe(
        "Holds the journal of replayed files, so a restart after kill -9 does not replay them again.",
      ),
    stableSeconds: positive
      .default(10)
      .describe("An incomplete file unchanged this long is given up on and moved to failed."),
    rescanSeconds: positive
      .default(5)
      .describe("Also list incoming this often: inotify does not see files other NFS clients write."),
    retry: z
      .strictObject({
        initialSeconds: positive
          .default(1)
          .describe("First wait after an interface or inject failure, or a file system error on a file."),
        maxSeconds: positive
          .default(30)
          .describe("Longest wait between retries (the wait doubles up to it)."),
      })
      .prefault({})
      .describe(
        "Backoff while the output is down (the file is kept and replayed again from its start) or a file cannot be deleted or moved.",
      ),
    heartbeat: z
      .strictObject({
        enabled: z.boolean().default(true).describe("Write the heartbeat file (default true)."),
        file: z
          .string()
          .regex(/^\.[^/]+$/, "a hidden file name (starting with a dot, no slash)")
          .default(".sluice-node-heartbeat")
          .describe("Its name in incoming: hidden, so no queue takes it for a capture."),
        intervalSeconds: positive.default(5).describe("Rewritten this often (pid, hostname, time, queue)."),
      })
      .prefault({})
      .describe(
        "A heartbeat file in incoming that the master reads (its destination's heartbeat.file) to tell a live node from a dead one; keep intervalSeconds well under the master's maxAgeSeconds.",
      ),
    metrics: metricsSettings("sluice-node"),
    log: LogSettings,
  })
  .superRefine((config, ctx) => {
    const incoming = resolve(config.incoming);
    const folders: [string, (string | number)[]][] = [
      [config.failed, ["failed"]],
      [config.stateDir, ["stateDir"]],
    ];
    if (config.after.action === "move") folders.push([config.after.path, ["after", "path"]]);
    if (config.output.type === "fifo") folders.push([config.output.path, ["output", "path"]]);
    for (const [folder, path] of folders) {
      if (resolve(folder) === incoming) {
        ctx.addIssue({
          code: "custom",
          path,
          message: `${resolve(folder)} is the incoming folder: it would be replayed again`,
        });
      }
    }
  });

/** A node config with defaults filled in. */
export type NodeConfig = z.output<typeof NodeConfig>;
/** Where packets go. */
export type OutputConfig = NodeConfig["output"];
