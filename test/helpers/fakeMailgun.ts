// A local stand-in for the Mailgun messages API: POST /v3/<domain>/messages with basic auth api:<key>
// answers 200 {"id": "<…@domain>", "message": "Queued. Thank you."}; a wrong key gets 401 "Forbidden" and
// other paths 404, like the real API. Requests are recorded as received, with the multipart/form-data
// (what mailgun.js sends) parsed into fields and parts. busboy is not installed, so the parser is here.
import { randomBytes } from "node:crypto";
import { type Answer, addField, type RecordedHttpRequest, RecordingHttpServer } from "./fakeSlack.js";

export type { HttpFault, RecordedHttpRequest } from "./fakeSlack.js";

export interface MultipartPart {
  name: string;
  filename?: string;
  contentType?: string;
  headers: Record<string, string>;
  data: Buffer;
}

/** Splits a multipart/form-data body (RFC 7578) into its parts. */
export function parseMultipart(body: Buffer, boundary: string): MultipartPart[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: MultipartPart[] = [];
  let pos = body.indexOf(delimiter);
  if (pos < 0) throw new Error("multipart body without its boundary");
  for (;;) {
    pos += delimiter.length;
    if (body.subarray(pos, pos + 2).toString() === "--") break; // closing delimiter
    if (body.subarray(pos, pos + 2).toString() !== "\r\n") throw new Error("malformed multipart delimiter");
    pos += 2;
    const next = body.indexOf(Buffer.concat([Buffer.from("\r\n"), delimiter]), pos);
    if (next < 0) throw new Error("multipart body not terminated");
    const part = body.subarray(pos, next);
    const headerEnd = part.indexOf("\r\n\r\n");
    if (headerEnd < 0) throw new Error("multipart part without header block");
    const headers: Record<string, string> = {};
    for (const line of part.subarray(0, headerEnd).toString("utf8").split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const disposition = headers["content-disposition"] ?? "";
    const name = /\bname="([^"]*)"/.exec(disposition)?.[1];
    if (name === undefined) throw new Error("multipart part without a name");
    const filename = /\bfilename="([^"]*)"/.exec(disposition)?.[1];
    parts.push({
      name,
      ...(filename !== undefined ? { filename } : {}),
      ...(headers["content-type"] ? { contentType: headers["content-type"] } : {}),
      headers,
      data: part.subarray(headerEnd + 4),
    });
    pos = next + 2;
  }
  return parts;
}

export interface MailgunRequest extends RecordedHttpRequest {
  /** Decoded basic auth, when present. */
  auth?: { username: string; password: string };
  parts?: MultipartPart[];
  /** Why the multipart body could not be parsed (the request is still answered). */
  multipartError?: string;
}

export class FakeMailgun extends RecordingHttpServer {
  declare readonly requests: MailgunRequest[];

  /** @param apiKey when set, requests must authenticate as api:<apiKey>. */
  constructor(private readonly apiKey?: string) {
    super();
  }

  /** Recorded POSTs to /v3/<domain>/messages. */
  messages(domain?: string): MailgunRequest[] {
    return this.requests.filter((r) =>
      domain === undefined ? /^\/v3\/[^/]+\/messages$/.test(r.path) : r.path === `/v3/${domain}/messages`,
    );
  }

  protected override enrich(req: MailgunRequest): void {
    const auth = /^Basic (.+)$/i.exec(String(req.headers.authorization ?? ""));
    if (auth) {
      const decoded = Buffer.from(auth[1]!, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      req.auth = { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    const contentType = String(req.headers["content-type"] ?? "");
    const boundary = /^multipart\/form-data;.*\bboundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
    if (!boundary) return;
    try {
      req.parts = parseMultipart(req.rawBody, (boundary[1] ?? boundary[2])!);
    } catch (err) {
      req.multipartError = (err as Error).message;
      return;
    }
    req.form = {};
    for (const p of req.parts) addField(req.form, p.name, p.data.toString("utf8"));
  }

  protected answer(req: MailgunRequest): Answer {
    const m = /^\/v3\/([^/]+)\/messages$/.exec(req.path);
    if (req.method !== "POST" || !m) return { status: 404, body: "404 page not found" };
    if (this.apiKey !== undefined && (req.auth?.username !== "api" || req.auth.password !== this.apiKey)) {
      return { status: 401, body: "Forbidden" };
    }
    const id = `<${new Date().toISOString().replace(/\D/g, "").slice(0, 14)}.${randomBytes(6).toString("hex")}@${m[1]}>`;
    return {
      status: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id, message: "Queued. Thank you." }),
    };
  }
}
