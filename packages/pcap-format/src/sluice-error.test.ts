import { describe, expect, it } from "vitest";
import { PcapFormatError } from "./errors.js";
import { PcapWriter } from "./pcap-writer.js";
import { SluiceError } from "./sluice-error.js";

class OtherError extends SluiceError<"bad-option"> {
  static readonly errorCode = "ERR_OTHER";
  readonly code = "ERR_OTHER" as const;
}

describe("SluiceError", () => {
  it("tells its own class from another package's, and any Sluice error from a plain one", () => {
    const format = new PcapFormatError("truncated-record", "cut short", { offset: 40 });
    const other = new OtherError("bad-option", "no", { option: "x" });
    expect(PcapFormatError.isInstance(format)).toBe(true);
    expect(PcapFormatError.isInstance(other)).toBe(false);
    expect(OtherError.isInstance(other)).toBe(true);
    expect(SluiceError.isInstance(format) && SluiceError.isInstance(other)).toBe(true);
    expect(SluiceError.isInstance(new Error("plain"))).toBe(false);
  });

  it("recognises an error made by another copy of the package (no shared prototype)", () => {
    const copy = Object.assign(new Error("from a second copy"), {
      [Symbol.for("@sluice/error")]: true,
      code: "ERR_PCAP_FORMAT",
      reason: "bad-magic",
    });
    expect(PcapFormatError.isInstance(copy)).toBe(true);
    expect(OtherError.isInstance(copy)).toBe(false);
  });

  it("takes one constructor shape everywhere, and PcapFormatError's older one too", () => {
    const cause = new Error("underneath");
    const a = new PcapFormatError("bad-magic", "not a capture", { offset: 0 }, { cause });
    const b = new PcapFormatError("bad-magic", 0, "not a capture", { cause });
    for (const e of [a, b]) {
      expect(e).toMatchObject({ code: "ERR_PCAP_FORMAT", reason: "bad-magic", offset: 0, cause });
      expect(e.message).toBe("not a capture (bad-magic at byte 0)");
      expect(JSON.parse(JSON.stringify(e))).toEqual({
        name: "PcapFormatError",
        code: "ERR_PCAP_FORMAT",
        reason: "bad-magic",
        message: "not a capture (bad-magic at byte 0)",
        detail: { offset: 0 },
        offset: 0,
      });
    }
  });

  it("refuses a bad writer option with a typed error naming it", () => {
    let error: unknown;
    try {
      PcapWriter.create(Buffer.alloc(0) as never, { linkType: 1, snaplen: 0 });
    } catch (e) {
      error = e;
    }
    expect(PcapFormatError.isInstance(error) && error.reason).toBe("bad-argument");
    expect((error as PcapFormatError).detail.option).toBe("snaplen");
  });
});
