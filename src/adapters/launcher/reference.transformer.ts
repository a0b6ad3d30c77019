// The built-in reference transformer of the embedded default: the transformer sidecar's side of the protocol
// (docs/api.md, docs/decisions.md D27, D28) for the `passthrough` code generator, in TypeScript and in-process.
//
// This is a pipeline test, not a physics transformer: the selection is never evaluated; each input file is
// copied unchanged. For one task (the kwargs of a `transformer_sidecar.transform_file` Celery task) it
//   1. fetches the input from the first replica among `paths` that works, in order: a local path, `file://` or
//      `http(s)://` (any other scheme, e.g. root://, is reported as an error for that replica);
//   2. writes it to `<resultsDir>/<request_id>/<objectNameFor(replica, result_format)>`, via a temporary file in
//      the same directory (`.part-<random>`) and a rename, so a reader never sees a partial output;
//   3. reports `PUT <service_endpoint>/file-complete` with the sidecar's body (FileCompleteRecord.to_json): on
//      success `total-bytes` is the real output size; when every replica failed, status "failure" with the
//      errors in `error`.
// With `upload` set (result destination object-store), the output is written to `resultsDir` as a scratch copy,
// uploaded as object `<object name>` of bucket `<request_id>`, then removed; a failed upload is a failure report.

import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { objectNameFor } from "../../domain/objectName.js";
import type { TransformTask } from "../../domain/ports.js";

export interface ReferenceTransformerOptions {
  /** Root of the results directory; outputs go to `<resultsDir>/<request_id>/`. */
  resultsDir: string;
  /** `place.host_name` of the reports (default: this machine's host name). */
  hostName?: string;
  /** `place.site` of the reports (default "local"). */
  site?: string;
  /** Attempts of the file-complete PUT on connection errors and 5xx (default 5), pausing 100 ms, doubling. */
  reportAttempts?: number;
  /** Stops a download in progress; an aborted task is not reported (its request is being shut down). */
  signal?: AbortSignal;
  /** Uploads the finished output (object-store destination); the local copy is removed afterwards. */
  upload?: (bucket: string, objectName: string, localPath: string) => Promise<void>;
  /** The fetch used for http(s) inputs and the report (tests may wrap it). */
  fetch?: typeof fetch;
}

/** Exactly the sidecar's file-complete body, plus `error` on failure. */
export interface FileCompleteReport {
  requestId: string;
  "file-path": string;
  "file-id": number;
  status: "success" | "failure";
  "total-time": number;
  "total-events": number;
  "total-bytes": number;
  "avg-rate": number;
  place: { host_name: string; site: string };
  "s3-object-name": string;
  error?: string;
}

export interface TransformOutcome {
  report: FileCompleteReport;
  /** Where the output was written (success only; with `upload`, the local copy is already gone). */
  outputPath: string | null;
  /** HTTP status of the accepted report, or null when it could not be delivered (or the task was aborted). */
  reportStatus: number | null;
  /** Why the report was not accepted (connection error after every attempt, or a non-2xx answer). */
  reportError: string | null;
}

/** Runs one task end to end. Never throws for a bad input or an unreachable App: see the outcome. */
export async function transformFile(
  task: TransformTask,
  opts: ReferenceTransformerOptions,
): Promise<TransformOutcome> {
  const started = performance.now();
  const doFetch = opts.fetch ?? fetch;
  const dir = join(opts.resultsDir, safeSegment(task.request_id));
  const errors: string[] = [];
  let used: { path: string; output: string; bytes: number } | null = null;

  for (const replica of task.paths) {
    if (opts.signal?.aborted) break;
    const name = objectNameFor(replica, task.result_format);
    const output = join(dir, name);
    let bytes: number;
    try {
      bytes = await copyReplica(replica, dir, output, doFetch, opts.signal);
    } catch (e) {
      errors.push(`${replica}: ${e instanceof Error ? e.message : String(e)}`);
      continue;
    }
    if (opts.upload) {
      try {
        await opts.upload(task.request_id, name, output);
      } catch (e) {
        errors.push(`upload of ${name} failed: ${e instanceof Error ? e.message : String(e)}`);
        break; // the input was read: another replica would not help the upload
      } finally {
        await rm(output, { force: true }).catch(() => {});
      }
    }
    used = { path: replica, output, bytes };
    break;
  }

  const seconds = (performance.now() - started) / 1000;
  const filePath = used?.path ?? task.paths[0] ?? "";
  const report: FileCompleteReport = {
    requestId: task.request_id,
    "file-path": filePath,
    "file-id": task.file_id,
    status: used ? "success" : "failure",
    "total-time": seconds,
    "total-events": 0,
    "total-bytes": used?.bytes ?? 0,
    // events per second, as the sidecar computes it; a passthrough counts no events.
    "avg-rate": 0,
    place: { host_name: opts.hostName ?? hostname(), site: opts.site ?? "local" },
    "s3-object-name": objectNameFor(filePath, task.result_format),
  };
  if (!used) report.error = errors.length > 0 ? errors.join("\n") : "no replica to read";

  if (opts.signal?.aborted) {
    return { report, outputPath: used?.output ?? null, reportStatus: null, reportError: "aborted" };
  }
  const sent = await putReport(task.service_endpoint, report, opts.reportAttempts ?? 5, doFetch);
  return { report, outputPath: used?.output ?? null, ...sent };
}

/** The request id becomes a directory name: never let it climb out of resultsDir. */
function safeSegment(s: string): string {
  const cleaned = s.replace(/[^A-Za-z0-9_.-]/g, "_");
  return cleaned === "" || cleaned === "." || cleaned === ".." ? "_" : cleaned;
}

async function copyReplica(
  replica: string,
  dir: string,
  output: string,
  doFetch: typeof fetch,
  signal: AbortSignal | undefined,
): Promise<number> {
  let source: Readable;
  if (/^https?:\/\//i.test(replica)) {
    const res = await doFetch(replica, { signal });
    if (!res.ok || !res.body) {
      await res.body?.cancel().catch(() => {});
      throw new Error(`HTTP ${res.status} ${res.statusText}`.trim());
    }
    source = Readable.fromWeb(res.body as import("node:stream/web").ReadableStream<Uint8Array>);
  } else if (/^file:\/\//i.test(replica)) {
    source = await openLocal(fileURLToPath(replica));
  } else if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(replica)) {
    throw new Error(`unsupported scheme ${replica.slice(0, replica.indexOf(":"))}`);
  } else {
    source = await openLocal(replica);
  }

  await mkdir(dir, { recursive: true });
  // Not derived from the output name: that may already be 255 characters long (the name limit).
  const tmp = join(dir, `.part-${randomBytes(8).toString("hex")}`);
  try {
    const sink: Writable = createWriteStream(tmp, { flags: "wx" });
    await pipeline(source, sink, { signal });
    await rename(tmp, output);
  } catch (e) {
    source.destroy();
    await rm(tmp, { force: true }).catch(() => {});
    throw e;
  }
  return (await stat(output)).size;
}

/** Opens a local file, failing now (not mid-pipeline) when it is missing or not a regular file. */
async function openLocal(path: string): Promise<Readable> {
  const s = await stat(path);
  if (!s.isFile()) throw new Error("not a regular file");
  const stream = createReadStream(path);
  await new Promise<void>((resolve, reject) => {
    stream.once("open", () => resolve());
    stream.once("error", reject);
  });
  return stream;
}

async function putReport(
  endpoint: string,
  report: FileCompleteReport,
  attempts: number,
  doFetch: typeof fetch,
): Promise<{ reportStatus: number | null; reportError: string | null }> {
  const body = JSON.stringify(report);
  let lastError = "";
  for (let i = 0; i < Math.max(1, attempts); i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 100 * 2 ** (i - 1)));
    try {
      const res = await doFetch(`${endpoint}/file-complete`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body,
      });
      const text = await res.text();
      if (res.ok) return { reportStatus: res.status, reportError: null };
      lastError = `file-complete answered ${res.status}: ${text}`;
      // A 5xx may pass (database busy, restarting); a 4xx would get the same answer again.
      if (res.status >= 500) continue;
      return { reportStatus: res.status, reportError: `file-complete answered ${res.status}: ${text}` };
    } catch (e) {
      // A connection error (the App restarting, a dropped keep-alive): try again.
      lastError = e instanceof Error ? `${e.message}${causeOf(e)}` : String(e);
    }
  }
  return { reportStatus: null, reportError: `file-complete not delivered: ${lastError}` };
}

function causeOf(e: Error): string {
  const c = (e as { cause?: unknown }).cause;
  return c instanceof Error ? ` (${c.message})` : "";
}
