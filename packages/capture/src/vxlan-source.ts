import { spawnSync } from "node:child_process";
import { EventEmitter } from "node:events";
import type { HandoverCounts } from "./cutover.js";
import { CaptureError } from "./errors.js";
import {
  type Direction,
  InterfaceSource,
  type InterfaceSourceEvents,
  type InterfaceSourceOptions,
} from "./interface-source.js";
import { ip } from "./preflight.js";
import type { CaptureStats } from "./source.js";

/**
 * Options of an AWS VPC Traffic Mirroring (or any VXLAN) source: a kernel VXLAN interface for one VNI
 * decapsulates the mirrored frames, and libpcap captures the inner frames on it, so BPF filters apply to
 * the mirrored traffic itself.
 */
export interface VxlanSourceOptions extends Omit<InterfaceSourceOptions, "interface"> {
  /** Default "in": the VXLAN interface only receives mirrored frames. */
  direction?: Direction;
  /** Source name (default `vxlan<vni>`). */
  name?: string;
  /** VXLAN Network Identifier: the mirror session's VNI. */
  vni: number;
  /** Device the mirrored VXLAN packets arrive on (e.g. eth0). */
  device?: string;
  /** Local address the VXLAN packets are sent to. */
  local?: string;
  /** UDP port (default 4789, what AWS uses). */
  port?: number;
  /** Name of the VXLAN interface (default `sluice<vni>`, at most 15 characters). */
  interfaceName?: string;
  /** MTU of a created VXLAN interface (default: the kernel's, the device's MTU minus 50). */
  mtu?: number;
}

interface LinkInfo {
  ifname: string;
  linkinfo?: { info_kind?: string; info_data?: { id?: number; port?: number } };
}

/**
 * Captures AWS VPC Traffic Mirroring: creates (or reuses) a kernel VXLAN interface for the VNI, brings it
 * up, captures on it, and removes it on stop if it created it.
 */
export class VxlanSource extends EventEmitter<InterfaceSourceEvents> {
  readonly name: string;
  readonly interfaceName: string;
  private readonly capture: InterfaceSource;
  private created = false;

  constructor(private readonly options: VxlanSourceOptions) {
    super();
    const { vni } = options;
    if (!Number.isInteger(vni) || vni < 0 || vni > 0xffffff) {
      throw new CaptureError("bad-option", `vni must be 0..16777215, not ${vni}`, { option: "vni" });
    }
    this.name = options.name ?? `vxlan${vni}`;
    this.interfaceName = options.interfaceName ?? `sluice${vni}`;
    if (this.interfaceName.length > 15) {
      throw new CaptureError("bad-option", `interfaceName "${this.interfaceName}" is over 15 characters`, {
        option: "interfaceName",
      });
    }
    // The interface only receives mirrored frames: anything it sends is the sensor's own noise.
    const direction = options.direction ?? "in";
    this.capture = new InterfaceSource({
      ...options,
      direction,
      name: this.name,
      interface: this.interfaceName,
    });
    this.capture.on("packet", (p) => this.emit("packet", p));
    this.capture.on("warning", (w) => this.emit("warning", w));
    this.capture.on("error", (e) => this.emit("error", e));
    this.capture.on("lost", (e) => this.emit("lost", e));
    this.capture.on("output", (m) => this.emit("output", m));
  }

  /** Why the capture broke while running, or null (see the "lost" event). */
  get lost(): CaptureError | null {
    return this.capture.lost;
  }

  /** Process id of the capture child, once started. */
  get pid(): number | null {
    return this.capture.pid;
  }

  /** LINKTYPE_ of the inner frames (Ethernet), once started. */
  get linkType(): number | null {
    return this.capture.linkType;
  }

  /** Which packet I/O the capture child uses, once started. */
  get packetIo(): "native" | "pcap" | null {
    return this.capture.packetIo;
  }

  /** The capture runs in this process (see InterfaceSource's `child.inProcess`), once started. */
  get inProcess(): boolean {
    return this.capture.inProcess;
  }

  async start(): Promise<void> {
    this.ensureInterface();
    try {
      await this.capture.start();
    } catch (error) {
      this.removeInterface();
      throw error;
    }
  }

  stats(): Promise<CaptureStats> {
    return this.capture.stats();
  }

  /** See InterfaceSource. */
  get openedAtUs(): number | null {
    return this.capture.openedAtUs;
  }

  /** See InterfaceSource. */
  get handover(): HandoverCounts {
    return this.capture.handover;
  }

  /** See InterfaceSource. */
  startFrom(atUs: number): void {
    this.capture.startFrom(atUs);
  }

  /** See InterfaceSource. */
  cut(atUs: number): Promise<number> {
    return this.capture.cut(atUs);
  }

  /**
   * Stops the capture and removes the interface if it created it, unless `successor` (a VxlanSource
   * that took over, see InterfaceSource's `successor`) captures the same interface: then the successor
   * owns it and removes it when it stops.
   */
  async stop(options: { successor?: VxlanSource } = {}): Promise<CaptureStats> {
    const stats = await this.capture.stop();
    const { successor } = options;
    if (
      successor &&
      successor.interfaceName === this.interfaceName &&
      successor.options.netns === this.options.netns
    ) {
      successor.created ||= this.created;
      this.created = false;
    }
    this.removeInterface();
    return stats;
  }

  private ensureInterface(): void {
    const { netns, vni } = this.options;
    const port = this.options.port ?? 4789;
    const existing = ip(netns, ["-d", "-j", "link", "show", "dev", this.interfaceName]);
    if (existing.ok) {
      const [link] = JSON.parse(existing.out) as LinkInfo[];
      const data = link?.linkinfo?.info_data;
      if (link?.linkinfo?.info_kind !== "vxlan" || data?.id !== vni) {
        throw new CaptureError(
          "vxlan-failed",
          `interface ${this.interfaceName} exists but is not VXLAN VNI ${vni} (kind ${link?.linkinfo?.info_kind ?? "unknown"}, id ${data?.id ?? "none"})`,
          { interface: this.interfaceName, vni },
        );
      }
      this.created = false;
    } else {
      const args = [
        "link",
        "add",
        this.interfaceName,
        "type",
        "vxlan",
        "id",
        String(vni),
        "dstport",
        String(port),
        "nolearning",
      ];
      if (this.options.local) args.push("local", this.options.local);
      if (this.options.device) args.push("dev", this.options.device);
      const added = ip(netns, args);
      if (!added.ok) {
        throw new CaptureError(
          "vxlan-failed",
          `cannot create VXLAN interface ${this.interfaceName}: ${added.err}`,
          {
            interface: this.interfaceName,
            vni,
            command: `ip ${args.join(" ")}`,
          },
        );
      }
      this.created = true;
      // Keep the sensor's own stack quiet on the mirror: no ARP, no IPv6 autoconfiguration chatter.
      ip(netns, ["link", "set", this.interfaceName, "arp", "off"]);
      const sysctl = ["sysctl", "-qw", `net.ipv6.conf.${this.interfaceName}.disable_ipv6=1`];
      spawnSync(netns ? "ip" : sysctl[0]!, netns ? ["netns", "exec", netns, ...sysctl] : sysctl.slice(1), {
        stdio: "ignore",
      });
    }
    const mtu = this.created && this.options.mtu !== undefined ? ["mtu", String(this.options.mtu)] : [];
    const up = ip(netns, ["link", "set", this.interfaceName, ...mtu, "up"]);
    if (!up.ok) {
      this.removeInterface();
      throw new CaptureError("vxlan-failed", `cannot bring ${this.interfaceName} up: ${up.err}`, {
        interface: this.interfaceName,
      });
    }
  }

  private removeInterface(): void {
    if (!this.created) return;
    ip(this.options.netns, ["link", "del", this.interfaceName]);
    this.created = false;
  }
}
