// The embedded default end to end with its local transformers: PGlite + in-process broker + LocalLauncher running
// the reference (passthrough) transformer, through real HTTP. Inputs are real files; outputs land in a results
// directory and must be byte-identical to them.
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryBroker } from "../../src/adapters/broker/memory.broker.js";
import { BuiltinCodeGenerator } from "../../src/adapters/codegen/builtin.codegen.js";
import { LocalLauncher } from "../../src/adapters/launcher/local.launcher.js";
import { type TransformOutcome, transformFile } from "../../src/adapters/launcher/reference.transformer.js";
import { buildHandler } from "../../src/app.js";
import { compose, shutdownDeps, startDeps } from "../../src/compose.js";
import { loadConfig } from "../../src/config.js";
import { objectNameFor } from "../../src/domain/objectName.js";
import type { TransformTask } from "../../src/domain/ports.js";
import type { AppDeps } from "../../src/http/deps.js";
import { submit as submitRequest } from "../helpers/factories.js";
import { httpCall } from "../helpers/http.js";
import { eventually } from "../helpers/testApp.js";

let work: string;
let resultsDir: string;
let broker: MemoryBroker;
let launcher: LocalLauncher;
let deps: AppDeps;
let server: Server;
let url: string;
const tasks: Array<{ task: TransformTask; outcome: TransformOutcome }> = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "sx-local-"));
  resultsDir = join(work, "results");
  broker = new MemoryBroker();
  launcher = new LocalLauncher({
    broker,
    resultsDir,
    workers: 3,
    processes: false, // inline mode (onTask sees every outcome); local.processes.test.ts covers worker processes
    onTask: (task, outcome) => tasks.push({ task, outcome }),
  });
  server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const config = loadConfig({
    PORT: String(port),
    ADVERTISED_HOSTNAME: `127.0.0.1:${port}`,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    DATA_DIR: "memory://",
  });
  const logger = pino({ level: config.LOG_LEVEL });
  deps = await compose(config, logger, { broker, launcher, codegen: new BuiltinCodeGenerator() });
  await startDeps(deps);
  server.on("request", buildHandler(deps));
  url = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await launcher?.close();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  if (deps) await shutdownDeps(deps);
  if (work) await rm(work, { recursive: true, force: true });
});

/** A file-list request with this file's selection and format; its id. */
const submit = (files: string[], extra: Record<string, unknown> = {}) =>
  submitRequest(
    { url },
    { selection: "(call EventDataset 'x')", "result-format": "root-file", "file-list": files, ...extra },
  );

const status = async (id: string) =>
  (await httpCall(`${url}/servicex/transformation/${id}`, "GET")).json as Record<string, unknown>;

const complete = (id: string) =>
  eventually(
    async () => {
      const s = await status(id);
      return s.status === "Complete" ? s : undefined;
    },
    60_000,
    `request ${id} Complete`,
  );

const results = async (id: string) =>
  (
    (await httpCall(`${url}/servicex/transformation/${id}/results`, "GET")).json as {
      results: Array<Record<string, unknown>>;
    }
  ).results;

async function makeInputs(n: number, dir: string): Promise<Map<string, Buffer>> {
  const inputs = new Map<string, Buffer>();
  for (let i = 0; i < n; i++) {
    const data = randomBytes(1 + i * 3_331 + (i % 7) * 65_537);
    const path = join(dir, `f${i}.root`);
    await writeFile(path, data);
    inputs.set(path, data);
  }
  return inputs;
}

describe("When the embedded default runs its local reference transformers", () => {
  it("then 20 real files are copied byte for byte and every result is a success with the real size", async () => {
    const inDir = join(work, "in20");
    await mkdir(inDir);
    const inputs = await makeInputs(20, inDir);
    const t0 = performance.now();
    const id = await submit([...inputs.keys()], { workers: 5 });
    const done = await complete(id);
    const elapsed = performance.now() - t0;
    expect(done.files).toBe(20);
    expect(done["files-completed"]).toBe(20);
    expect(done["files-failed"]).toBe(0);

    const outDir = join(resultsDir, id);
    const written = (await readdir(outDir)).sort();
    expect(written).toEqual([...inputs.keys()].map((p) => objectNameFor(p, "root-file")).sort());
    for (const [path, data] of inputs) {
      const out = await readFile(join(outDir, objectNameFor(path, "root-file")));
      expect(out.equals(data)).toBe(true);
    }

    const rows = await results(id);
    expect(rows).toHaveLength(20);
    for (const r of rows) {
      expect(r.transform_status).toBe("success");
      const input = inputs.get(r["file-path"] as string);
      expect(input).toBeDefined();
      expect(r["total-bytes"]).toBe(input!.length);
      expect(r["s3-object-name"]).toBe(objectNameFor(r["file-path"] as string, "root-file"));
      expect(written).toContain(r["s3-object-name"]);
    }
    // At most `workers` (3) consumers, though the request asked for 5; the request ended them at Complete.
    const hosts = new Set(
      tasks.filter((t) => t.task.request_id === id).map((t) => t.outcome.report.place.host_name),
    );
    expect(hosts.size).toBeGreaterThanOrEqual(1);
    expect(hosts.size).toBeLessThanOrEqual(3);
    await deps.lifecycle.idle();
    await eventually(async () => !launcher.runningRequests().includes(id), 5_000, "shutdown");
    console.log(`20 files through the local reference transformers in ${Math.round(elapsed)} ms`);
  });

  it("then a missing input ends as a failure result and the request still completes", async () => {
    const inDir = join(work, "missing");
    await mkdir(inDir);
    const inputs = await makeInputs(2, inDir);
    const missing = join(inDir, "does-not-exist.root");
    const id = await submit([...inputs.keys(), missing]);
    const done = await complete(id);
    expect(done["files-completed"]).toBe(2);
    expect(done["files-failed"]).toBe(1);
    const rows = await results(id);
    const failed = rows.filter((r) => r.transform_status === "failure");
    expect(failed).toHaveLength(1);
    expect(failed[0]!["file-path"]).toBe(missing);
    expect(failed[0]!["total-bytes"]).toBe(0);
    const report = tasks.find((t) => t.task.request_id === id && t.outcome.report.status === "failure");
    expect(report?.outcome.report.error).toMatch(/ENOENT/);
    expect((await readdir(join(resultsDir, id))).sort()).toEqual(
      [...inputs.keys()].map((p) => objectNameFor(p, "root-file")).sort(),
    );
  });

  it("then an http:// input is downloaded, and a dead first replica falls through to the next", async () => {
    const data = randomBytes(300_000);
    const http = createServer((req, res) => {
      if (req.url === "/data/good.root") {
        res.writeHead(200, { "content-type": "application/octet-stream" });
        res.end(data);
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    try {
      const good = `${base}/data/good.root`;
      const id = await submit([good]);
      const done = await complete(id);
      expect(done["files-completed"]).toBe(1);
      const [row] = await results(id);
      expect(row!["total-bytes"]).toBe(data.length);
      expect(row!["s3-object-name"]).toBe(objectNameFor(good, "root-file"));
      expect((await readFile(join(resultsDir, id, objectNameFor(good, "root-file")))).equals(data)).toBe(
        true,
      );

      // One file, two replicas: the first answers 404, the second works (as the sidecar tries replicas in order).
      const task: TransformTask = {
        request_id: "replica-check",
        file_id: 1,
        paths: [`${base}/data/missing.root`, good],
        service_endpoint: `${url}/servicex/internal/transformation/replica-check`,
        result_destination: "object-store",
        result_format: "root-file",
      };
      const out = await transformFile(task, { resultsDir, reportAttempts: 1 });
      expect(out.report.status).toBe("success");
      expect(out.report["file-path"]).toBe(good);
      expect(out.report["total-bytes"]).toBe(data.length);
      // Unknown request: the App refuses the report (404), and the transformer says so instead of throwing.
      expect(out.reportStatus).toBe(404);
    } finally {
      http.closeAllConnections();
      await new Promise((r) => http.close(r));
    }
  });

  it("then an input whose object name passes 255 characters gets the sidecar's hashed name", async () => {
    const deep = join(work, "d".repeat(120), "e".repeat(120));
    await mkdir(deep, { recursive: true });
    const path = join(deep, "long.root");
    const data = randomBytes(10_000);
    await writeFile(path, data);
    const name = objectNameFor(path, "root-file");
    expect(name.length).toBe(255);
    expect(name.startsWith("_")).toBe(true);
    const id = await submit([path]);
    expect((await complete(id))["files-completed"]).toBe(1);
    expect(await readdir(join(resultsDir, id))).toEqual([name]);
    expect((await readFile(join(resultsDir, id, name))).equals(data)).toBe(true);
    expect((await results(id))[0]!["s3-object-name"]).toBe(name);
  });

  it("then after shutdown its consumers take no more tasks", async () => {
    const requestId = `stopped-${randomBytes(4).toString("hex")}`;
    const before = tasks.length;
    await launcher.start({
      requestId,
      image: "x",
      workers: 2,
      files: 0,
      resultDestination: "object-store",
      resultFormat: "root-file",
      transformerLanguage: "bash",
      transformerCommand: "passthrough",
      generatedCode: null,
    });
    expect(launcher.runningRequests()).toContain(requestId);
    await launcher.shutdown(requestId);
    await launcher.shutdown(requestId); // idempotent
    expect(launcher.runningRequests()).not.toContain(requestId);
    await broker.publishTransformTasks(requestId, [
      {
        request_id: requestId,
        file_id: 1,
        paths: ["/nonexistent"],
        service_endpoint: `${url}/servicex/internal/transformation/${requestId}`,
        result_destination: "object-store",
        result_format: "root-file",
      },
    ]);
    await new Promise((r) => setTimeout(r, 200));
    expect(await broker.queueDepth(`transformer-${requestId}`)).toBe(1);
    expect(tasks.slice(before).filter((t) => t.task.request_id === requestId)).toEqual([]);
  });
});
