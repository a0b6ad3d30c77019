// The App's read-only S3 endpoint over local results (docs/local-results.md). The Python client downloads
// only through S3 (its MinIO adapter: botocore with endpoint_url = http(s)://<minio-endpoint>), so when the
// results are files in RESULTS_DIR (local transformers, no object store) the App serves them S3-style under
// /s3 on its own port: `minio-endpoint` is `<host:port>/s3` (botocore keeps an endpoint's path and addresses
// buckets path-style below it). Bucket = request id, key = object name.
//
// Served: ListBuckets (the key's one bucket), HeadBucket, GetBucketLocation, ListObjects (V1) and
// ListObjectsV2 (prefix, delimiter, start-after, continuation-token, max-keys ≤ 1000, encoding-type=url),
// GetObject/HeadObject (one byte range, If-Match/If-None-Match/If-(Un)Modified-Since, response-* overrides).
// Every request must be signed (SigV4 header or query, SigV2 header or query) with the key pair of the
// bucket's request; anything but GET/HEAD is 405, other sub-resources 501. Errors are S3's XML.
// Outside Express: no session, body parser or JSON errors apply here.
import { randomBytes } from "node:crypto";
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import type { LocalS3Keys } from "../adapters/localS3/keys.js";
import { REQUEST_ID } from "../adapters/localS3/keys.js";
import type { LocalResultFiles } from "../adapters/localS3/resultFiles.js";
import {
  parseQuery,
  presignGetV4,
  s3Encode,
  safeDecode,
  utf8Compare,
  verifySignature,
} from "../adapters/localS3/signing.js";
import type { AppDeps } from "./deps.js";

/** Mount point of the endpoint on the App's port. */
export const LOCAL_S3_PREFIX = "/s3";

export interface LocalS3 {
  keys: LocalS3Keys;
  files: LocalResultFiles;
  /** LOCAL_S3_PUBLIC_URL: what clients are told (`[http(s)://]host[:port][/path]`); unset: derived per call. */
  publicUrl: string | undefined;
}

/** Where a client reaches the endpoint: `minio-endpoint` (host[:port]/s3) and `minio-secured`. */
export function localS3Endpoint(
  ls3: LocalS3,
  caller: { headers: IncomingHttpHeaders; encrypted: boolean },
): { endpoint: string; secured: boolean } {
  const forwarded = caller.headers["x-forwarded-proto"] ?? caller.headers["x-scheme"];
  const proto = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(",")[0]?.trim().toLowerCase();
  const callerSecure = proto ? proto === "https" : caller.encrypted;
  if (ls3.publicUrl) {
    const m = /^(https?):\/\/(.*)$/i.exec(ls3.publicUrl);
    const rest = (m ? m[2]! : ls3.publicUrl).replace(/\/+$/, "");
    return { endpoint: rest, secured: m ? m[1]!.toLowerCase() === "https" : callerSecure };
  }
  const host = caller.headers.host || "localhost";
  return { endpoint: `${host}${LOCAL_S3_PREFIX}`, secured: callerSecure };
}

/** The minio-* fields of a request's status answer for local results. */
export function localS3Access(
  ls3: LocalS3,
  requestId: string,
  caller: { headers: IncomingHttpHeaders; encrypted: boolean },
): { endpoint: string; secured: boolean; accessKey: string; secretKey: string } {
  return { ...localS3Endpoint(ls3, caller), ...ls3.keys.forRequest(requestId) };
}

/** A SigV4 presigned GET URL of one result object (file-urls). */
export function presignLocalResult(
  ls3: LocalS3,
  requestId: string,
  key: string,
  expiresIn: number,
  caller: { headers: IncomingHttpHeaders; encrypted: boolean },
): string {
  const { endpoint, secured } = localS3Endpoint(ls3, caller);
  return presignGetV4({
    base: `${secured ? "https" : "http"}://${endpoint}`,
    path: `/${requestId}/${s3Encode(key, true)}`,
    credentials: ls3.keys.forRequest(requestId),
    expiresIn,
  });
}

export const isEncrypted = (req: IncomingMessage) => Boolean((req.socket as TLSSocket).encrypted);

const XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/";
const xml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!,
  );
const el = (name: string, value: string | number | boolean) => `<${name}>${xml(String(value))}</${name}>`;
const isoMs = (d: Date) => d.toISOString();

/** Sub-resources a read-only endpoint does not serve (any method). */
const UNSUPPORTED = new Set([
  "accelerate",
  "acl",
  "analytics",
  "attributes",
  "cors",
  "delete",
  "encryption",
  "intelligent-tiering",
  "inventory",
  "legal-hold",
  "lifecycle",
  "logging",
  "metrics",
  "notification",
  "object-lock",
  "ownershipControls",
  "policy",
  "policyStatus",
  "publicAccessBlock",
  "replication",
  "requestPayment",
  "restore",
  "retention",
  "select",
  "tagging",
  "torrent",
  "uploadId",
  "uploads",
  "versionId",
  "versioning",
  "versions",
  "website",
]);

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  resource: string;
}

function send(c: Ctx, status: number, body: string, headers: Record<string, string | number> = {}): void {
  const data = Buffer.from(body, "utf8");
  c.res.writeHead(status, {
    "x-amz-request-id": c.requestId,
    "access-control-allow-origin": "*",
    ...(body ? { "content-type": "application/xml" } : {}),
    "content-length": data.length,
    ...headers,
  });
  c.res.end(c.req.method === "HEAD" ? undefined : data);
}

function s3Error(
  c: Ctx,
  status: number,
  code: string,
  message: string,
  extra: Record<string, string | undefined> = {},
  headers: Record<string, string | number> = {},
): void {
  const fields = Object.entries(extra)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => el(k, v))
    .join("");
  send(
    c,
    status,
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error>${el("Code", code)}${el("Message", message)}${fields}${el("Resource", c.resource)}${el("RequestId", c.requestId)}</Error>`,
    headers,
  );
}

/** Returns a request handler that takes /s3 requests (true) and leaves the rest to the App (false). */
export function localS3Handler(deps: AppDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const ls3 = deps.localS3;
  if (!ls3) return () => false;
  return (req, res) => {
    const url = req.url ?? "";
    if (
      !(
        url === LOCAL_S3_PREFIX ||
        url.startsWith(`${LOCAL_S3_PREFIX}/`) ||
        url.startsWith(`${LOCAL_S3_PREFIX}?`)
      )
    ) {
      return false;
    }
    deps.metrics?.track(req, res, () => "/s3/*");
    const q = url.indexOf("?");
    const rawPath = q < 0 ? url : url.slice(0, q);
    const c: Ctx = {
      req,
      res,
      requestId: randomBytes(8).toString("hex").toUpperCase(),
      resource: safeDecode(rawPath.slice(LOCAL_S3_PREFIX.length)) ?? rawPath,
    };
    serve(deps, ls3, c, rawPath, q < 0 ? "" : url.slice(q + 1)).catch((err) => {
      deps.logger.error({ err, url: rawPath }, "local S3 request failed");
      if (!res.headersSent)
        s3Error(c, 500, "InternalError", "We encountered an internal error. Please try again.");
      else res.destroy();
    });
    return true;
  };
}

async function serve(deps: AppDeps, ls3: LocalS3, c: Ctx, rawPath: string, rawQuery: string): Promise<void> {
  const { req } = c;
  const method = req.method ?? "GET";
  if (method !== "GET" && method !== "HEAD") {
    // Read-only: nothing is written, whoever asks; the body (if any) is not read.
    return s3Error(
      c,
      405,
      "MethodNotAllowed",
      "The specified method is not allowed against this resource.",
      { Method: method, ResourceType: "OBJECT" },
      { allow: "GET, HEAD", connection: "close" },
    );
  }
  const below = rawPath.slice(LOCAL_S3_PREFIX.length);
  const auth = verifySignature(
    { method, rawPath, rawQuery, headers: req.headers, altPaths: below.startsWith("/") ? [below] : [] },
    (ak) => ls3.keys.secretFor(ak),
  );
  if (!auth.ok) {
    return s3Error(c, auth.status, auth.code, auth.message, {
      AWSAccessKeyId: auth.accessKey,
      StringToSign: auth.stringToSign,
      CanonicalRequest: auth.canonicalRequest,
    });
  }
  const ownRequest = ls3.keys.requestOf(auth.accessKey)!;
  const pairs = parseQuery(rawQuery) ?? [];
  const query = new Map(pairs);
  const unsupported = pairs.find(([k]) => UNSUPPORTED.has(k));
  if (unsupported) {
    return s3Error(
      c,
      501,
      "NotImplemented",
      `The ${unsupported[0]} sub-resource is not served by this read-only endpoint.`,
    );
  }

  const parts = below.replace(/^\/+/, "").split("/");
  const bucket = safeDecode(parts[0] ?? "");
  const rawKey = parts.slice(1).join("/");
  const key = safeDecode(rawKey);
  if (bucket === null || key === null)
    return s3Error(c, 400, "InvalidURI", "Couldn't parse the specified URI.");

  if (bucket === "") {
    // ListBuckets: the one bucket this key pair opens, when its request exists.
    const rec = await deps.repos.requests.find(ownRequest);
    const buckets = rec
      ? `<Bucket>${el("Name", rec.requestId)}${el("CreationDate", isoMs(rec.submitTime))}</Bucket>`
      : "";
    return send(
      c,
      200,
      `<?xml version="1.0" encoding="UTF-8"?>\n<ListAllMyBucketsResult xmlns="${XMLNS}"><Owner>${el("ID", auth.accessKey)}${el("DisplayName", auth.accessKey)}</Owner><Buckets>${buckets}</Buckets></ListAllMyBucketsResult>`,
    );
  }
  // A key pair opens its own request's bucket only.
  if (bucket !== ownRequest) return s3Error(c, 403, "AccessDenied", "Access Denied");
  const rec = REQUEST_ID.test(bucket) ? await deps.repos.requests.find(bucket) : null;
  if (!rec || rec.requestId !== bucket) {
    return s3Error(c, 404, "NoSuchBucket", "The specified bucket does not exist", { BucketName: bucket });
  }

  if (rawKey === "") {
    if (method === "HEAD") return send(c, 200, "", { "x-amz-bucket-region": "us-east-1" });
    if (query.has("location")) {
      return send(c, 200, `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="${XMLNS}"/>`);
    }
    return listObjects(ls3, c, bucket, query);
  }
  return getObject(ls3, c, bucket, key, query);
}

async function listObjects(ls3: LocalS3, c: Ctx, bucket: string, q: Map<string, string>): Promise<void> {
  const v2 = q.get("list-type") === "2";
  if (q.has("list-type") && !v2) return s3Error(c, 400, "InvalidArgument", "Invalid List Type");
  const prefix = q.get("prefix") ?? "";
  const delimiter = q.get("delimiter") ?? "";
  const encode = q.get("encoding-type");
  if (encode !== undefined && encode !== "url") {
    return s3Error(c, 400, "InvalidArgument", "Invalid Encoding Method specified in Request", {
      ArgumentName: "encoding-type",
      ArgumentValue: encode,
    });
  }
  const maxText = q.get("max-keys");
  if (maxText !== undefined && !/^\d{1,10}$/.test(maxText)) {
    return s3Error(c, 400, "InvalidArgument", "Provided max-keys not an integer or within integer range", {
      ArgumentName: "max-keys",
      ArgumentValue: maxText,
    });
  }
  const maxKeys = Math.min(1000, maxText === undefined ? 1000 : Number(maxText));
  const token = q.get("continuation-token");
  let after = "";
  if (v2 && token !== undefined) {
    const decoded = /^[A-Za-z0-9_-]+$/.test(token) ? Buffer.from(token, "base64url").toString("utf8") : "";
    if (!decoded.startsWith("k:")) {
      return s3Error(c, 400, "InvalidArgument", "The continuation token provided is incorrect", {
        ArgumentName: "continuation-token",
      });
    }
    after = decoded.slice(2);
  } else if (v2) {
    after = q.get("start-after") ?? "";
  } else {
    after = q.get("marker") ?? "";
  }
  const enc = (s: string) => (encode === "url" ? s3Encode(s, true) : s);

  const all = await ls3.files.keys(bucket);
  const page: string[] = [];
  const prefixes: string[] = [];
  let truncated = false;
  let last = "";
  // Keys are sorted: start at the first one after both the prefix and the marker (binary search), stop at
  // the first one past the prefix.
  const from = after && utf8Compare(after, prefix) > 0 ? after : prefix;
  let lo = 0;
  let hi = all.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const c = utf8Compare(all[mid]!, from);
    if (c < 0 || (c === 0 && from === after)) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < all.length; i++) {
    const key = all[i]!;
    if (!key.startsWith(prefix)) break;
    let common: string | null = null;
    if (delimiter) {
      const i = key.indexOf(delimiter, prefix.length);
      if (i >= 0) common = key.slice(0, i + delimiter.length);
    }
    // A common prefix already returned (here, or as the last entry before a continuation) covers its keys.
    if (common !== null && (common === prefixes.at(-1) || common === after)) continue;
    if (page.length + prefixes.length >= maxKeys) {
      truncated = true;
      break;
    }
    if (common !== null) {
      prefixes.push(common);
      last = common;
    } else {
      page.push(key);
      last = key;
    }
  }
  const files = await ls3.files.describeMany(bucket, page);
  const contents = files
    .map(
      (f) =>
        `<Contents>${el("Key", enc(f.key))}${el("LastModified", isoMs(f.lastModified))}${el("ETag", f.etag)}${el("Size", f.size)}${
          v2 && q.get("fetch-owner") !== "true"
            ? ""
            : "<Owner><ID>servicex</ID><DisplayName>servicex</DisplayName></Owner>"
        }${el("StorageClass", "STANDARD")}</Contents>`,
    )
    .join("");
  const common = prefixes.map((p) => `<CommonPrefixes>${el("Prefix", enc(p))}</CommonPrefixes>`).join("");
  const head = [el("Name", bucket), el("Prefix", enc(prefix))];
  if (v2) {
    if (q.has("start-after")) head.push(el("StartAfter", enc(q.get("start-after")!)));
    if (token !== undefined) head.push(el("ContinuationToken", token));
    if (truncated)
      head.push(el("NextContinuationToken", Buffer.from(`k:${last}`, "utf8").toString("base64url")));
    head.push(el("KeyCount", files.length + prefixes.length));
  } else {
    head.push(el("Marker", enc(q.get("marker") ?? "")));
    if (truncated && delimiter) head.push(el("NextMarker", enc(last)));
  }
  head.push(el("MaxKeys", maxKeys));
  if (delimiter) head.push(el("Delimiter", enc(delimiter)));
  if (encode) head.push(el("EncodingType", encode));
  head.push(el("IsTruncated", truncated));
  return send(
    c,
    200,
    `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="${XMLNS}">${head.join("")}${contents}${common}</ListBucketResult>`,
  );
}

const RESPONSE_OVERRIDES: Record<string, string> = {
  "response-content-type": "content-type",
  "response-content-disposition": "content-disposition",
  "response-content-language": "content-language",
  "response-content-encoding": "content-encoding",
  "response-cache-control": "cache-control",
  "response-expires": "expires",
};

function etagMatches(list: string, etag: string): boolean {
  return list
    .split(",")
    .map((s) => s.trim().replace(/^W\//, ""))
    .some((s) => s === "*" || s === etag || `"${s}"` === etag);
}

async function getObject(
  ls3: LocalS3,
  c: Ctx,
  bucket: string,
  key: string,
  q: Map<string, string>,
): Promise<void> {
  const { req, res } = c;
  const file = await ls3.files.open(bucket, key);
  if (!file) return s3Error(c, 404, "NoSuchKey", "The specified key does not exist.", { Key: key });
  const { handle } = file;
  let streaming = false;
  try {
    const lastModified = new Date(Math.floor(file.lastModified.getTime() / 1000) * 1000);
    const base: Record<string, string | number> = {
      etag: file.etag,
      "last-modified": lastModified.toUTCString(),
      "accept-ranges": "bytes",
    };
    const h = req.headers;
    const ifMatch = h["if-match"];
    const ifNoneMatch = h["if-none-match"];
    const since = (v: string | undefined) => (v === undefined ? Number.NaN : Date.parse(v));
    if (ifMatch !== undefined && !etagMatches(ifMatch, file.etag)) {
      return s3Error(
        c,
        412,
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold",
        {
          Condition: "If-Match",
        },
      );
    }
    const unmodifiedSince = since(h["if-unmodified-since"]);
    if (ifMatch === undefined && !Number.isNaN(unmodifiedSince) && lastModified.getTime() > unmodifiedSince) {
      return s3Error(
        c,
        412,
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold",
        {
          Condition: "If-Unmodified-Since",
        },
      );
    }
    const modifiedSince = since(h["if-modified-since"]);
    if (
      (ifNoneMatch !== undefined && etagMatches(ifNoneMatch, file.etag)) ||
      (ifNoneMatch === undefined && !Number.isNaN(modifiedSince) && lastModified.getTime() <= modifiedSince)
    ) {
      res.writeHead(304, { ...base, "x-amz-request-id": c.requestId, "access-control-allow-origin": "*" });
      res.end();
      return;
    }

    let start = 0;
    let end = file.size - 1;
    let status = 200;
    const range = h.range;
    if (range !== undefined) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      // One range only (as S3); anything else is ignored and the whole object is sent.
      if (m && (m[1] !== "" || m[2] !== "")) {
        if (m[1] === "") {
          start = Math.max(0, file.size - Number(m[2]));
        } else {
          start = Number(m[1]);
          if (m[2] !== "") end = Math.min(end, Number(m[2]));
        }
        if (
          start >= file.size ||
          (m[1] !== "" && m[2] !== "" && Number(m[2]) < start) ||
          (m[1] === "" && Number(m[2]) === 0)
        ) {
          return s3Error(
            c,
            416,
            "InvalidRange",
            "The requested range is not satisfiable",
            { RangeRequested: range, ActualObjectSize: String(file.size) },
            { "content-range": `bytes */${file.size}` },
          );
        }
        status = 206;
      }
    }
    const headers: Record<string, string | number> = {
      ...base,
      "content-type": "application/octet-stream",
      "content-length": Math.max(0, end - start + 1),
      "x-amz-request-id": c.requestId,
      "access-control-allow-origin": "*",
      ...(status === 206 ? { "content-range": `bytes ${start}-${end}/${file.size}` } : {}),
    };
    for (const [param, header] of Object.entries(RESPONSE_OVERRIDES)) {
      const v = q.get(param);
      if (v !== undefined && !/[\r\n]/.test(v)) headers[header] = v;
    }
    res.writeHead(status, headers);
    if (req.method === "HEAD" || file.size === 0) {
      res.end();
      return;
    }
    streaming = true;
    const stream = handle.createReadStream({ start, end, autoClose: true });
    stream.on("error", () => res.destroy());
    res.on("close", () => stream.destroy());
    stream.pipe(res);
  } finally {
    if (!streaming) await handle.close();
  }
}
