// The same lifecycle on the embedded default: PGlite (Postgres in WebAssembly, in memory here) and the
// in-process broker. The DID finder and sidecars take their tasks from the in-process queues, decoded
// exactly as Celery workers would see them on RabbitMQ, and call the App over real HTTP.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MemoryBroker } from "../../src/adapters/broker/memory.broker.js";
import { submit } from "../helpers/factories.js";
import { fileCompleteBody, makeFiles } from "../helpers/fakeWorkers.js";
import { client, httpCall } from "../helpers/http.js";
import { type TestApp, eventually, startTestApp } from "../helpers/testApp.js";

let app: TestApp;
let broker: MemoryBroker;
const errors: string[] = [];
beforeAll(async () => {
  app = await startTestApp({ backend: "pglite", broker: "memory" });
  broker = app.deps.broker as MemoryBroker;
});
afterAll(async () => {
  await app?.close();
});

const api = client(() => app.url);
const status = async (id: string) =>
  (await api.get(`/servicex/transformation/${id}`)).json as Record<string, unknown>;

function sidecars(requestId: string, decide: (fileId: number) => Array<"success" | "failure">) {
  return broker.consume(
    `transformer-${requestId}`,
    async (m) => {
      const [, kwargs] = m.body as [
        unknown[],
        { request_id: string; file_id: number; paths: string[]; service_endpoint: string },
      ];
      for (const s of decide(kwargs.file_id)) {
        const r = await httpCall(`${kwargs.service_endpoint}/file-complete`, "PUT", {
          body: fileCompleteBody(kwargs, s),
        });
        if (r.status !== 200) {
          errors.push(`file-complete answered ${r.status}: ${r.text}`);
          if (errors.length > 5) return;
          throw new Error(errors.at(-1));
        }
      }
    },
    { prefetch: 16 },
  );
}

describe("When the App runs on the embedded default (PGlite + in-process broker)", () => {
  it("then a DID request goes Lookup → Running → Complete with exact counters and one shutdown", async () => {
    const did = `${app.scheme}://embedded.${randomBytes(3).toString("hex")}`;
    const stopFinder = broker.consume(`did_finder_${app.scheme}`, async (m) => {
      const [args] = m.body as [[string, number, string]];
      const [, datasetId, endpoint] = args;
      const files = makeFiles("emb")(650);
      // The DID finder calls the endpoint its lookup task names.
      for (let i = 0; i < files.length; i += 300)
        await httpCall(`${endpoint}${datasetId}/files`, "PUT", { body: files.slice(i, i + 300) });
      await httpCall(`${endpoint}${datasetId}/complete`, "PUT", {
        body: { files: 650, "files-skipped": 0, "total-events": 0, "total-bytes": 0, "elapsed-time": 1 },
      });
    });
    const id = await submit(app, { did });
    const stop = sidecars(id, (f) =>
      f % 5 === 0 ? ["failure"] : f % 3 === 0 ? ["success", "success"] : ["success"],
    );
    try {
      const done = await eventually(
        async () => {
          const s = await status(id);
          return s.status === "Complete" ? s : undefined;
        },
        60_000,
        "Complete",
      );
      expect(errors).toEqual([]);
      expect(done.files).toBe(650);
      expect((done["files-completed"] as number) + (done["files-failed"] as number)).toBe(650);
      expect(done["files-remaining"]).toBe(0);
      await app.deps.lifecycle.idle();
      expect(app.launcher.shutdownCount(id)).toBe(1);
      expect(await broker.queueDepth(`transformer-${id}`)).toBeNull();
    } finally {
      stop();
      stopFinder();
    }
  });

  it("then a file-list request completes and its results can be polled with later_than", async () => {
    const files = Array.from(
      { length: 120 },
      (_, i) => `/data/emb/${randomBytes(3).toString("hex")}/f${i}.root`,
    );
    const id = await submit(app, { "file-list": files });
    const stop = sidecars(id, () => ["success"]);
    try {
      await eventually(async () => (await status(id)).status === "Complete", 60_000, "Complete");
      const res = (
        await api.get(`/servicex/transformation/${id}/results?later_than=0001-01-01T00:00:00%2B00:00`)
      ).json as {
        results: Array<Record<string, unknown>>;
      };
      expect(res.results).toHaveLength(120);
      expect(res.results.every((r) => r.transform_status === "success")).toBe(true);
    } finally {
      stop();
    }
  });

  it("then canceling a running request stops it once and drops its queue", async () => {
    const id = await submit(app, {
      "file-list": [`/data/emb/cancel-${randomBytes(3).toString("hex")}.root`, "/data/emb/other.root"],
    });
    await app.deps.dispatcher.idle();
    expect(await broker.queueDepth(`transformer-${id}`)).toBe(2);
    const c = await api.get(`/servicex/transformation/${id}/cancel`);
    expect(c.json).toEqual({ message: `Canceled transformation request ${id}` });
    expect((await status(id)).status).toBe("Canceled");
    await app.deps.lifecycle.idle();
    expect(app.launcher.shutdownCount(id)).toBe(1);
    expect(await broker.queueDepth(`transformer-${id}`)).toBeNull();
    const again = await api.post(`/servicex/transformation/${id}/cancel`);
    expect(again.status).toBe(400);
  });
});

describe("When nothing but the embedded default is configured", () => {
  it("then the local transformers run a passthrough request to Complete and the results directory holds the inputs", async () => {
    const { mkdtempSync, readFileSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = mkdtempSync(join(tmpdir(), "sx-local-"));
    const results = join(dir, "results");
    const local = await startTestApp({
      backend: "pglite",
      broker: "memory",
      launcher: "config",
      env: { RESULTS_DIR: results },
    });
    try {
      expect(local.deps.launcher.kind).toBe("local");
      const inputs = Array.from({ length: 5 }, (_, i) => {
        const p = join(dir, `in${i}.root`);
        writeFileSync(p, randomBytes(1000 + i * 100));
        return p;
      });
      const id = await submit(local, { "file-list": inputs, "result-format": "root-file" });
      const done = await eventually(
        async () => {
          const s = (await httpCall(`${local.url}/servicex/transformation/${id}`, "GET")).json as Record<
            string,
            unknown
          >;
          return s.status === "Complete" ? s : undefined;
        },
        30_000,
        "Complete",
      );
      expect(done["files-completed"]).toBe(5);
      const res = (await httpCall(`${local.url}/servicex/transformation/${id}/results`, "GET")).json as {
        results: Array<{ "s3-object-name": string; "file-path": string }>;
      };
      for (const r of res.results) {
        expect(readFileSync(join(results, id, r["s3-object-name"]))).toEqual(readFileSync(r["file-path"]));
      }
    } finally {
      await local.close();
    }
  });
});
