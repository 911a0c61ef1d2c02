import { RecentList } from "@sluice/daemon";
import type { Router } from "@sluice/router";
import type { FinishedFile } from "./sources.js";

/** One copy of a file that reached a destination. */
export interface FileDelivery {
  destination: string;
  /** `pool:<name>` or `alone:<name>`. */
  to: string;
  /** When it was published there (ISO 8601). */
  at: string;
}

/** A file a source finished, and what became of it. */
export interface RecentFile {
  name: string;
  source: string;
  packets: number;
  bytes: number;
  /** When the source handed it over (ISO 8601). */
  rotatedAt: string;
  /** delivering: copies still to make; dispatched: every copy made; dropped: given up (quota, removed). */
  state: "delivering" | "dispatched" | "dropped";
  deliveries: FileDelivery[];
  /** Why it was dropped, and the pools and consumers it never reached. */
  dropped: { reason: string; missed: string[] } | null;
}

/**
 * The last files the sources finished and where each went, and when each destination last took one: the
 * bounded memory behind the status page's "recent files" and "last delivery", fed by the router's events.
 */
export class RecentFiles {
  private readonly files: RecentList<RecentFile>;
  private readonly lastDelivery = new Map<string, string>();

  constructor(router: Router, size = 20) {
    this.files = new RecentList(size);
    router.on("delivered", (event) => {
      const at = new Date().toISOString();
      this.lastDelivery.set(event.destination, at);
      const file = this.files.find((f) => f.name === event.spoolFile);
      const to = event.key.replace(/#.*$/, "");
      file?.deliveries.push({ destination: event.destination, to, at });
    });
    router.on("dispatched", (event) => {
      const file = this.files.find((f) => f.name === event.file);
      if (file) file.state = "dispatched";
    });
    router.on("dropped", (event) => {
      const file = this.files.find((f) => f.name === event.file);
      if (file)
        Object.assign(file, { state: "dropped", dropped: { reason: event.reason, missed: event.missed } });
    });
  }

  /** Notes a file a source finished (before it is submitted to the router). */
  rotated(file: FinishedFile): void {
    this.files.add({
      name: file.path.slice(file.path.lastIndexOf("/") + 1),
      source: file.source,
      packets: file.packets,
      bytes: file.bytes,
      rotatedAt: new Date().toISOString(),
      state: "delivering",
      deliveries: [],
      dropped: null,
    });
  }

  /** Newest first. */
  list(): RecentFile[] {
    return this.files.list().map((f) => ({ ...f, deliveries: [...f.deliveries] }));
  }

  /** When `destination` last took a file, in this run (ISO 8601), or null. */
  lastDeliveryTo(destination: string): string | null {
    return this.lastDelivery.get(destination) ?? null;
  }
}
