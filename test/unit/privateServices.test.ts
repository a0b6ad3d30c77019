// The fault tier's private services fail with a message naming what is missing, never a hang.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  PrivateServicesEnv,
  findPostgresBinDir,
  findRabbitBinDir,
  privatePostgresFromEnv,
  privateRabbitFromEnv,
  reapOrphans,
} from "../helpers/privateServices.js";

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe("private services of the fault tier", () => {
  it("When initdb is not where TEST_PG_BINDIR points, then the error names initdb", () => {
    const empty = mkdtempSync(join(tmpdir(), "sx-nobin-"));
    try {
      process.env.TEST_PG_BINDIR = empty;
      expect(() => findPostgresBinDir()).toThrow(`TEST_PG_BINDIR=${empty} has no initdb`);
    } finally {
      rmSync(empty, { recursive: true });
    }
  });

  it("When no PostgreSQL server package is installed, then the error names initdb and the package", () => {
    const empty = mkdtempSync(join(tmpdir(), "sx-nobin-"));
    try {
      delete process.env.TEST_PG_BINDIR;
      expect(() => findPostgresBinDir(empty)).toThrow(/initdb was not found.*apt-get install postgresql/s);
    } finally {
      rmSync(empty, { recursive: true });
    }
  });

  it("When rabbitmq-server is nowhere to be found, then the error names it and the package that brings it", () => {
    const empty = mkdtempSync(join(tmpdir(), "sx-nobin-"));
    try {
      expect(() => findRabbitBinDir([empty])).toThrow(
        /rabbitmq-server was not found.*rabbitmq-server package/s,
      );
    } finally {
      rmSync(empty, { recursive: true });
    }
  });

  it("When a fault test runs outside the fault tier, then it is told where its private services come from", () => {
    for (const k of Object.values(PrivateServicesEnv)) delete process.env[k];
    expect(() => privatePostgresFromEnv()).toThrow(/No private PostgreSQL.*--project faults/s);
    expect(() => privateRabbitFromEnv()).toThrow(/No private RabbitMQ.*--project faults/s);
  });

  it("When another run's directory is being made (owner file missing or half-written), then the orphan reaper leaves it; a dead owner's directory goes", async () => {
    // The two fault tiers start together: each one's reaper sees the other's directories while they are made.
    const making = mkdtempSync(join(tmpdir(), "sx-private-rabbit-"));
    const halfWritten = mkdtempSync(join(tmpdir(), "sx-private-rabbit-"));
    writeFileSync(join(halfWritten, "owner.pid"), "");
    const orphan = mkdtempSync(join(tmpdir(), "sx-private-rabbit-"));
    writeFileSync(join(orphan, "owner.pid"), "2147483646"); // no such process
    try {
      await reapOrphans();
      expect(existsSync(making)).toBe(true);
      expect(existsSync(halfWritten)).toBe(true);
      expect(existsSync(orphan)).toBe(false);
    } finally {
      for (const d of [making, halfWritten, orphan]) rmSync(d, { recursive: true, force: true });
    }
  });
});
