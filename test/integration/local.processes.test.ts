// Local transformers as worker processes (the embedded default's launcher): each transformer is a separate
// process started with a pod's sidecar arguments and environment, taking tasks from the in-process broker.
// Outputs go to the results directory, or to the object store (moto's S3 server) for object-store requests
// when one is configured; a worker killed mid-request gives its task back and the request still completes.
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalLauncher } from "../../src/adapters/launcher/local.launcher.js";
import { objectNameFor } from "../../src/domain/objectName.js";
import { submit as submitRequest } from "../helpers/factories.js";
import { httpCall } from "../helpers/http.js";
import { type MotoServer, startMoto } from "../helpers/moto.js";
import { type TestApp, eventually, startTestApp } from "../helpers/testApp.js";

let work: string;
let moto: MotoServer;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "sx-localproc-"));
  moto = await startMoto();
}, 30_000);
afterAll(async () => {
  await moto?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

async function inputs(n: number, size = 50_000): Promise<Map<string, Buffer>> {
  const dir = await mkdtemp(join(work, "in-"));
  const m = new Map<string, Buffer>();
  for (let i = 0; i < n; i++) {
    const p = join(dir, `f${i}.root`);
    const data = randomBytes(size + i);
    await writeFile(p, data);
    m.set(p, data);
  }
  return m;
}

/** A file-list request with root-file output; its id. */
const submit = (app: TestApp, files: string[], workers = 4) =>
  submitRequest(app, { "file-list": files, "result-format": "root-file", workers });

async function finished(app: TestApp, id: string, timeoutMs = 60_000) {
  return eventually(
    async () => {
      const b = (await httpCall(`${app.url}/servicex/transformation/${id}`, "GET")).json as Record<
        string,
        unknown
      >;
      return b.status === "Complete" ? b : null;
    },
    timeoutMs,
    `request ${id} Complete`,
  );
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("When the local launcher runs transformers as worker processes", () => {
  let app: TestApp;
  let resultsDir: string;
  beforeAll(async () => {
    resultsDir = join(work, "results");
    app = await startTestApp({
      backend: "pglite",
      broker: "memory",
      launcher: "config",
      env: { RESULTS_DIR: resultsDir, LOCAL_TRANSFORMER_WORKERS: "3" },
    });
  });
  afterAll(async () => {
    await app?.close();
  });

  it("then each transformer is its own process with the pod's name, outputs are byte-identical, and shutdown ends the processes", async () => {
    const launcher = app.deps.launcher as LocalLauncher;
    expect(launcher.kind).toBe("local");
    expect(launcher.processes).toBe(true);
    const ins = await inputs(12);
    const id = await submit(app, [...ins.keys()]);
    let pids: number[] = [];
    await eventually(async () => {
      pids = launcher.workerPids(id);
      return pids.length > 0;
    });
    expect(pids).not.toContain(process.pid);
    const done = await finished(app, id);
    expect(done["files-completed"]).toBe(12);

    for (const [path, data] of ins) {
      const out = await readFile(join(resultsDir, id, objectNameFor(path, "root-file")));
      expect(out.equals(data)).toBe(true);
    }
    // The reports carry the pod names the workers got as POD_NAME: transformer-<id>-<slot>, at most 3 slots.
    const pods = await app.deps.db.sql.query<{ pod_name: string }>(
      "SELECT DISTINCT pod_name FROM file_status WHERE request_id = $1",
      [id],
    );
    expect(pods.length).toBeGreaterThanOrEqual(1);
    expect(pods.length).toBeLessThanOrEqual(3);
    for (const p of pods) expect(p.pod_name).toMatch(new RegExp(`^transformer-${id}-[0-2]$`));

    await app.deps.lifecycle.idle();
    await eventually(async () => !launcher.runningRequests().includes(id), 5_000, "shutdown");
    await eventually(async () => pids.every((p) => !pidAlive(p)), 5_000, "worker processes gone");
    expect(await readdir(join(resultsDir, ".scratch")).catch(() => [])).not.toContain(id);
  });

  it("then a worker killed mid-request gives its task back and every file still completes exactly once", async () => {
    const launcher = app.deps.launcher as LocalLauncher;
    // Slow inputs (served over http with a delay) so a worker is surely busy when it is killed.
    const { createServer } = await import("node:http");
    const blobs = new Map<string, Buffer>();
    let downloadsStarted = 0;
    const srv = createServer((req, res) => {
      const data = blobs.get(req.url ?? "");
      if (!data) return void res.writeHead(404).end();
      downloadsStarted++;
      setTimeout(() => res.end(data), 300);
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const port = (srv.address() as import("node:net").AddressInfo).port;
    try {
      for (let i = 0; i < 9; i++) blobs.set(`/f${i}.root`, randomBytes(10_000 + i));
      const urls = [...blobs.keys()].map((k) => `http://127.0.0.1:${port}${k}`);
      const id = await submit(app, urls);
      let victim = 0;
      await eventually(async () => {
        victim = launcher.workerPids(id)[0] ?? 0;
        return victim > 0;
      });
      // Killed while busy: once the workers have started downloading (each download takes 300 ms).
      await eventually(async () => downloadsStarted >= 2, 30_000, "the workers to start downloading");
      process.kill(victim, "SIGKILL");
      const done = await finished(app, id);
      expect(done["files-completed"]).toBe(9);
      expect(done["files-failed"]).toBe(0);
      const rows = await app.deps.db.sql.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM transform_result WHERE request_id = $1",
        [id],
      );
      expect(rows[0]!.n).toBe(9);
      for (const [k, data] of blobs) {
        const out = await readFile(
          join(resultsDir, id, objectNameFor(`http://127.0.0.1:${port}${k}`, "root-file")),
        );
        expect(out.equals(data)).toBe(true);
      }
    } finally {
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    }
  });
});

describe("When an object store is configured, local worker processes upload object-store results to it", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({
      backend: "pglite",
      broker: "memory",
      launcher: "config",
      env: {
        RESULTS_DIR: join(work, "results-s3"),
        LOCAL_TRANSFORMER_WORKERS: "2",
        OBJECT_STORE_ENABLED: "true",
        MINIO_URL: moto.endpoint,
        MINIO_PUBLIC_URL: moto.endpoint,
        MINIO_ENCRYPT_PUBLIC: "false",
        MINIO_ACCESS_KEY: "local-access",
        MINIO_SECRET_KEY: "local-secret",
      },
    });
  });
  afterAll(async () => {
    await app?.close();
  });

  it("then every output lands in bucket <request_id> and downloads byte for byte through a presigned URL", async () => {
    const ins = await inputs(5);
    const id = await submit(app, [...ins.keys()], 2);
    const done = await finished(app, id);
    expect(done["files-completed"]).toBe(5);
    const store = app.deps.objectStore!;
    expect(await store.listBuckets()).toContain(id);

    const names = [...ins.keys()].map((p) => objectNameFor(p, "root-file"));
    const r = await httpCall(`${app.url}/servicex/transformation/file-urls`, "POST", {
      body: { request_id: id, file_list: names },
    });
    expect(r.status).toBe(200);
    const uris = (r.json as { uris: Record<string, [string, object, number]> }).uris;
    for (const [path, data] of ins) {
      const url = uris[objectNameFor(path, "root-file")]![0];
      const res = await fetch(url);
      const got = Buffer.from(await res.arrayBuffer());
      expect(res.status, got.toString().slice(0, 300)).toBe(200);
      expect(got.equals(data)).toBe(true);
    }
    // Nothing stays in the results directory: the scratch copies are removed after upload.
    expect(await readdir(join(work, "results-s3", id)).catch(() => [])).toEqual([]);
  });
});
