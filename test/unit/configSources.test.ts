import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadProcessConfig } from "../../src/config.js";

const dir = () => mkdtempSync(join(tmpdir(), "sx-sources-"));

describe("Configuration sources of a process (loadProcessConfig)", () => {
  it("When a key is both in the environment and in ./.env, then the environment wins; ./.env fills what it does not set", () => {
    const d = dir();
    writeFileSync(join(d, ".env"), "PORT=7002\nINSTANCE_NAME=from-dotenv\nDATA_DIR=/tmp/from-dotenv\n");
    const c = loadProcessConfig({ PORT: "7000" }, join(d, ".env"));
    expect(c.PORT).toBe(7000);
    expect(c.INSTANCE_NAME).toBe("from-dotenv");
    expect(c.DATA_DIR).toBe("/tmp/from-dotenv");
  });

  it("When ./.env names APP_CONFIG_FILE, then that file is read, with upstream's rule: the environment and ./.env override only the keys it defines (and LOG_LEVEL, PORT, …)", () => {
    const d = dir();
    const file = join(d, "app.json");
    writeFileSync(file, JSON.stringify({ DATA_DIR: "/tmp/from-file", MAX_REQUEST_BODY: "1mb" }));
    writeFileSync(join(d, ".env"), `APP_CONFIG_FILE=${file}\nMAX_REQUEST_BODY=2mb\nSHUTDOWN_GRACE_MS=5\n`);
    const c = loadProcessConfig({ DATA_DIR: "/tmp/from-env" }, join(d, ".env"));
    expect(c.DATA_DIR).toBe("/tmp/from-env");
    expect(c.MAX_REQUEST_BODY).toBe("2mb");
    expect(c.SHUTDOWN_GRACE_MS).toBe(25_000); // not in the file: the default, as upstream
  });

  it("When there is no ./.env, then only the environment counts; a bad value in ./.env is reported like one in the environment", () => {
    expect(loadProcessConfig({ PORT: "7100" }, join(dir(), ".env")).PORT).toBe(7100);
    const d = dir();
    writeFileSync(join(d, ".env"), "PORT=not-a-number\n");
    expect(() => loadProcessConfig({}, join(d, ".env"))).toThrow(ConfigError);
  });
});
