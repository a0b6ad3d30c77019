// Wire JSON of a transform request (docs/database.md, docs/decisions.md D20). The quirks are on purpose: `finish-time` is the
// string "None" when unset, `files-remaining` is null while no file is known.
import type { RequestRecord } from "../../adapters/repositories/requests.repo.js";
import { displayStatus } from "../../domain/status.js";
import { isoZ } from "./time.js";

export function filesRemaining(
  r: Pick<RequestRecord, "files" | "filesCompleted" | "filesFailed">,
): number | null {
  return r.files ? r.files - r.filesCompleted - r.filesFailed : null;
}

export function requestJson(r: RequestRecord): Record<string, unknown> {
  return {
    request_id: r.requestId,
    title: r.title,
    did: r.did,
    did_id: r.didId,
    selection: r.selection ?? "",
    "tree-name": r.treeName,
    image: r.image ?? "",
    workers: r.workers,
    "result-destination": r.resultDestination,
    // docs/decisions.md D20: the client accepts only these three; rows adopted from an old upstream database may say
    // "arrow" (the old default), which would fail the client's whole list call.
    "result-format": ["parquet", "root-file", "root-rntuple"].includes(r.resultFormat)
      ? r.resultFormat
      : "parquet",
    "generated-code-cm": r.generatedCodeCm ?? "",
    status: displayStatus(r.status),
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

export interface ObjectStoreView {
  endpoint: string;
  secured: boolean;
  accessKey: string;
  secretKey: string;
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
): Record<string, unknown> {
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
