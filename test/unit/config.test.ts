import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";

describe("loadConfig", () => {
  it("When nothing is set, then the embedded defaults apply (PGlite, in-process broker, port 5000, passthrough codegen)", () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(5000);
    expect(c.databaseUrl).toBeUndefined();
    expect(c.rabbitUrls).toEqual([]);
    expect(c.ENABLE_AUTH).toBe(false);
    expect(c.advertisedHostname).toBe("localhost:5000");
    expect(Object.keys(c.codeGenImages)).toEqual(["passthrough"]);
    expect(c.launcherMode).toBe("local");
    expect(c.resultsDir).toBe("./data/results");
  });

  it("When RabbitMQ or the manager switch is configured, then the launcher follows upstream's keys", () => {
    expect(loadConfig({ RABBIT_MQ_URL: "amqp://h" }).launcherMode).toBe("disabled");
    expect(loadConfig({ TRANSFORMER_MANAGER_ENABLED: "false" }).launcherMode).toBe("disabled");
    expect(loadConfig({ RABBIT_MQ_URL: "amqp://h", TRANSFORMER_MANAGER_ENABLED: "true" }).launcherMode).toBe(
      "internal-kubernetes",
    );
    expect(() =>
      loadConfig({
        RABBIT_MQ_URL: "amqp://h",
        TRANSFORMER_MANAGER_ENABLED: "true",
        TRANSFORMER_MANAGER_MODE: "local",
      }),
    ).toThrow(/unset RABBIT_MQ_URL/);
  });

  it("When env values are 'true'/'false' and JSON, then they become booleans, dicts and lists", () => {
    const c = loadConfig({
      ENABLE_AUTH: "true",
      JWT_SECRET_KEY: "jwt-key",
      SECRET_KEY: "session-key",
      OBJECT_STORE_ENABLED: "false",
      CODE_GEN_IMAGES: '{"uproot": "sslhep/servicex_code_gen_uproot:develop"}',
      CODE_GEN_SERVICE_URLS: '{"uproot": "http://codegen-uproot:8000"}',
      VALID_DID_SCHEMES: '["rucio", "xrootd"]',
      RABBIT_MQ_URL: "amqp://a:b@h1:5672/%2F, amqp://a:b@h2:5672/%2F",
    });
    expect(c.ENABLE_AUTH).toBe(true);
    expect(c.OBJECT_STORE_ENABLED).toBe(false);
    expect(c.CODE_GEN_IMAGES).toEqual({ uproot: "sslhep/servicex_code_gen_uproot:develop" });
    expect(c.codeGenImages).toEqual({ uproot: "sslhep/servicex_code_gen_uproot:develop" });
    expect(c.VALID_DID_SCHEMES).toEqual(["rucio", "xrootd"]);
    expect(c.rabbitUrls).toEqual(["amqp://a:b@h1:5672/%2F", "amqp://a:b@h2:5672/%2F"]);
  });

  it("When upstream's SQLALCHEMY_DATABASE_URI is a postgresql URL, then it is used; a sqlite one is ignored", () => {
    expect(loadConfig({ SQLALCHEMY_DATABASE_URI: "postgresql+psycopg2://u@h:5432/sx" }).databaseUrl).toBe(
      "postgresql://u@h:5432/sx",
    );
    expect(loadConfig({ SQLALCHEMY_DATABASE_URI: "sqlite:////sqlite/app.db" }).databaseUrl).toBeUndefined();
    expect(
      loadConfig({ DATABASE_URL: "postgres://x@y/z", SQLALCHEMY_DATABASE_URI: "postgresql://a@b/c" })
        .databaseUrl,
    ).toBe("postgres://x@y/z");
  });

  it("When several keys are bad, then one error lists every one of them", () => {
    let err: unknown;
    try {
      loadConfig({
        PORT: "abc",
        CODE_GEN_IMAGES: "{not json",
        ENABLE_AUTH: "maybe",
        DID_FINDER_DEFAULT_SCHEME: "not a scheme",
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    for (const key of ["PORT", "CODE_GEN_IMAGES", "ENABLE_AUTH", "DID_FINDER_DEFAULT_SCHEME"])
      expect(msg).toContain(key);
  });

  it("When the default DID scheme is not a valid scheme, then start-up is refused (upstream ValueError)", () => {
    expect(() => loadConfig({ DID_FINDER_DEFAULT_SCHEME: "gopher" })).toThrow(
      /DID_FINDER_DEFAULT_SCHEME.*VALID_DID_SCHEMES/s,
    );
  });

  it("When ENABLE_AUTH is true without JWT_SECRET_KEY and SECRET_KEY, then start-up stops naming both", () => {
    expect(() => loadConfig({ ENABLE_AUTH: "true" })).toThrow(
      /JWT_SECRET_KEY: is required when ENABLE_AUTH is true[\s\S]*SECRET_KEY: is required/,
    );
  });

  it("When APP_CONFIG_FILE names a dotenv or JSON file, then it supplies values and the environment wins", () => {
    const dir = mkdtempSync(join(tmpdir(), "sxcfg-"));
    const dotenv = join(dir, "app.conf");
    writeFileSync(
      dotenv,
      "PORT=6000\nINSTANCE_NAME=from-file\nENABLE_AUTH=true\nJWT_SECRET_KEY=k\nSECRET_KEY=s\n",
    );
    const c = loadConfig({ APP_CONFIG_FILE: dotenv, INSTANCE_NAME: "from-env" });
    expect(c.PORT).toBe(6000);
    expect(c.INSTANCE_NAME).toBe("from-env");
    expect(c.ENABLE_AUTH).toBe(true);
    const json = join(dir, "app.json");
    writeFileSync(
      json,
      JSON.stringify({ CODE_GEN_IMAGES: { cms: "img:1" }, TRANSFORMER_MANAGER_ENABLED: true }),
    );
    const j = loadConfig({ APP_CONFIG_FILE: json });
    expect(j.CODE_GEN_IMAGES).toEqual({ cms: "img:1" });
    expect(j.TRANSFORMER_MANAGER_ENABLED).toBe(true);
    expect(() => loadConfig({ APP_CONFIG_FILE: join(dir, "missing") })).toThrow(/APP_CONFIG_FILE/);
  });
});

describe("MAX_DESIRED_TRANSFORM_CACHE_SIZE", () => {
  it("When set, then it is parsed at start-up; a bad value stops start-up naming the key", () => {
    expect(loadConfig({ MAX_DESIRED_TRANSFORM_CACHE_SIZE: "500gb" }).MAX_DESIRED_TRANSFORM_CACHE_SIZE).toBe(
      500e9,
    );
    expect(loadConfig({}).MAX_DESIRED_TRANSFORM_CACHE_SIZE).toBeNull();
    expect(() => loadConfig({ MAX_DESIRED_TRANSFORM_CACHE_SIZE: "lots" })).toThrow(
      /MAX_DESIRED_TRANSFORM_CACHE_SIZE/,
    );
  });
});
