// `npm test`: runs every test tier, whatever the others give, and exits non-zero if any failed.
//
//   main             unit + integration files, in parallel, on the machine's Postgres and RabbitMQ
//   faults           Postgres restarts, App replicas, soak; one file at a time, on private instances
//   faults-rabbitmq  RabbitMQ restarts; one file at a time, on private instances of its own
//
// The tiers run at the same time (they share nothing: each fault tier's services are private, the main tier's
// files use databases and queues of their own), which takes the run from the sum of the tiers to about the
// longest one. The main tier's output is shown as it comes; the others' is held back and shown after it, so the
// log reads tier by tier. `--sequential` (or SX_TEST_SEQUENTIAL=1) runs one tier after the other.
// Options: `--tier NAME` runs one tier (`--tier faults` both fault tiers, `--tier faults-rabbitmq` that one);
// anything else is passed to vitest (file filters, -t "name"). With filters, a tier that has no matching file
// is not an error. Each tier's counts come from vitest's JSON report; a tier whose runner crashed (no report)
// counts as one failure. With SX_TEST_SUMMARY=<file> the totals are also written there as JSON after each tier
// (.ci/run prints its closing line from it). With SX_TEST_DURATIONS=<file>, each test file's seconds are
// written there as JSON (test/durations.json orders the main tier, test/helpers/sequencer.ts).
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const TIERS = ["main", "faults", "faults-rabbitmq"] as const;
type Tier = (typeof TIERS)[number];

interface TierResult {
  tier: Tier;
  passed: number;
  failed: number;
  skipped: number;
  exitCode: number | null;
  seconds: number;
  /** Why the counts are not vitest's own (the runner crashed, a file failed to load). */
  note?: string;
}

interface VitestJson {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: Array<{
    name: string;
    status: string;
    startTime?: number;
    endTime?: number;
    assertionResults: Array<{ status: string }>;
  }>;
}

function parseArgs(argv: string[]): { tiers: Tier[]; passThrough: string[]; sequential: boolean } {
  const passThrough: string[] = [];
  let tiers: Tier[] = [...TIERS];
  let sequential = process.env.SX_TEST_SEQUENTIAL === "1";
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--sequential") {
      sequential = true;
      continue;
    }
    const value =
      a === "--tier" ? argv[++i] : a.startsWith("--tier=") ? a.slice("--tier=".length) : undefined;
    if (value === undefined) {
      passThrough.push(a);
    } else if (TIERS.some((t) => t === value || t.startsWith(`${value}-`))) {
      // A tier, or a family of them: "faults" is both fault tiers.
      tiers = TIERS.filter((t) => t === value || t.startsWith(`${value}-`));
    } else {
      console.error(`npm test: unknown tier '${value}' (tiers: ${TIERS.join(", ")})`);
      process.exit(2);
    }
  }
  // File filters that all lie in one tier's folders select that tier alone (no private services started for a
  // main-tier file, no empty main run for a fault file).
  const paths = passThrough.filter((a) => !a.startsWith("-") && /\.test\.ts$|\/|^test$/.test(a));
  if (paths.length > 0 && tiers.length > 1) {
    const inFaults = paths.filter((p) => p.includes("test/faults") || p.startsWith("faults/")).length;
    if (inFaults === paths.length) tiers = ["faults", "faults-rabbitmq"];
    else if (inFaults === 0 && paths.every((p) => /test\/(unit|integration)|^(unit|integration)\//.test(p)))
      tiers = ["main"];
  }
  return { tiers, passThrough, sequential };
}

/** Counts from vitest's JSON report; a file that failed outside any test (load error, beforeAll) is a failure. */
function countsFrom(report: VitestJson): Pick<TierResult, "passed" | "failed" | "skipped" | "note"> {
  let failed = report.numFailedTests;
  const brokenFiles = report.testResults.filter(
    (f) => f.status === "failed" && !f.assertionResults.some((a) => a.status === "failed"),
  );
  failed += brokenFiles.length;
  return {
    passed: report.numPassedTests,
    failed,
    skipped: report.numPendingTests + report.numTodoTests,
    ...(brokenFiles.length ? { note: `${brokenFiles.length} file(s) failed outside a test` } : {}),
  };
}

const children = new Set<ReturnType<typeof spawn>>();

/**
 * Where a tier's output goes: straight to the terminal, or held back until `release()` (then written out and
 * passed straight through from there on).
 */
class HeldOutput {
  private held: Array<[NodeJS.WriteStream, Buffer]> | null = [];
  write(to: NodeJS.WriteStream, chunk: Buffer): void {
    if (this.held) this.held.push([to, chunk]);
    else to.write(chunk);
  }
  release(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const [to, chunk] of held) to.write(chunk);
  }
}

function runTier(tier: Tier, passThrough: string[], dir: string, output?: HeldOutput): Promise<TierResult> {
  const report = join(dir, `${tier}.json`);
  const args = [
    "vitest",
    "run",
    "--project",
    tier,
    "--reporter=default",
    "--reporter=json",
    `--outputFile.json=${report}`,
    ...(passThrough.length ? ["--passWithNoTests"] : []),
    ...passThrough,
  ];
  const t0 = Date.now();
  const banner = `\n=== npm test: tier '${tier}' (npx ${args.join(" ")})\n\n`;
  if (output) output.write(process.stdout, Buffer.from(banner));
  else process.stdout.write(banner);
  return new Promise((resolve) => {
    const child = spawn("npx", args, { stdio: output ? ["ignore", "pipe", "pipe"] : "inherit" });
    children.add(child);
    if (output) {
      child.stdout?.on("data", (c: Buffer) => output.write(process.stdout, c));
      child.stderr?.on("data", (c: Buffer) => output.write(process.stderr, c));
    }
    const done = (exitCode: number | null, why?: string) => {
      children.delete(child);
      const seconds = Math.round((Date.now() - t0) / 1000);
      let json: VitestJson | null = null;
      try {
        json = JSON.parse(readFileSync(report, "utf8")) as VitestJson;
      } catch {
        json = null;
      }
      if (!json) {
        resolve({
          tier,
          passed: 0,
          failed: 1,
          skipped: 0,
          exitCode,
          seconds,
          note: `the runner ended without a report (${why ?? `exit code ${exitCode}`})`,
        });
        return;
      }
      recordDurations(json);
      const counts = countsFrom(json);
      // A non-zero exit with no failure counted (e.g. an error in a global setup or teardown) is a failure too.
      if (exitCode !== 0 && counts.failed === 0) {
        counts.failed = 1;
        counts.note = `vitest exited with ${exitCode} without a failed test (setup or teardown error)`;
      }
      resolve({ tier, ...counts, exitCode, seconds });
    };
    child.once("error", (e) => done(null, e.message));
    // "close", not "exit": the piped output has all arrived by then.
    child.once("close", (code, signal) => done(code, signal ? `killed by ${signal}` : undefined));
  });
}

async function main(): Promise<number> {
  const { tiers, passThrough, sequential } = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), "sx-npm-test-"));
  const cleanUp = () => rmSync(dir, { recursive: true, force: true });
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      for (const c of children) c.kill(sig);
      cleanUp();
      process.exit(130);
    });
  }
  const results: TierResult[] = [];
  try {
    if (sequential || tiers.length === 1) {
      for (const tier of tiers) {
        results.push(await runTier(tier, passThrough, dir));
        writeSummary(results);
      }
    } else {
      // The first tier shows its output live; each later one is held back until the ones before it end.
      const outputs = tiers.map((_, i) => (i === 0 ? undefined : new HeldOutput()));
      const running = tiers.map((tier, i) => runTier(tier, passThrough, dir, outputs[i]));
      for (const [i, p] of running.entries()) {
        results.push(await p);
        writeSummary(results);
        outputs[i + 1]?.release();
      }
    }
  } finally {
    cleanUp();
  }
  console.log("\n=== npm test: tiers");
  for (const r of results) {
    console.log(
      `  ${r.tier.padEnd(7)} ${r.failed === 0 ? "ok    " : "FAILED"} ${r.passed} passed / ${r.failed} failed / ` +
        `${r.skipped} skipped in ${r.seconds} s${r.note ? ` (${r.note})` : ""}`,
    );
  }
  return results.some((r) => r.failed > 0) ? 1 : 0;
}

/** SX_TEST_DURATIONS=<file>: merges each test file's seconds into that JSON file (keys relative to here). */
function recordDurations(report: VitestJson): void {
  const file = process.env.SX_TEST_DURATIONS;
  if (!file) return;
  let seconds: Record<string, number> = {};
  try {
    seconds = JSON.parse(readFileSync(file, "utf8")) as Record<string, number>;
  } catch {
    seconds = {};
  }
  for (const r of report.testResults) {
    if (r.startTime === undefined || r.endTime === undefined) continue;
    seconds[relative(process.cwd(), r.name)] = Math.round((r.endTime - r.startTime) / 100) / 10;
  }
  const sorted = Object.fromEntries(Object.entries(seconds).sort(([a], [b]) => (a < b ? -1 : 1)));
  writeFileSync(file, `${JSON.stringify(sorted, null, 2)}\n`);
}

function writeSummary(results: TierResult[]): void {
  const file = process.env.SX_TEST_SUMMARY;
  if (!file) return;
  const sum = (k: "passed" | "failed" | "skipped") => results.reduce((s, r) => s + r[k], 0);
  writeFileSync(
    file,
    JSON.stringify({ passed: sum("passed"), failed: sum("failed"), skipped: sum("skipped"), tiers: results }),
  );
}

process.exit(await main());
