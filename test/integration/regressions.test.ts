// Upstream concurrency and duplicate bugs, each as a named regression test (contract A.11, §2.4.2, §2.4.4).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  completeLookup,
  fileReport,
  postSubmit,
  reportFile,
  requestRow,
  sendFiles,
  submitDid,
  submitFileList,
  tag,
} from "../helpers/factories.js";
import { client } from "../helpers/http.js";
import { type TestApp, eventually, startTestApp } from "../helpers/testApp.js";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ backend: "postgres", broker: "memory" });
});
afterAll(async () => {
  await app?.close();
});

const api = client(() => app.url);
const report = (id: string, fileId: number, status: "success" | "failure") =>
  reportFile(app, id, fileId, status);
const row = (id: string) => requestRow(app, id);
/** DID requests here send their results to the volume. */
const VOLUME = { body: { "result-destination": "volume" } };

describe("file-complete accounting", () => {
  it("#460: concurrent file-complete reports for every file complete the request exactly once", async () => {
    const { requestId: id, fileIds } = await submitFileList(app, 300);
    const answers = await Promise.all(fileIds.map((f) => report(id, f, "success")));
    expect(answers.every((a) => a.status === 200 && a.json === "Ok")).toBe(true);
    const r = await row(id);
    expect(r).toMatchObject({
      status: "complete",
      files: 300,
      files_completed: 300,
      files_failed: 0,
      finished: true,
    });
    await app.deps.lifecycle.idle();
    expect(app.launcher.shutdownCount(id)).toBe(1);
  });

  it("#409: duplicate reports (sidecar retries, redelivered tasks) never count a file twice", async () => {
    const { requestId: id, fileIds } = await submitFileList(app, 50);
    const reports = fileIds.flatMap((f) => [
      report(id, f, "success"),
      report(id, f, "success"),
      report(id, f, "success"),
    ]);
    await Promise.all(reports);
    const r = await row(id);
    expect(r).toMatchObject({ status: "complete", files_completed: 50, files_failed: 0 });
    const results = await app.deps.db.sql.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM transform_result WHERE request_id = $1",
      [id],
    );
    expect(results[0]!.n).toBe(50);
    const events = await app.deps.db.sql.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM file_status WHERE request_id = $1",
      [id],
    );
    expect(events[0]!.n).toBe(150);
    expect(app.launcher.shutdownCount(id)).toBe(1);
  });

  it("When a failure is followed by a success, then the file counts as a success; a later failure changes nothing", async () => {
    const { requestId: id, fileIds } = await submitFileList(app, 3);
    const [a, b, c] = fileIds as [number, number, number];
    await report(id, a, "failure");
    expect(await row(id)).toMatchObject({ files_completed: 0, files_failed: 1 });
    await report(id, a, "success");
    expect(await row(id)).toMatchObject({ files_completed: 1, files_failed: 0 });
    await report(id, a, "failure");
    expect(await row(id)).toMatchObject({ files_completed: 1, files_failed: 0 });
    // the same pair arriving together in either order gives the same outcome
    await Promise.all([report(id, b, "success"), report(id, b, "failure")]);
    await Promise.all([report(id, c, "failure"), report(id, c, "success")]);
    expect(await row(id)).toMatchObject({ status: "complete", files_completed: 3, files_failed: 0 });
    const failures = await app.deps.db.sql.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM file_status WHERE request_id = $1 AND status = 'failure'",
      [id],
    );
    expect(failures[0]!.n).toBe(4);
  });

  it("#343: a request still in Lookup is never completed by file-complete, even when transformers catch up with the DID finder", async () => {
    const { requestId: id, didId: datasetId } = await submitDid(app, VOLUME);
    const put = await sendFiles(app, datasetId, [
      { paths: ["root://a//1.root"], adler32: null, file_size: 0, file_events: 0 },
      { paths: ["root://a//2.root"], adler32: null, file_size: 0, file_events: 0 },
    ]);
    expect({ status: put.status, body: put.json }).toEqual({
      status: 200,
      body: { dataset_id: String(datasetId) },
    });
    const files = await app.deps.db.sql.query<{ id: number }>(
      "SELECT id FROM files WHERE dataset_id = $1 ORDER BY id",
      [datasetId],
    );
    await Promise.all(files.map((f) => report(id, f.id, "success")));
    expect(await row(id)).toMatchObject({ status: "lookup", files: 2, files_completed: 2, finished: false });
    expect(app.launcher.shutdownCount(id)).toBe(0);
    // the DID finder closes the lookup: counters already add up → Complete, exactly once
    await completeLookup(app, datasetId, { files: 2 });
    expect(await row(id)).toMatchObject({ status: "complete", files: 2, files_completed: 2, finished: true });
    await app.deps.lifecycle.idle();
    expect(app.launcher.shutdownCount(id)).toBe(1);
  });

  it("#413: cancel racing the last file ends in exactly one terminal state with one shutdown", async () => {
    for (let round = 0; round < 10; round++) {
      const { requestId: id, fileIds } = await submitFileList(app, 4);
      await Promise.all(fileIds.slice(0, 3).map((f) => report(id, f, "success")));
      const [last, cancel] = await Promise.all([
        report(id, fileIds[3]!, "success"),
        api.get(`/servicex/transformation/${id}/cancel`),
      ]);
      expect(last.status).toBe(200);
      const r = await row(id);
      expect(["complete", "canceled"]).toContain(r.status);
      expect(cancel.status).toBe(r.status === "canceled" ? 200 : 400);
      await app.deps.lifecycle.idle();
      expect(app.launcher.shutdownCount(id)).toBe(1);
    }
  });

  it("When an old sidecar reports success without s3-object-name, then /results carries the derived object name", async () => {
    const { requestId: id, fileIds } = await submitFileList(app, 1);
    const body: Record<string, unknown> = fileReport(id, fileIds[0]!, "success", "root://eos//user/x/f.root");
    delete body["s3-object-name"];
    expect((await reportFile(app, id, fileIds[0]!, "success", body)).status).toBe(200);
    const res = (await api.get(`/servicex/transformation/${id}/results`)).json as {
      results: Array<Record<string, unknown>>;
    };
    expect(res.results[0]!["s3-object-name"]).toBe("root:::eos::user:x:f.root.parquet");
  });

  it("When reports for unknown requests or foreign files arrive, then 404/400 and nothing is written", async () => {
    const { requestId: id } = await submitFileList(app, 1);
    const other = await submitFileList(app, 1);
    const unknown = await report("00000000-0000-4000-8000-000000000000", other.fileIds[0]!, "success");
    expect(unknown.status).toBe(404);
    const foreign = await report(id, other.fileIds[0]!, "success");
    expect(foreign.status).toBe(400);
    expect(await row(id)).toMatchObject({ files_completed: 0, files_failed: 0 });
    expect(await row(other.requestId)).toMatchObject({ files_completed: 0, files_failed: 0 });
  });
});

describe("dataset cache (contract §3.4)", () => {
  it("When several requests on one new DID are submitted concurrently, then they share one dataset and one lookup", async () => {
    const did = `${app.scheme}://shared.${tag()}`;
    const subs = await Promise.all(Array.from({ length: 8 }, () => postSubmit(app, { did })));
    const ids = subs.map((s) => (s.json as { request_id: string }).request_id);
    const rows = await app.deps.db.sql.query<{ did_id: number; status: string }>(
      "SELECT did_id, status FROM requests WHERE request_id = ANY($1::text[])",
      [ids],
    );
    expect(new Set(rows.map((r) => r.did_id)).size).toBe(1);
    expect(rows.filter((r) => r.status === "lookup")).toHaveLength(1);
    expect(rows.filter((r) => r.status === "pending_lookup")).toHaveLength(7);
    const datasetId = rows[0]!.did_id;
    await sendFiles(app, datasetId, {
      paths: ["root://x//only.root"],
      adler32: null,
      file_size: 5,
      file_events: 7,
    });
    await completeLookup(app, datasetId, { files: 1, "total-events": 7, "total-bytes": 5 });
    const after = await app.deps.db.sql.query<{ status: string; files: number }>(
      "SELECT status, files FROM requests WHERE request_id = ANY($1::text[])",
      [ids],
    );
    expect(after.every((r) => r.status === "running" && r.files === 1)).toBe(true);
    const fileId = (
      await app.deps.db.sql.query<{ id: number }>("SELECT id FROM files WHERE dataset_id = $1", [datasetId])
    )[0]!.id;
    await Promise.all(ids.map((id) => report(id, fileId, "success")));
    await eventually(async () => {
      const done = await app.deps.db.sql.query<{ status: string }>(
        "SELECT status FROM requests WHERE request_id = ANY($1::text[])",
        [ids],
      );
      return done.every((d) => d.status === "complete");
    });
  });

  it("When the lookup finds no files, then every waiting request completes with zero files", async () => {
    const { requestId: id, didId: datasetId } = await submitDid(app, VOLUME);
    await completeLookup(app, datasetId, { files: 0 });
    expect(await row(id)).toMatchObject({ status: "complete", files: 0, finished: true });
    await app.deps.lifecycle.idle();
    expect(app.launcher.shutdownCount(id)).toBe(1);
  });

  it("When a dataset is deleted (stale), then the next submit of its DID looks it up again", async () => {
    const { requestId: id, didId: datasetId } = await submitDid(app, VOLUME);
    const did =
      (await row(id)) &&
      (await app.deps.db.sql.query<{ did: string }>("SELECT did FROM requests WHERE request_id=$1", [id]))[0]!
        .did;
    const del = await api.delete(`/servicex/datasets/${datasetId}`);
    expect(del.json).toEqual({ "dataset-id": datasetId, stale: true });
    const again = await api.delete(`/servicex/datasets/${datasetId}`);
    expect(again.status).toBe(400);
    const r2 = await postSubmit(app, { did });
    const id2 = (r2.json as { request_id: string }).request_id;
    const rows = await app.deps.db.sql.query<{ did_id: number; status: string }>(
      "SELECT did_id, status FROM requests WHERE request_id = $1",
      [id2],
    );
    expect(rows[0]!.did_id).not.toBe(datasetId);
    expect(rows[0]!.status).toBe("lookup");
  });
});
