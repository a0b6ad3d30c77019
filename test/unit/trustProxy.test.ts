import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { parseTrustProxy } from "../../src/http/trustProxy.js";

describe("TRUST_PROXY", () => {
  it("When it is unset, empty, false or 0, then no proxy is trusted", () => {
    expect(loadConfig({}).TRUST_PROXY).toBe(false);
    for (const v of ["", "false", "0", "off"]) expect(parseTrustProxy(v), v).toBe(false);
  });

  it("When it is a hop count, then that many proxies are trusted", () => {
    expect(loadConfig({ TRUST_PROXY: "1" }).TRUST_PROXY).toBe(1);
    expect(parseTrustProxy(" 2 ")).toBe(2);
  });

  it("When it lists addresses, CIDR ranges or Express's names, then that list is trusted", () => {
    expect(loadConfig({ TRUST_PROXY: "10.0.0.0/8, 192.168.1.7,fd00::/8,loopback" }).TRUST_PROXY).toEqual([
      "10.0.0.0/8",
      "192.168.1.7",
      "fd00::/8",
      "loopback",
    ]);
  });

  it("When it is true, a host name, a bad CIDR or a huge hop count, then start-up fails naming TRUST_PROXY", () => {
    for (const v of ["true", "ingress.local", "10.0.0.0/33", "10.0.0.1/8/8", "1000", "1.2.3.4,,"]) {
      expect(() => loadConfig({ TRUST_PROXY: v }), v).toThrow(ConfigError);
      try {
        loadConfig({ TRUST_PROXY: v });
      } catch (e) {
        expect(String((e as Error).message), v).toContain("TRUST_PROXY");
      }
    }
  });
});
