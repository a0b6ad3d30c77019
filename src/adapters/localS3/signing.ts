// AWS request signing for the App's read-only S3 endpoint over local results (docs/local-results.md):
// verification of Signature Version 4 (Authorization header and presigned query) and of Signature Version 2
// (header and presigned query; botocore's generate_presigned_url still produces v2 URLs for S3, which is what
// the Python client's `Delivery: URLs` hands out), and SigV4 presigning for `file-urls`.
//
// Only what a GET/HEAD needs: the payload hash is the one the client declares (x-amz-content-sha256, or
// UNSIGNED-PAYLOAD for presigned URLs); bodies are never read.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/** SigV4 presigned URLs live at most one week. */
export const MAX_V4_EXPIRY_SECONDS = 7 * 24 * 3600;
/** Largest clock difference accepted for header-signed requests (S3's). */
const MAX_SKEW_MS = 15 * 60 * 1000;

export interface SigningCredentials {
  accessKey: string;
  secretKey: string;
}

/** What a signature is checked against: the request exactly as received. */
export interface ReceivedRequest {
  method: string;
  /** The path as sent (still percent-encoded), without the query. */
  rawPath: string;
  /** The query as sent, without "?" ("" when none). */
  rawQuery: string;
  headers: IncomingHttpHeaders;
  /**
   * Other paths the client may have signed for the same resource (e.g. without the mount prefix). The
   * resource served is always decided from rawPath.
   */
  altPaths?: string[];
}

export type VerifyFailure = {
  ok: false;
  status: number;
  code:
    | "AccessDenied"
    | "InvalidAccessKeyId"
    | "SignatureDoesNotMatch"
    | "RequestTimeTooSkewed"
    | "AuthorizationQueryParametersError"
    | "InvalidArgument";
  message: string;
  accessKey?: string;
  stringToSign?: string;
  canonicalRequest?: string;
};
export type VerifyResult = { ok: true; accessKey: string } | VerifyFailure;

/** S3's URI encoding: every byte but A-Z a-z 0-9 - _ . ~ is %XX (upper case); "/" kept when asked. */
export function s3Encode(s: string, keepSlash = false): string {
  const out = encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return keepSlash ? out.replace(/%2F/g, "/") : out;
}

/** decodeURIComponent that answers null for malformed escapes instead of throwing. */
export function safeDecode(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/** The query's pairs, decoded ("+" stays "+", as S3 reads it), in order. Null when an escape is malformed. */
export function parseQuery(rawQuery: string): Array<[string, string]> | null {
  if (rawQuery === "") return [];
  const out: Array<[string, string]> = [];
  for (const part of rawQuery.split("&")) {
    if (part === "") continue;
    const i = part.indexOf("=");
    const k = safeDecode(i < 0 ? part : part.slice(0, i));
    const v = safeDecode(i < 0 ? "" : part.slice(i + 1));
    if (k === null || v === null) return null;
    out.push([k, v]);
  }
  return out;
}

const sha256hex = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");
const hmac = (key: Buffer | string, data: string) => createHmac("sha256", key).update(data, "utf8").digest();

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Byte order of the UTF-8 encodings (S3's ordering of keys and query parameters). */
export function utf8Compare(a: string, b: string): number {
  if (a === b) return 0;
  // Without surrogates (characters beyond U+FFFF), UTF-16 code-unit order is UTF-8 byte order.
  if (!SURROGATE.test(a) && !SURROGATE.test(b)) return a < b ? -1 : 1;
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}
const SURROGATE = /[\uD800-\uDFFF]/;

/** The path re-encoded segment by segment with S3's rules (what SDKs sign), or null if malformed. */
function normalisedPath(rawPath: string): string | null {
  const segs = rawPath.split("/").map(safeDecode);
  if (segs.some((s) => s === null)) return null;
  return (segs as string[]).map((s) => s3Encode(s)).join("/");
}

/** Distinct canonical-URI candidates: as sent, and re-encoded (clients differ in what they escape). */
function pathCandidates(req: ReceivedRequest): string[] {
  const out: string[] = [];
  for (const p of [req.rawPath, ...(req.altPaths ?? [])]) {
    for (const c of [p, normalisedPath(p)]) if (c !== null && !out.includes(c)) out.push(c);
  }
  return out;
}

function canonicalQuery(pairs: Array<[string, string]>, skip: string): string {
  return pairs
    .filter(([k]) => k !== skip)
    .map(([k, v]) => [s3Encode(k), s3Encode(v)] as const)
    .sort((a, b) => utf8Compare(a[0], b[0]) || utf8Compare(a[1], b[1]))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return (Array.isArray(v) ? v.join(",") : v).trim().replace(/\s+/g, " ");
}

/** `20250102T030405Z` → epoch ms, or null. */
function parseAmzDate(s: string | undefined): number | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s ?? "");
  if (!m) return null;
  const t = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  return Number.isNaN(t) ? null : t;
}

function amzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
}

function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), "aws4_request");
}

const denied = (
  code: VerifyFailure["code"],
  message: string,
  extra: Partial<VerifyFailure> = {},
): VerifyFailure => ({
  ok: false,
  status: code === "AuthorizationQueryParametersError" || code === "InvalidArgument" ? 400 : 403,
  code,
  message,
  ...extra,
});

const MISMATCH =
  "The request signature we calculated does not match the signature you provided. Check your key and signing method.";

interface V4Parts {
  accessKey: string;
  date: string;
  region: string;
  service: string;
  terminator: string;
  signedHeaders: string[];
  signature: string;
  amzDate: string;
  payloadHash: string;
  /** Query parameter left out of the canonical query (the signature itself), or "" for header auth. */
  skip: string;
}

function checkV4(
  req: ReceivedRequest,
  pairs: Array<[string, string]>,
  p: V4Parts,
  secretFor: (accessKey: string) => string | null,
): VerifyResult {
  const secret = secretFor(p.accessKey);
  if (secret === null) {
    return denied("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", {
      accessKey: p.accessKey,
    });
  }
  if (p.service !== "s3" || p.terminator !== "aws4_request" || p.amzDate.slice(0, 8) !== p.date) {
    return denied("SignatureDoesNotMatch", MISMATCH, { accessKey: p.accessKey });
  }
  const scope = `${p.date}/${p.region}/${p.service}/${p.terminator}`;
  const headerLines: string[] = [];
  for (const h of p.signedHeaders) {
    const v = headerValue(req.headers, h);
    if (v === undefined) return denied("SignatureDoesNotMatch", MISMATCH, { accessKey: p.accessKey });
    headerLines.push(`${h}:${v}`);
  }
  const key = signingKey(secret, p.date, p.region, p.service);
  const query = canonicalQuery(pairs, p.skip);
  let first: { canonicalRequest: string; stringToSign: string } | undefined;
  for (const path of pathCandidates(req)) {
    const canonicalRequest = [
      req.method.toUpperCase(),
      path,
      query,
      `${headerLines.join("\n")}\n`,
      p.signedHeaders.join(";"),
      p.payloadHash,
    ].join("\n");
    const stringToSign = `AWS4-HMAC-SHA256\n${p.amzDate}\n${scope}\n${sha256hex(canonicalRequest)}`;
    first ??= { canonicalRequest, stringToSign };
    if (sameText(createHmac("sha256", key).update(stringToSign, "utf8").digest("hex"), p.signature)) {
      return { ok: true, accessKey: p.accessKey };
    }
  }
  return denied("SignatureDoesNotMatch", MISMATCH, { accessKey: p.accessKey, ...first });
}

const V2_SUBRESOURCES = new Set([
  "acl",
  "cors",
  "delete",
  "lifecycle",
  "location",
  "logging",
  "notification",
  "partNumber",
  "policy",
  "requestPayment",
  "response-cache-control",
  "response-content-disposition",
  "response-content-encoding",
  "response-content-language",
  "response-content-type",
  "response-expires",
  "restore",
  "tagging",
  "torrent",
  "uploadId",
  "uploads",
  "versionId",
  "versioning",
  "versions",
  "website",
]);

function checkV2(
  req: ReceivedRequest,
  pairs: Array<[string, string]>,
  accessKey: string,
  signature: string,
  dateLine: string,
  secretFor: (accessKey: string) => string | null,
): VerifyResult {
  const secret = secretFor(accessKey);
  if (secret === null) {
    return denied("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", {
      accessKey,
    });
  }
  const amz = Object.keys(req.headers)
    .filter((h) => h.startsWith("x-amz-"))
    .sort()
    .map((h) => `${h}:${headerValue(req.headers, h)}\n`)
    .join("");
  const sub = pairs
    .filter(([k]) => V2_SUBRESOURCES.has(k))
    .sort((a, b) => utf8Compare(a[0], b[0]))
    .map(([k, v]) => (v === "" ? k : `${k}=${v}`))
    .join("&");
  const head = [
    req.method.toUpperCase(),
    headerValue(req.headers, "content-md5") ?? "",
    headerValue(req.headers, "content-type") ?? "",
    dateLine,
  ].join("\n");
  let first: string | undefined;
  for (const path of [req.rawPath, ...(req.altPaths ?? [])]) {
    const stringToSign = `${head}\n${amz}${path}${sub ? `?${sub}` : ""}`;
    first ??= stringToSign;
    const expected = createHmac("sha1", secret).update(stringToSign, "utf8").digest("base64");
    if (sameText(expected, signature)) return { ok: true, accessKey };
  }
  return denied("SignatureDoesNotMatch", MISMATCH, { accessKey, stringToSign: first });
}

/**
 * Checks the request's signature (any of the four forms) with the secret of the access key it names.
 * `secretFor` answers null for an unknown key. Anonymous requests are refused.
 */
export function verifySignature(
  req: ReceivedRequest,
  secretFor: (accessKey: string) => string | null,
  now = Date.now(),
): VerifyResult {
  const pairs = parseQuery(req.rawQuery);
  if (pairs === null) return denied("InvalidArgument", "The query string is not correctly encoded.");
  const q = new Map(pairs);
  const auth = headerValue(req.headers, "authorization");

  if (q.has("X-Amz-Algorithm") || q.has("X-Amz-Signature")) {
    if (auth !== undefined) {
      return denied(
        "InvalidArgument",
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified",
      );
    }
    const cred = (q.get("X-Amz-Credential") ?? "").split("/");
    const date = q.get("X-Amz-Date");
    const expires = Number(q.get("X-Amz-Expires"));
    const signature = q.get("X-Amz-Signature");
    const signed = q.get("X-Amz-SignedHeaders");
    if (
      q.get("X-Amz-Algorithm") !== "AWS4-HMAC-SHA256" ||
      cred.length !== 5 ||
      !signature ||
      !signed ||
      !Number.isInteger(expires)
    ) {
      return denied(
        "AuthorizationQueryParametersError",
        "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
      );
    }
    const t = parseAmzDate(date);
    if (t === null)
      return denied(
        "AuthorizationQueryParametersError",
        "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
      );
    if (expires < 1 || expires > MAX_V4_EXPIRY_SECONDS) {
      return denied(
        "AuthorizationQueryParametersError",
        "X-Amz-Expires must be between 1 and 604800 seconds",
      );
    }
    if (now > t + expires * 1000) return denied("AccessDenied", "Request has expired");
    if (t - now > MAX_SKEW_MS) return denied("AccessDenied", "Request is not valid yet");
    return checkV4(
      req,
      pairs,
      {
        accessKey: cred[0]!,
        date: cred[1]!,
        region: cred[2]!,
        service: cred[3]!,
        terminator: cred[4]!,
        signedHeaders: signed.split(";"),
        signature,
        amzDate: date!,
        payloadHash: q.get("X-Amz-Content-Sha256") ?? "UNSIGNED-PAYLOAD",
        skip: "X-Amz-Signature",
      },
      secretFor,
    );
  }

  if (q.has("AWSAccessKeyId") || (q.has("Signature") && q.has("Expires"))) {
    const accessKey = q.get("AWSAccessKeyId") ?? "";
    const signature = q.get("Signature") ?? "";
    const expiresText = q.get("Expires") ?? "";
    if (!accessKey || !signature || !/^\d{1,12}$/.test(expiresText)) {
      return denied(
        "AccessDenied",
        "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
      );
    }
    if (now > Number(expiresText) * 1000) return denied("AccessDenied", "Request has expired");
    return checkV2(req, pairs, accessKey, signature, expiresText, secretFor);
  }

  if (auth === undefined) return denied("AccessDenied", "Access Denied");

  if (auth.startsWith("AWS4-HMAC-SHA256 ")) {
    const fields = new Map<string, string>();
    for (const part of auth.slice("AWS4-HMAC-SHA256 ".length).split(",")) {
      const i = part.indexOf("=");
      if (i > 0) fields.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
    }
    const cred = (fields.get("Credential") ?? "").split("/");
    const signature = fields.get("Signature");
    const signed = fields.get("SignedHeaders");
    const date = headerValue(req.headers, "x-amz-date");
    if (cred.length !== 5 || !signature || !signed) {
      return denied("AccessDenied", "The authorization header is malformed");
    }
    const t = parseAmzDate(date);
    if (t === null)
      return denied("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header");
    if (Math.abs(now - t) > MAX_SKEW_MS) {
      return denied(
        "RequestTimeTooSkewed",
        "The difference between the request time and the current time is too large.",
      );
    }
    return checkV4(
      req,
      pairs,
      {
        accessKey: cred[0]!,
        date: cred[1]!,
        region: cred[2]!,
        service: cred[3]!,
        terminator: cred[4]!,
        signedHeaders: signed.split(";"),
        signature,
        amzDate: date!,
        payloadHash: headerValue(req.headers, "x-amz-content-sha256") ?? EMPTY_SHA256,
        skip: "",
      },
      secretFor,
    );
  }

  const v2 = /^AWS ([^:\s]+):(\S+)$/.exec(auth);
  if (v2) {
    const amzDateHeader = headerValue(req.headers, "x-amz-date");
    const dateHeader = headerValue(req.headers, "date");
    const t = Date.parse(amzDateHeader ?? dateHeader ?? "");
    if (Number.isNaN(t))
      return denied("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header");
    if (Math.abs(now - t) > MAX_SKEW_MS) {
      return denied(
        "RequestTimeTooSkewed",
        "The difference between the request time and the current time is too large.",
      );
    }
    // With x-amz-date, the Date line of the string to sign is empty (the header is signed among x-amz-*).
    return checkV2(
      req,
      pairs,
      v2[1]!,
      v2[2]!,
      amzDateHeader !== undefined ? "" : (dateHeader ?? ""),
      secretFor,
    );
  }
  return denied("AccessDenied", "Unsupported authorization type");
}

/**
 * A SigV4 presigned GET URL (query authentication, only `host` signed, UNSIGNED-PAYLOAD), as the AWS SDKs
 * make them. `base` is scheme://host[:port][/prefix]; `path` the encoded path below it ("/bucket/key").
 */
export function presignGetV4(opts: {
  base: string;
  path: string;
  credentials: SigningCredentials;
  expiresIn: number;
  region?: string;
  now?: number;
}): string {
  const url = new URL(opts.base);
  const region = opts.region ?? "us-east-1";
  const date = amzDate(opts.now ?? Date.now());
  const scopeDate = date.slice(0, 8);
  const fullPath = `${url.pathname.replace(/\/+$/, "")}${opts.path}`;
  const params: Array<[string, string]> = [
    ["X-Amz-Algorithm", "AWS4-HMAC-SHA256"],
    ["X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"],
    ["X-Amz-Credential", `${opts.credentials.accessKey}/${scopeDate}/${region}/s3/aws4_request`],
    ["X-Amz-Date", date],
    ["X-Amz-Expires", String(Math.min(MAX_V4_EXPIRY_SECONDS, Math.max(1, Math.floor(opts.expiresIn))))],
    ["X-Amz-SignedHeaders", "host"],
  ];
  const query = canonicalQuery(params, "");
  const canonicalRequest = ["GET", fullPath, query, `host:${url.host}\n`, "host", "UNSIGNED-PAYLOAD"].join(
    "\n",
  );
  const stringToSign = `AWS4-HMAC-SHA256\n${date}\n${scopeDate}/${region}/s3/aws4_request\n${sha256hex(canonicalRequest)}`;
  const signature = createHmac("sha256", signingKey(opts.credentials.secretKey, scopeDate, region, "s3"))
    .update(stringToSign, "utf8")
    .digest("hex");
  return `${url.protocol}//${url.host}${fullPath}?${query}&X-Amz-Signature=${signature}`;
}
