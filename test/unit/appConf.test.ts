// APP_CONFIG_FILE in upstream's format: the app.conf its Helm chart renders (test/fixtures/upstream-helm), and
// upstream's rule for the environment (it overrides only keys the file defines).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAppConf } from "../../src/appConf.js";
import { ConfigError, loadConfig } from "../../src/config.js";

const CHART_CONF = join(import.meta.dirname, "../fixtures/upstream-helm/app.conf");

function confFile(text: string): string {
  const p = join(mkdtempSync(join(tmpdir(), "sx-appconf-")), "app.conf");
  writeFileSync(p, text);
  return p;
}

describe("upstream's app.conf", () => {
  it("When the Helm chart's rendered app.conf is the config file, then code generators, DID schemes, broker, database and launcher mode are its values", () => {
    const c = loadConfig({ APP_CONFIG_FILE: CHART_CONF });
    expect(c.CODE_GEN_SERVICE_URLS).toEqual({
      uproot: "http://servicex-code-gen-uproot:8000",
      python: "http://servicex-code-gen-python:8000",
    });
    // Code generators of the chart: no built-in passthrough beside them.
    expect(Object.keys(c.codeGenImages)).toEqual(["uproot", "python"]);
    expect(c.VALID_DID_SCHEMES).toEqual(["rucio"]);
    expect(c.DID_FINDER_DEFAULT_SCHEME).toBe("rucio");
    expect(c.rabbitUrls).toEqual(["amqp://user:CHANGEME@servicex-rabbitmq:5672/%2F"]);
    expect(c.databaseUrl).toBe("postgresql://postgres:CHANGEME@servicex-postgresql:5432/servicex");
    expect(c.launcherMode).toBe("internal-kubernetes");
    expect(c.ADVERTISED_HOSTNAME).toBe("servicex-servicex-app:8000");
    expect(c.ENABLE_AUTH).toBe(false);
    expect(c.JWT_REFRESH_TOKEN_EXPIRES).toBe(false);
    expect(c.TRANSFORMER_MAX_REPLICAS).toBe(20);
    // `SECRET_KEY` is assigned twice: the last one counts, as in Python.
    expect(c.SECRET_KEY).toBe("some-secret-string");
    // `TRANSFORMER_CACHE_PREFIX = ` (left empty by the template) is unset.
    expect(c.TRANSFORMER_CACHE_PREFIX).toBeUndefined();
  });

  it("When the environment names a key app.conf defines, then it wins; a key app.conf does not define is ignored, except the ones upstream reads from the environment itself", () => {
    const c = loadConfig({
      APP_CONFIG_FILE: CHART_CONF,
      // In app.conf: the chart's Secret overrides the placeholders.
      SQLALCHEMY_DATABASE_URI: "postgresql://postgres:pw@db:5432/servicex",
      RABBIT_MQ_URL: "amqp://user:pw@mq:5672/%2F",
      VALID_DID_SCHEMES: '["rucio","cernopendata"]',
      // Not in app.conf: ignored.
      DATABASE_URL: "postgresql://elsewhere/x",
      MAX_ACTIVE_REQUESTS_PER_USER: "3",
      REUSE_RESULTS: "true",
      MINIO_URL: "minio:9000",
      // Not in app.conf, read from the environment all the same.
      LOG_LEVEL: "DEBUG",
      PORT: "6001",
    });
    expect(c.databaseUrl).toBe("postgresql://postgres:pw@db:5432/servicex");
    expect(c.rabbitUrls).toEqual(["amqp://user:pw@mq:5672/%2F"]);
    expect(c.VALID_DID_SCHEMES).toEqual(["rucio", "cernopendata"]);
    expect(c.MAX_ACTIVE_REQUESTS_PER_USER).toBe(0);
    expect(c.MINIO_URL).toBeUndefined();
    expect(c.REUSE_RESULTS).toBe(false);
    expect(c.LOG_LEVEL).toBe("debug");
    expect(c.PORT).toBe(6001);
  });

  it("When app.conf uses Python literals (quotes, True/False/None, numbers, dicts and lists over several lines, comments), then each becomes its value", () => {
    expect(
      parseAppConf(
        [
          "# comment",
          "A = 'single'  # trailing comment",
          'B="double"',
          "C = True",
          "D = None",
          "E = 42",
          "F = { 'x': 'http://x:8000', # inline",
          '      "y": [1, 2.5, True] }',
          "G = [",
          '  "rucio",',
          "  'xrootd',",
          "]",
          "H = 'it''s' \"joined\"",
          "I = bare text # dotenv comment",
          "J = ",
          "K=1.2.3.4:5000",
        ].join("\n"),
      ),
    ).toEqual({
      A: "single",
      B: "double",
      C: true,
      E: "42",
      F: { x: "http://x:8000", y: [1, 2.5, true] },
      G: ["rucio", "xrootd"],
      H: "itsjoined",
      I: "bare text",
      K: "1.2.3.4:5000",
    });
  });

  it("When a line is not an assignment or a literal is broken, then start-up stops with the file and line named", () => {
    for (const text of ["A = 1\nimport os\n", "A = 'unterminated\n", "A = {'x': }\n"]) {
      const file = confFile(text);
      expect(() => loadConfig({ APP_CONFIG_FILE: file })).toThrow(ConfigError);
      expect(() => loadConfig({ APP_CONFIG_FILE: file })).toThrow(/APP_CONFIG_FILE: .*app\.conf: line \d/);
    }
  });
});
