// Wire JSON of a transform request (docs/database.md, docs/decisions.md D20), typed by the response schema the
// OpenAPI document publishes (TransformRequestJson). The quirks are on purpose: `finish-time` is the string
// "None" when unset, `files-remaining` is null while no file is known.
import type { IncomingHttpHeaders } from "node:http";
import type { z } from "zod";
import type { Config } from "../../config.js";
import type { RequestRecord } from "../../domain/repositories.js";
import { filesRemaining } from "../../domain/requestReads.service.js";
import { displayStatus } from "../../domain/status.js";
import { type LocalS3, localS3Access } from "../localS3.js";
import type { RequestListResponse, TransformRequestJson } from "../schemas/transformation.schemas.js";
import { isoZ } from "./time.js";

export { filesRemaining };

export type TransformRequest = z.infer<typeof TransformRequestJson>;
type Status = TransformRequest["status"];
type ResultFormat = TransformRequest["result-format"];
type Destination = TransformRequest["result-destination"];

// docs/decisions.md D20: the client accepts only these three; rows adopted from an old upstream database may
// say "arrow" (the old default), which would fail the client's whole list call.
const CLIENT_FORMATS: readonly string[] = ["parquet", "root-file", "root-rntuple"] satisfies ResultFormat[];
const resultFormat = (f: string): ResultFormat =>
  CLIENT_FORMATS.includes(f) ? (f as ResultFormat) : "parquet";

export function requestJson(r: RequestRecord): TransformRequest {
  return {
    request_id: r.requestId,
    title: r.title,
    did: r.did,
    did_id: r.didId,
    selection: r.selection ?? "",
    "tree-name": r.treeName,
    image: r.image ?? "",
    workers: r.workers,
    // The column holds only these two (the submit schema's enum).
    "result-destination": r.resultDestination as Destination,
    "result-format": resultFormat(r.resultFormat),
    "generated-code-cm": r.generatedCodeCm ?? "",
    // The eight display names of docs/database.md.
    status: displayStatus(r.status) as Status,
    "failure-info": r.failureDescription,
    "app-version": r.appVersion ?? "",
    "code-gen-image": r.codeGenImage,
    files: r.files,
    "files-completed": r.filesCompleted,
    "files-failed": r.filesFailed,
    "files-remaining": filesRemaining(r),
    "submit-time": isoZ(r.submitTime),
    "finish-time": r.finishTime ? isoZ(r.finishTime) : "None",
  };
}

/** `GET /servicex/transformation`: `total` only when the caller asked for a page. */
export function requestListJson(
  rows: readonly RequestRecord[],
  total: number | undefined,
): z.infer<typeof RequestListResponse> {
  const out: z.infer<typeof RequestListResponse> = { requests: rows.map(requestJson) };
  if (total !== undefined) out.total = total;
  return out;
}

export interface ObjectStoreView {
  endpoint: string;
  secured: boolean;
  accessKey: string;
  secretKey: string;
}

/**
 * The object-store access given to owners of object-store requests (docs/object-store.md): the public
 * endpoint with the read-only public keys when the site configured them, otherwise the root keys, as upstream.
 */
export function publicObjectStoreView(config: Config): ObjectStoreView | null {
  const pub = config.objectStorePublic;
  if (!pub) return null;
  return {
    endpoint: pub.endpoint,
    secured: pub.secure,
    accessKey: config.MINIO_PUBLIC_ACCESS_KEY ?? config.MINIO_ACCESS_KEY ?? "",
    secretKey: config.MINIO_PUBLIC_ACCESS_KEY
      ? (config.MINIO_PUBLIC_SECRET_KEY ?? "")
      : (config.MINIO_SECRET_KEY ?? ""),
  };
}

/** `GET …/<id>`: the request plus object-store access and the log link when configured (docs/api.md). */
export function requestDetailJson(
  r: RequestRecord,
  extras: {
    objectStore: ObjectStoreView | null;
    /** The App's read-only S3 endpoint over local results (any destination: the files are local). */
    localResults?: ObjectStoreView | null;
    logsUrl: string | undefined;
  },
): TransformRequest {
  const out = requestJson(r);
  const view = extras.localResults ?? (r.resultDestination === "object-store" ? extras.objectStore : null);
  if (view) {
    out["minio-endpoint"] = view.endpoint;
    out["minio-secured"] = view.secured;
    out["minio-access-key"] = view.accessKey;
    out["minio-secret-key"] = view.secretKey;
  }
  if (extras.logsUrl) out["log-url"] = extras.logsUrl;
  return out;
}

/** How the caller reached the App: a local-results endpoint is given for the host and scheme they used. */
export interface Caller {
  headers: IncomingHttpHeaders;
  encrypted: boolean;
}

/** The polling call's presenter, shared by the Express route and the fast path (src/http/fastPath.ts). */
export type RequestDetailPresenter = (r: RequestRecord, caller: Caller) => TransformRequest;

/**
 * Builds the presenter of `GET …/<id>` for this configuration: object-store access for object-store requests,
 * or, with local results (no object store), the App's own read-only S3 endpoint with this request's key pair.
 */
export function requestDetailPresenter(
  config: Config,
  localS3: LocalS3 | null | undefined,
): RequestDetailPresenter {
  const objectStore = publicObjectStoreView(config);
  return (r, caller) =>
    requestDetailJson(r, {
      objectStore,
      localResults: localS3 ? localS3Access(localS3, r.requestId, caller) : null,
      logsUrl: config.LOGS_URL,
    });
}
