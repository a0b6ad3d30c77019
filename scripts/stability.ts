// Stability check of the test suite (`npm run stability -- [RUNS]`): clones the committed tree RUNS times
// (default 5) into temp directories and runs `bash .ci/run` in each (one after the other, or
// STABILITY_PARALLEL at a time), while
//   - a busy loop loads each core (one child process per core, STABILITY_BUSY_LOOPS), and
//   - a foreign DID finder consumes the machine's own `did_finder_rucio`, `did_finder_cernopendata` and
//     `did_finder_xrootd` queues and answers every lookup with 3 files, as an unrelated ServiceX on the same
//     RabbitMQ would. Tests must not depend on those queues, so nothing it does may change a result.
// Prints each run's closing line and duration, and exits non-zero if any run failed. Traffic goes only to
// this machine (127.0.0.1) and every loop ends when the runs end.
import { type ChildProcess, execFileSync, fork, spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import amqp from "amqplib";

const RUNS = Number(process.argv[2] ?? 5);
const RABBIT_URL = process.env.STABILITY_RABBIT_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const FOREIGN_SCHEMES = ["rucio", "cernopendata", "xrootd"];

if (process.argv[2] === "--busy-loop") {
  // Child mode: spin until the parent goes away.
  for (;;) {
    if (!process.connected) process.exit(0);
    const end = Date.now() + 200;
    while (Date.now() < end) Math.sqrt(Math.random());
    await new Promise((r) => setImmediate(r));
  }
}

async function foreignDidFinder(): Promise<{ answered: () => number; stop: () => Promise<void> }> {
  const conn = await amqp.connect(RABBIT_URL);
  const ch = await conn.createChannel();
  let answered = 0;
  for (const scheme of FOREIGN_SCHEMES) {
    const q = `did_finder_${scheme}`;
    await ch.assertExchange(q, "direct", { durable: true });
    await ch.assertQueue(q, { durable: true });
    await ch.bindQueue(q, q, q);
    await ch.consume(q, async (raw) => {
      if (!raw) return;
      ch.ack(raw);
      try {
        const body = JSON.parse(raw.content.toString()) as [[string, number, string]];
        const [did, datasetId, endpoint] = body[0];
        // Only answer callbacks on this machine.
        if (!/^http:\/\/(127\.|localhost[:/])/.test(endpoint)) return;
        const base = `${endpoint}${datasetId}`;
        const files = [0, 1, 2].map((i) => ({
          paths: `root://foreign.example//${did}/f${i}.root`,
          adler32: null,
          file_size: 1,
          file_events: 1,
        }));
        const put = (path: string, b: unknown) =>
          fetch(`${base}${path}`, {
            method: "PUT",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(b),
            signal: AbortSignal.timeout(10_000),
          }).catch(() => undefined);
        await put("/files", files);
        await put("/complete", {
          files: 3,
          "files-skipped": 0,
          "total-events": 3,
          "total-bytes": 3,
          "elapsed-time": 1,
        });
        answered++;
      } catch {
        // Not a Celery lookup: dropped.
      }
    });
  }
  return {
    answered: () => answered,
    async stop() {
      await conn.close().catch(() => {});
    },
  };
}

/** One clean clone and `bash .ci/run` in it; its closing line, duration and exit code. */
async function ciRun(
  repo: string,
  run: number,
): Promise<{ run: number; closing: string; seconds: number; exit: number }> {
  const dir = mkdtempSync(join(tmpdir(), "sx-stability-"));
  try {
    execFileSync("git", ["clone", "-q", repo, join(dir, "p")]);
    // CI lays shared/ beside the clone.
    execFileSync("ln", ["-s", resolve(repo, "..", "shared"), join(dir, "shared")]);
    const t0 = Date.now();
    const lines: string[] = [];
    const exit = await new Promise<number>((done) => {
      const ci = spawn("bash", [".ci/run"], {
        cwd: join(dir, "p"),
        env: { ...process.env, CI: "true" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      const keep = (d: Buffer) => {
        for (const l of String(d).split("\n")) if (l.trim()) process.stdout.write(`[run ${run}] ${l}\n`);
        lines.push(...String(d).split("\n"));
        if (lines.length > 400) lines.splice(0, lines.length - 400);
      };
      ci.stdout.on("data", keep);
      ci.stderr.on("data", keep);
      // "close", not "exit": the last lines (the closing line) may still be in the pipes when the process exits.
      ci.once("close", (code) => done(code ?? 1));
    });
    const closing =
      lines.filter((l) => /^\d+ passed, \d+ failed/.test(l.trim())).at(-1) ?? "(no closing line)";
    const result = { run, closing: closing.trim(), seconds: Math.round((Date.now() - t0) / 1000), exit };
    console.log(`\nstability run ${run}: ${result.closing} in ${result.seconds} s (exit ${exit})`);
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const repo = resolve(import.meta.dirname, "..");
  // STABILITY_PARALLEL=n runs n clones at once (each one loads the cores for the others); the busy loops
  // (STABILITY_BUSY_LOOPS, default one per core) load them further.
  const parallel = Math.max(1, Number(process.env.STABILITY_PARALLEL ?? 1));
  const busy = Number(process.env.STABILITY_BUSY_LOOPS ?? availableParallelism());
  const loops: ChildProcess[] = Array.from({ length: busy }, () =>
    fork(import.meta.filename, ["--busy-loop"], {
      execArgv: process.execArgv,
      stdio: ["ignore", "ignore", "ignore", "ipc"],
    }),
  );
  const finder = await foreignDidFinder();
  console.log(
    `stability: ${RUNS} runs of .ci/run, ${parallel} at a time, ${busy} busy loops, foreign DID finder on ${FOREIGN_SCHEMES.join(", ")}`,
  );
  const results: Array<{ run: number; closing: string; seconds: number; exit: number }> = [];
  try {
    let next = 1;
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        for (let run = next++; run <= RUNS; run = next++) results.push(await ciRun(repo, run));
      }),
    );
  } finally {
    for (const l of loops) l.kill();
    await finder.stop();
  }
  results.sort((a, b) => a.run - b.run);
  console.log(`\nstability: foreign DID finder answered ${finder.answered()} lookups meanwhile`);
  for (const r of results) console.log(`  run ${r.run}: ${r.closing} in ${r.seconds} s (exit ${r.exit})`);
  return results.every((r) => r.exit === 0) && results.length === RUNS ? 0 : 1;
}

if (process.argv[2] !== "--busy-loop") process.exit(await main());
