import { describe, expect, it } from "vitest";
import { z } from "zod";
import { metricsSettings } from "./config-fields.js";
import { ConfigError, parseConfig } from "./config-file.js";
import { isLoopbackHost } from "./http-auth.js";

const Schema = z.strictObject({ metrics: metricsSettings("sluice-test") });

function problems(metrics: unknown): string[] {
  try {
    parseConfig(Schema, { metrics }, "test.json");
  } catch (error) {
    if (!ConfigError.isInstance(error)) throw error;
    return error.problems.map((p) => `${p.path}: ${p.message}`);
  }
  return [];
}

describe("metrics settings", () => {
  it("take a loopback address without credentials", () => {
    for (const listen of ["127.0.0.1:9464", "[::1]:9464", "localhost:9464", "127.0.0.53:1"]) {
      expect(problems({ listen }), listen).toEqual([]);
    }
  });

  it("refuse an address other machines reach without auth or an explicit allowUnauthenticated", () => {
    for (const listen of [":9464", "0.0.0.0:9464", "[::]:9464", "10.0.0.5:9464", "sensor01:9464"]) {
      const found = problems({ listen });
      expect(found, listen).toHaveLength(1);
      expect(found[0]).toMatch(
        /^\$\.metrics\.listen: .* is reachable from other machines: set metrics\.auth/,
      );
    }
    expect(problems({ listen: ":9464", allowUnauthenticated: true })).toEqual([]);
    expect(problems({ listen: ":9464", auth: { token: "0123456789abcdef" } })).toEqual([]);
    expect(problems({ listen: ":9464", auth: { basic: { user: "ops", password: "x" } } })).toEqual([]);
  });

  it("name what is wrong with credentials and addresses by their JSON path", () => {
    expect(problems({ listen: ":9464", auth: {} })).toEqual(["$.metrics.auth: needs basic, token or both"]);
    expect(problems({ listen: "127.0.0.1:9464", auth: { token: "short" } })[0]).toMatch(
      /^\$\.metrics\.auth\.token: .*16/,
    );
    expect(problems({ listen: "127.0.0.1:99999" })[0]).toMatch(
      /^\$\.metrics\.listen: listen must be host:port/,
    );
    expect(problems({ listen: "127.0.0.1:9464", auth: { basic: { user: "ops" } } })[0]).toMatch(
      /^\$\.metrics\.auth\.basic\.password: /,
    );
  });

  it("tell loopback hosts from the others", () => {
    expect(isLoopbackHost("127.1.2.3")).toBe(true);
    expect(isLoopbackHost("::ffff:127.0.0.1")).toBe(true);
    expect(isLoopbackHost("128.0.0.1")).toBe(false);
    expect(isLoopbackHost("0.0.0.0")).toBe(false);
    expect(isLoopbackHost("::")).toBe(false);
  });
});
