// The whole request lifecycle against the real Postgres and the real RabbitMQ, with a DID finder and
// transformer sidecars speaking the real wire format over the broker and HTTP.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { submit } from "../helpers/factories.js";
import { makeFiles, startDidFinder, startSidecars } from "../helpers/fakeWorkers.js";
import { client } from "../helpers/http.js";
import { type TestApp, eventually, startTestApp } from "../helpers/testApp.js";

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp({ backend: "postgres", broker: "amqp" });
});
afterAll(async () => {
  await app?.close();
});

const api = client(() => app.url);
/** The selection and format of every request here (SUBMIT_DEFAULTS for the rest). */
const BODY = { selection: "(call ResultTTree ...)", "result-format": "parquet" };
const getRequest = async (id: string) =>
  (await api.get(`/servicex/transformation/${id}`)).json as Record<string, unknown>;
const waitTerminal = (id: string) =>
  eventually(
    async () => {
      const r = await getRequest(id);
      return ["Complete", "Canceled", "Fatal", "Bad Dataset"].includes(r.status as string) ? r : undefined;
    },
    60_000,
    `request ${id} to finish`,
  );

describe("When a physicist submits by DID", () => {
  // The scheme is this app's own (a queue no other process on the machine consumes); the App treats it
  // exactly as rucio: `did_finder_<scheme>` is the queue upstream's Rucio finder listens on for `rucio`.
  it("then the lookup goes to did_finder_<scheme>, files stream in batches of 300, one task per file is queued, and the request completes exactly once with exact counters", async () => {
    const did = `mc23_13p6TeV:lifecycle.${randomBytes(4).toString("hex")}`;
    const finder = await startDidFinder({ scheme: app.scheme, did, count: 1000, files: makeFiles(did) });
    try {
      const id = await submit(app, { ...BODY, did: `${app.scheme}://${did}`, title: "lifecycle" });
      expect(id).toMatch(/^[0-9a-f-]{36}$/);

      // file ids known only after the lookup: 10 % fail once then succeed, 10 % fail for good,
      // 1 in 7 is reported twice in parallel (duplicate), everything in parallel.
      const sidecars = await startSidecars({
        requestId: id,
        concurrency: 64,
        decide: (t) =>
          t.file_id % 10 === 0
            ? ["failure", "success"]
            : t.file_id % 10 === 1
              ? ["failure"]
              : t.file_id % 7 === 0
                ? ["success", "success"]
                : ["success"],
      });
      try {
        const done = await waitTerminal(id);
        expect(done.status).toBe("Complete");
        expect(done.files).toBe(1000);
        expect((done["files-completed"] as number) + (done["files-failed"] as number)).toBe(1000);
        expect(done["files-remaining"]).toBe(0);
        expect(done["finish-time"]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
        const failedForGood = sidecars.messages.filter((m) => (m.kwargs.file_id as number) % 10 === 1).length;
        expect(done["files-failed"]).toBe(failedForGood);

        expect(finder.messages).toHaveLength(1);
        const lookup = finder.messages[0]!;
        expect(lookup.headers.task).toBe(`did_finder_${app.scheme}.lookup_dataset`);
        expect(lookup.args[0]).toBe(did);
        expect(lookup.args[2]).toBe(`http://127.0.0.1:${app.port}/servicex/internal/transformation/`);

        const ids = new Set(sidecars.messages.map((m) => m.kwargs.file_id));
        expect(ids.size).toBe(1000);
        const task = sidecars.messages[0]!;
        expect(task.headers.task).toBe("transformer_sidecar.transform_file");
        expect(task.args).toEqual([]);
        expect(task.kwargs.service_endpoint).toBe(
          `http://127.0.0.1:${app.port}/servicex/internal/transformation/${id}`,
        );
        expect(task.kwargs.paths).toHaveLength(2);
        expect(task.kwargs.result_destination).toBe("object-store");
        expect(task.kwargs.result_format).toBe("parquet");

        await eventually(async () => app.launcher.shutdownCount(id) === 1, 5000, "shutdown");
        // Once every queued report is written and every shutdown has run, a second completion would show.
        await app.deps.fileComplete.idle();
        await app.deps.lifecycle.idle();
        expect(app.launcher.shutdownCount(id)).toBe(1);
        expect(app.launcher.started.filter((s) => s.requestId === id)).toHaveLength(1);

        // The dataset is cached now: a second request on it skips the lookup and runs at once.
        const id2 = await submit(app, { ...BODY, did });
        const first = await getRequest(id2);
        expect(first.status).toBe("Running");
        expect(first.files).toBe(1000);
        const sidecars2 = await startSidecars({ requestId: id2 });
        try {
          const done2 = await waitTerminal(id2);
          expect(done2.status).toBe("Complete");
          expect(done2["files-completed"]).toBe(1000);
          expect(finder.messages).toHaveLength(1);
        } finally {
          await sidecars2.stop();
        }
      } finally {
        await sidecars.stop();
      }
    } finally {
      await finder.stop();
    }
  });
});

describe("When a physicist submits a file list", () => {
  it("then the request runs at once with one task per file and completes", async () => {
    const files = Array.from(
      { length: 500 },
      (_, i) => `root://eos//user/f${i}-${randomBytes(3).toString("hex")}.root`,
    );
    const id = await submit(app, { ...BODY, "file-list": files, "result-format": "root-file" });
    const r = await getRequest(id);
    expect(r.status).toBe("Running");
    expect(r.files).toBe(500);
    expect(r.did).toMatch(/^[0-9a-f]{64}$/);
    const sidecars = await startSidecars({ requestId: id });
    try {
      const done = await waitTerminal(id);
      expect(done.status).toBe("Complete");
      expect(done["files-completed"]).toBe(500);
      expect(new Set(sidecars.messages.map((m) => (m.kwargs.paths as string[])[0]))).toEqual(new Set(files));
      expect(sidecars.messages[0]!.kwargs.result_format).toBe("root-file");
      // results, as the Python client polls them
      const res = await api.get(
        `/servicex/transformation/${id}/results?later_than=${encodeURIComponent("0001-01-01T00:00:00+00:00")}`,
      );
      const { results } = res.json as { results: Array<Record<string, unknown>> };
      expect(results).toHaveLength(500);
      expect(results[0]!.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
      const newest = results
        .map((x) => x.created_at as string)
        .sort()
        .at(-1)!;
      const later = await api.get(
        `/servicex/transformation/${id}/results?later_than=${encodeURIComponent(newest)}`,
      );
      expect((later.json as { results: unknown[] }).results).toHaveLength(0);
    } finally {
      await sidecars.stop();
    }
  });
});

describe("When the DID finder reports a failed lookup", () => {
  it("then the request ends as Bad Dataset, the dataset goes stale, and shutdown is called once", async () => {
    const did = `${app.scheme}://bad.${randomBytes(4).toString("hex")}`;
    const finder = await startDidFinder({
      scheme: app.scheme,
      did: did.split("://")[1]!,
      count: 0,
      files: makeFiles("x"),
      fail: { "error-type": "does_not_exist", message: "no such dataset" },
    });
    try {
      const id = await submit(app, { ...BODY, did });
      const done = await waitTerminal(id);
      expect(done.status).toBe("Bad Dataset");
      expect(done["failure-info"]).toContain("no such dataset");
      const ds = (await api.get("/servicex/datasets?show-deleted=True")).json as {
        datasets: Array<Record<string, unknown>>;
      };
      const mine = ds.datasets.find((d) => d.name === did)!;
      expect(mine.lookup_status).toBe("does_not_exist");
      expect(mine.is_stale).toBe(true);
      await eventually(async () => app.launcher.shutdownCount(id) === 1, 5000, "shutdown");
    } finally {
      await finder.stop();
    }
  });
});
