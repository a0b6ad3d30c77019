// What the request pages show that is worked out from a request (docs/api.md "Pages"): where its output is,
// its timings and rates from the progress history, the Python client's lines that fetch its results, and
// what its Cancel and Delete would do.
import type { ProgressPoint, RequestRecord } from "../../domain/repositories.js";
import { isTerminal } from "../../domain/status.js";
import type { Confirmation } from "../routes/pages/kit.js";
import * as fmt from "./pageFormat.js";

/** Where a request's output is, as the pages describe it. */
export type OutputLocation =
  | { kind: "object-store"; endpoint: string; secure: boolean; bucket: string; downloadable: boolean }
  | { kind: "local"; dir: string; s3: string | null; bucket: string; downloadable: true }
  | { kind: "volume"; claim: string | null; subdir: string; downloadable: false }
  | { kind: "none"; downloadable: false };

/** Timings derived from the request row and its progress history (all in ms since the epoch or ms). */
export interface Timing {
  submitMs: number;
  /** When transforming began: the first Running point of the history (null while it has not). */
  runStartMs: number | null;
  /** Submission to Running; null when unknown or still looking up. */
  lookupMs: number | null;
  /** The files were known at submission (a file list, or a dataset already looked up). */
  noLookup: boolean;
  elapsedMs: number;
  /** Files per second since transforming began (null before the first file). */
  filesPerSecond: number | null;
  bytesPerSecond: number | null;
  /** Estimated time to the last file (running requests only). */
  etaMs: number | null;
}

export function timingOf(rec: RequestRecord, history: readonly ProgressPoint[], now: number): Timing {
  const submitMs = rec.submitTime.getTime();
  const endMs = rec.finishTime?.getTime() ?? now;
  const firstRunning = history.find((p) => p.status === "running");
  const runStartMs = firstRunning ? firstRunning.time.getTime() : null;
  const noLookup = history[0]?.status === "running" && runStartMs !== null && runStartMs - submitMs < 1000;
  const lookupMs = runStartMs !== null && !noLookup ? Math.max(0, runStartMs - submitMs) : null;
  const done = rec.filesCompleted + rec.filesFailed;
  const span = runStartMs === null ? 0 : (endMs - runStartMs) / 1000;
  const filesPerSecond = done > 0 && span > 0 ? done / span : null;
  const bytesPerSecond = (rec.totalBytes ?? 0) > 0 && span > 0 ? (rec.totalBytes ?? 0) / span : null;
  const remaining = Math.max(0, rec.files - done);
  const etaMs =
    !isTerminal(rec.status) && filesPerSecond && rec.status === "running"
      ? (remaining / filesPerSecond) * 1000
      : null;
  return {
    submitMs,
    runStartMs,
    lookupMs,
    noLookup,
    elapsedMs: Math.max(0, endMs - submitMs),
    filesPerSecond,
    bytesPerSecond,
    etaMs,
  };
}

/** The Python client's lines that fetch every result file of a request (docs/local-results.md). */
export function clientSnippet(base: string, requestId: string, backend: string | null): string {
  const client = backend
    ? `ServiceXClient(backend=${JSON.stringify(backend)})  # the servicex.yaml of your profile page`
    : `ServiceXClient(url=${JSON.stringify(base)})`;
  return [
    "# pip install servicex  (3.x)",
    "import asyncio",
    "from servicex.minio_adapter import MinioAdapter",
    "from servicex.servicex_client import ServiceXClient",
    "",
    `sx = ${client}`,
    `status = sx.get_transform_status(${JSON.stringify(requestId)})`,
    "store = MinioAdapter.for_transform(status)",
    "",
    'async def download(to="servicex-results"):',
    "    files = await store.list_bucket()",
    "    return [await store.download_file(f.filename, to) for f in files]",
    "",
    "for path in asyncio.run(download()):",
    "    print(path)",
  ].join("\n");
}

/**
 * What Cancel and Delete would do, for their confirmation pages (docs/api.md, "Pages"); `out` is where the
 * request's output is (what Delete removes).
 */
export function confirmationOf(
  rec: RequestRecord,
  what: "cancel" | "delete",
  out: OutputLocation,
): Confirmation {
  const base = `/transformation-request/${rec.requestId}`;
  const name = rec.title ? `“${rec.title}” (${rec.requestId})` : `request ${rec.requestId}`;
  const remaining = Math.max(0, rec.files - rec.filesCompleted - rec.filesFailed);
  if (what === "cancel") {
    return {
      heading: "Cancel this request?",
      text: `Cancel ${name}? It stops now and cannot be resumed.`,
      consequences: [
        rec.files
          ? `${fmt.plural(remaining, "file")} not transformed yet will not be transformed.`
          : "The dataset lookup stops; no file will be transformed.",
        "Its transformers are stopped and its task queue is removed.",
        `The ${fmt.plural(rec.filesCompleted, "file")} already transformed stay available until the request is deleted.`,
      ],
      action: `${base}/cancel`,
      button: "Cancel the request",
      danger: true,
      back: base,
    };
  }
  const files = `${fmt.plural(rec.filesCompleted, "result file")} (${fmt.bytes(rec.totalBytes ?? 0)})`;
  return {
    heading: "Delete this request?",
    text: `Delete ${name}? This cannot be undone.`,
    consequences: [
      out.kind === "object-store"
        ? `Its ${files} are deleted with the bucket ${out.bucket} of the object store.`
        : out.kind === "local"
          ? `Its ${files} are no longer served (downloads and the S3 endpoint answer “not found”); the files stay in ${out.dir} until removed there.`
          : `Its ${files} are no longer listed here.`,
      `Its per-file results, its ${fmt.plural(rec.filesFailed, "failed file")} and their errors, and its progress history are deleted.`,
      "It disappears from the dashboards and from the API: clients that poll it get “not found”.",
    ],
    action: `${base}/delete`,
    button: "Delete the request",
    danger: true,
    back: base,
  };
}
