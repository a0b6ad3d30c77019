// The CI version of the soak (scripts/soak.ts, `npm run soak`): two minutes of mixed traffic against one App
// process; the script itself fails (exit 1) on RSS growth > 30 %, fd growth > 20 % after warm-up, or any 5xx.
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./replicaHarness.js";

describe("Soak (CI version)", () => {
  it("When mixed traffic runs for SOAK_MINUTES=2, then RSS and open fds stay flat and no 5xx happens (exit 0)", async () => {
    const out: string[] = [];
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, ["--import", "tsx", "scripts/soak.ts"], {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          SOAK_MINUTES: process.env.SOAK_MINUTES ?? "2",
          SOAK_SAMPLE_SECONDS: process.env.SOAK_SAMPLE_SECONDS ?? "30",
          ...(process.env.TEST_PG_ADMIN_URL ? { SOAK_PG_ADMIN_URL: process.env.TEST_PG_ADMIN_URL } : {}),
          ...(process.env.TEST_RABBIT_URL ? { SOAK_RABBIT_URL: process.env.TEST_RABBIT_URL } : {}),
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      child.stdout.setEncoding("utf8").on("data", (c: string) => out.push(c));
      child.stderr.setEncoding("utf8").on("data", (c: string) => out.push(c));
      child.once("exit", (c) => resolve(c));
    });
    const text = out.join("");
    console.log(text);
    const result = /SOAK RESULT (.*)/.exec(text);
    expect(result, "the soak printed its result").not.toBeNull();
    const summary = JSON.parse(result![1]!) as { problems: string[]; submitted: number; reports: number };
    expect(summary.problems).toEqual([]);
    expect(summary.submitted).toBeGreaterThan(0);
    expect(summary.reports).toBeGreaterThan(0);
    expect(code).toBe(0);
  }, 240_000);
});
