// With SX_TEST_CPU_LOG=<file>, each test file appends one JSON line there: the CPU seconds its worker process
// and the child processes it reaped (spawned Apps, Chromium, npm, tsc) used while the file ran, and its wall
// seconds. The machine's own Postgres and RabbitMQ are not counted. Used to find what makes the suite slow on a
// CPU-bound machine (wall time there depends on what else runs; CPU time much less).
import { appendFileSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, expect } from "vitest";

const TICKS = 100; // USER_HZ on Linux

function cpu(): { self: number; children: number } {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // After "pid (comm) ": state is f[0], so utime/stime/cutime/cstime (fields 14–17) are f[11..14].
  return { self: (Number(f[11]) + Number(f[12])) / TICKS, children: (Number(f[13]) + Number(f[14])) / TICKS };
}

const log = process.env.SX_TEST_CPU_LOG;
if (log) {
  // Setup files run again for every test file, before its imports: the file's own imports are counted.
  const start = cpu();
  const t0 = Date.now();
  afterAll(() => {
    const end = cpu();
    const file = path.relative(process.cwd(), expect.getState().testPath ?? "?");
    appendFileSync(
      log,
      `${JSON.stringify({
        file,
        self: +(end.self - start.self).toFixed(2),
        children: +(end.children - start.children).toFixed(2),
        wall: +((Date.now() - t0) / 1000).toFixed(1),
      })}\n`,
    );
  });
}
