// Shared factories for the integration tests: the records a test needs, made through the App's own HTTP
// API as a client, DID finder or transformer sidecar would (docs/api.md), with each test's own values passed
// in. Every test file creates its own records (its database is its own, test/helpers/pg.ts).
import { randomBytes } from "node:crypto";
import { expect } from "vitest";
import { type Answer, type CallOptions, httpCall } from "./http.js";
import type { TestApp } from "./testApp.js";

/** What the factories need of an App: where it listens, and its database for reading back ids. */
export type AppLike = Pick<TestApp, "url" | "deps">;

type Json = Record<string, unknown>;

/** A short random tag, so that paths and DIDs of one test never collide with another's. */
export const tag = (): string => randomBytes(4).toString("hex");

/** The fields every submit needs, for tests that do not care about them. */
export const SUBMIT_DEFAULTS: Json = {
  selection: "s",
  codegen: "passthrough",
  "result-destination": "object-store",
};

/** `n` file paths under a directory of their own: `root://eos//<dir>/f<i>.root`. */
export const filePaths = (n: number, dir = tag()): string[] =>
  Array.from({ length: n }, (_, i) => `root://eos//${dir}/f${i}.root`);

/** POST /servicex/transformation; the answer as it came. */
export function postSubmit(app: Pick<AppLike, "url">, body: Json, o: CallOptions = {}): Promise<Answer> {
  return httpCall(`${app.url}/servicex/transformation`, "POST", {
    ...o,
    body: { ...SUBMIT_DEFAULTS, ...body },
  });
}

/** Submits (SUBMIT_DEFAULTS under `body`), expects 200 and returns the request id. */
export async function submit(app: Pick<AppLike, "url">, body: Json, o: CallOptions = {}): Promise<string> {
  const r = await postSubmit(app, body, o);
  expect(r.status, r.text).toBe(200);
  return (r.json as { request_id: string }).request_id;
}

export interface Submitted {
  requestId: string;
  /** The request's dataset. */
  didId: number;
  /** The dataset's file ids and paths, in id order (a file list's dataset has them from the submit). */
  fileIds: number[];
  paths: string[];
}

/** The dataset of a request and its files, in id order (read from the database). */
export async function requestFiles(app: AppLike, requestId: string): Promise<Omit<Submitted, "requestId">> {
  const [req] = await app.deps.db.sql.query<{ did_id: number }>(
    "SELECT did_id FROM requests WHERE request_id = $1",
    [requestId],
  );
  expect(req, `request ${requestId}`).toBeDefined();
  const files = await app.deps.db.sql.query<{ id: number; paths: string }>(
    "SELECT id, paths FROM files WHERE dataset_id = $1 ORDER BY id",
    [req!.did_id],
  );
  return { didId: req!.did_id, fileIds: files.map((f) => f.id), paths: files.map((f) => f.paths) };
}

/**
 * Submits a file-list request: `files` is a count (paths of filePaths(), a dataset of its own) or the paths.
 * `body` adds or overrides fields (title, selection, codegen, ...).
 */
export async function submitFileList(
  app: AppLike,
  files: number | string[],
  o: { body?: Json } & CallOptions = {},
): Promise<Submitted> {
  const { body, ...call } = o;
  const list = typeof files === "number" ? filePaths(files) : files;
  const requestId = await submit(app, { "file-list": list, ...body }, call);
  return { requestId, ...(await requestFiles(app, requestId)) };
}

/** Submits a DID request (default: a new DID of the App's own scheme); its id and dataset id. */
export async function submitDid(
  app: AppLike & Pick<TestApp, "scheme">,
  o: { did?: string; body?: Json } & CallOptions = {},
): Promise<{ requestId: string; didId: number; did: string }> {
  const { did = `${app.scheme}://ds.${tag()}`, body, ...call } = o;
  const requestId = await submit(app, { did, ...body }, call);
  const { didId } = await requestFiles(app, requestId);
  return { requestId, didId, did };
}

export type Outcome = "success" | "failure";

/** A sidecar's file-complete body (docs/api.md), as fakeWorkers.fileCompleteBody builds it. */
export function fileReport(
  requestId: string,
  fileId: number,
  outcome: Outcome,
  path = `root://x//f${fileId}`,
) {
  const ok = outcome === "success";
  return {
    requestId,
    "file-path": path,
    "file-id": fileId,
    status: outcome,
    "total-time": 1.5,
    "total-events": ok ? 100 : 0,
    "total-bytes": ok ? 1000 + fileId : 0,
    "avg-rate": ok ? 66.6 : 0,
    place: { host_name: `transformer-${requestId}-pod-1`, site: "test" },
    "s3-object-name": `${path.replaceAll("/", ":")}.parquet`,
  };
}

/** PUT …/<request_id>/file-complete with `body` (default: fileReport()); the answer as it came. */
export function reportFile(
  app: Pick<AppLike, "url">,
  requestId: string,
  fileId: number,
  outcome: Outcome = "success",
  body: Json = fileReport(requestId, fileId, outcome),
): Promise<Answer> {
  return httpCall(`${app.url}/servicex/internal/transformation/${requestId}/file-complete`, "PUT", { body });
}

/** Reports every file of a request (in id order) and expects each answer to be 200. */
export async function reportAll(
  app: AppLike,
  requestId: string,
  outcome: (fileId: number) => Outcome = () => "success",
): Promise<void> {
  const { fileIds, paths } = await requestFiles(app, requestId);
  for (const [i, id] of fileIds.entries()) {
    const r = await reportFile(
      app,
      requestId,
      id,
      outcome(id),
      fileReport(requestId, id, outcome(id), paths[i]),
    );
    expect(r.status, r.text).toBe(200);
  }
}

/** A file-list request of `n` files, every file reported a success: the request is Complete. */
export async function completedRequest(
  app: AppLike,
  n = 1,
  o: { body?: Json } & CallOptions = {},
): Promise<Submitted> {
  const sub = await submitFileList(app, n, o);
  await reportAll(app, sub.requestId);
  expect((await requestRow(app, sub.requestId)).status).toBe("complete");
  return sub;
}

/** A DID finder's PUT …/<dataset_id>/files: a batch (an array) or one file, as the finders send them. */
export function sendFiles(app: Pick<AppLike, "url">, datasetId: number, files: unknown): Promise<Answer> {
  return httpCall(`${app.url}/servicex/internal/transformation/${datasetId}/files`, "PUT", { body: files });
}

/** A DID finder's PUT …/<dataset_id>/complete (docs/api.md); `summary` adds or overrides fields. */
export function completeLookup(
  app: Pick<AppLike, "url">,
  datasetId: number,
  summary: { files: number } & Json,
): Promise<Answer> {
  return httpCall(`${app.url}/servicex/internal/transformation/${datasetId}/complete`, "PUT", {
    body: { "files-skipped": 0, "total-events": 0, "total-bytes": 0, "elapsed-time": 1, ...summary },
  });
}

/** A DID finder's PUT …/<dataset_id>/error (docs/api.md): the lookup failed. */
export function failLookup(
  app: Pick<AppLike, "url">,
  datasetId: number,
  report: { "error-type": string; message: string } & Json,
): Promise<Answer> {
  return httpCall(`${app.url}/servicex/internal/transformation/${datasetId}/error`, "PUT", {
    body: { "elapsed-time": 1, ...report },
  });
}

/** The request's row as the state machine tests read it (status name, counters, whether it finished). */
export async function requestRow(app: AppLike, requestId: string) {
  const [row] = await app.deps.db.sql.query<{
    status: string;
    files: number;
    files_completed: number;
    files_failed: number;
    did_id: number;
    failure_description: string | null;
    finished: boolean;
  }>(
    `SELECT status::text AS status, files, files_completed, files_failed, did_id, failure_description,
            finish_time IS NOT NULL AS finished FROM requests WHERE request_id = $1`,
    [requestId],
  );
  expect(row, `request ${requestId}`).toBeDefined();
  return row!;
}
