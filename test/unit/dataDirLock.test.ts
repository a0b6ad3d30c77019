import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DataDirLockedError, lockDataDir } from "../../src/adapters/db/dataDirLock.js";

const freshDir = () => join(mkdtempSync(join(tmpdir(), "sx-lock-")), "pglite");

function procStart(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]!;
}

describe("Embedded database directory lock", () => {
  it("When a live process holds the lock, then it is refused naming that process; after a kill -9 it is taken over", async () => {
    const dir = freshDir();
    const holder = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    const exited = new Promise((r) => holder.once("exit", r));
    try {
      writeFileSync(
        `${dir}.lock`,
        JSON.stringify({
          pid: holder.pid,
          started: "2026-12-06T10:00:00.000Z",
          command: "node src/main.ts",
          host: hostname(),
          procStart: procStart(holder.pid!),
        }),
      );
      let refused: unknown;
      try {
        lockDataDir(dir);
      } catch (e) {
        refused = e;
      }
      expect(refused).toBeInstanceOf(DataDirLockedError);
      const message = (refused as Error).message;
      expect(message).toContain(`pid ${holder.pid}`);
      expect(message).toContain("2026-12-06T10:00:00.000Z");
      expect(message).toContain("node src/main.ts");
    } finally {
      holder.kill("SIGKILL");
      await exited;
    }
    const lock = lockDataDir(dir);
    expect(JSON.parse(readFileSync(`${dir}.lock`, "utf8")).pid).toBe(process.pid);
    lock.release();
    expect(existsSync(`${dir}.lock`)).toBe(false);
  });

  it("When the same process opens the directory twice, then the second is refused", () => {
    const dir = freshDir();
    const lock = lockDataDir(dir);
    try {
      expect(() => lockDataDir(dir)).toThrow(DataDirLockedError);
    } finally {
      lock.release();
    }
  });

  it("When the lock file is unreadable and not fresh (its writer died mid-write), then it is taken over", () => {
    const dir = freshDir();
    writeFileSync(`${dir}.lock`, "{");
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${dir}.lock`, old, old);
    const lock = lockDataDir(dir);
    expect(JSON.parse(readFileSync(`${dir}.lock`, "utf8")).pid).toBe(process.pid);
    lock.release();
  });

  it("When the recorded pid now belongs to another process (pid reused), then the lock is taken over", () => {
    const dir = freshDir();
    writeFileSync(
      `${dir}.lock`,
      JSON.stringify({
        pid: process.ppid,
        started: "2026-12-06T10:00:00.000Z",
        command: "old",
        host: hostname(),
        procStart: "1",
      }),
    );
    const lock = lockDataDir(dir);
    lock.release();
  });
});
