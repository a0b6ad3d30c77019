// A local stand-in for Slack's incoming webhooks and interaction response URLs: any POST is answered
// 200 "ok" (what Slack answers), and every request is recorded exactly as received (method, path, headers,
// raw body, plus the parsed JSON or form fields). Failures (status, delay, dropped connection) can be queued.
// Also builds signed interactivity requests for tests of POST /slack.
//
// RecordingHttpServer is shared with fakeMailgun.ts.
import { createHmac } from "node:crypto";
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedHttpRequest {
  method: string;
  /** Path and query as sent. */
  path: string;
  /** Header names lower-cased by Node. */
  headers: IncomingHttpHeaders;
  /** Header names and values exactly as sent, alternating. */
  rawHeaders: string[];
  rawBody: Buffer;
  /** rawBody decoded as UTF-8. */
  text: string;
  /** Parsed when the Content-Type is JSON (undefined when it does not parse). */
  json?: unknown;
  /** Form fields (application/x-www-form-urlencoded or multipart/form-data), each name → all its values. */
  form?: Record<string, string[]>;
  /** The status this fake answered (undefined when it dropped the connection). */
  answeredStatus?: number;
}

export interface HttpFault {
  /** Answer this status instead of handling the request. */
  status?: number;
  /** Body sent with `status` (default: a short text). */
  body?: string;
  /** Wait before answering (applies to a normal answer too when no status is given). */
  delayMs?: number;
  /** Destroy the socket without answering (a network error for the client). */
  dropConnection?: boolean;
  /** How many requests this fault applies to (default 1; Infinity for every one). */
  times?: number;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

/** Appends a value to a multi-valued form field. */
export function addField(form: Record<string, string[]>, name: string, value: string): void {
  const values = form[name];
  if (values) values.push(value);
  else form[name] = [value];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export abstract class RecordingHttpServer {
  readonly requests: RecordedHttpRequest[] = [];
  private faults: Array<HttpFault & { left: number }> = [];
  private server: Server | null = null;
  private waiters: Array<{ n: number; resolve: () => void }> = [];
  url = "";

  /** Produces the normal answer for a recorded request. */
  protected abstract answer(req: RecordedHttpRequest): Answer;
  /** Adds what a subclass knows how to decode (multipart fields, auth) before the request is recorded. */
  protected enrich(_req: RecordedHttpRequest): void {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => void this.handle(req, Buffer.concat(chunks), res));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = null;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Queues a fault for the next request(s); faults apply in the order they were queued. */
  fail(fault: HttpFault): this {
    this.faults.push({ ...fault, left: fault.times ?? 1 });
    return this;
  }

  reset(): void {
    this.requests.length = 0;
    this.faults = [];
  }

  /** Resolves once at least `n` requests have been recorded. */
  waitForRequests(n: number, timeoutMs = 5_000): Promise<void> {
    if (this.requests.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`expected ${n} requests, got ${this.requests.length}`)),
        timeoutMs,
      );
      this.waiters.push({
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  private async handle(req: IncomingMessage, rawBody: Buffer, res: ServerResponse): Promise<void> {
    const contentType = req.headers["content-type"] ?? "";
    const text = rawBody.toString("utf8");
    const rec: RecordedHttpRequest = {
      method: req.method ?? "",
      path: req.url ?? "",
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      rawBody,
      text,
    };
    if (/^application\/json/i.test(contentType)) {
      try {
        rec.json = JSON.parse(text);
      } catch {
        rec.json = undefined;
      }
    }
    if (/^application\/x-www-form-urlencoded/i.test(contentType)) {
      rec.form = {};
      for (const [k, v] of new URLSearchParams(text)) addField(rec.form, k, v);
    }
    this.enrich(rec);
    this.requests.push(rec);
    this.waiters = this.waiters.filter((w) => {
      if (this.requests.length < w.n) return true;
      w.resolve();
      return false;
    });

    const fault = this.faults.find((f) => f.left > 0);
    if (fault) {
      fault.left -= 1;
      this.faults = this.faults.filter((f) => f.left > 0);
    }
    if (fault?.delayMs) await sleep(fault.delayMs);
    if (fault?.dropConnection) {
      req.socket.destroy();
      return;
    }
    const out: Answer =
      fault?.status !== undefined
        ? { status: fault.status, body: fault.body ?? `injected ${fault.status}` }
        : this.answer(rec);
    rec.answeredStatus = out.status;
    if (res.destroyed) return; // the client gave up (timeout) while we waited
    res.writeHead(out.status, { "content-type": "text/plain; charset=utf-8", ...out.headers });
    res.end(out.body);
  }
}

/** Slack: incoming webhooks and response URLs both answer 200 "ok". */
export class FakeSlack extends RecordingHttpServer {
  /** An incoming-webhook-shaped URL on this fake. */
  get webhookUrl(): string {
    return `${this.url}/services/T0000000/B0000000/XXXXXXXXXXXXXXXXXXXXXXXX`;
  }

  /** A response_url-shaped URL on this fake (distinct per `id`). */
  responseUrl(id = "1"): string {
    return `${this.url}/actions/T0000000/${id}/YYYYYYYYYYYYYYYYYYYYYYYY`;
  }

  protected answer(): Answer {
    return { status: 200, body: "ok" };
  }
}

/** "v0=" + hex HMAC-SHA256, computed independently of the production code. */
export function signSlackBody(secret: string, timestamp: string, rawBody: string): string {
  return `v0=${createHmac("sha256", secret).update(`v0:${timestamp}:${rawBody}`).digest("hex")}`;
}

/** A block_actions payload as Slack sends it when a sign-up button is clicked (trimmed to what we read). */
export function slackBlockActionsPayload(opts: {
  actionId: string;
  value?: string;
  userId?: string;
  responseUrl: string;
  blocks?: unknown[];
}): Record<string, unknown> {
  return {
    type: "block_actions",
    user: { id: opts.userId ?? "U0ADMIN01", username: "admin", team_id: "T0000000" },
    api_app_id: "A0000000",
    token: "verification-token-unused",
    container: { type: "message", message_ts: "1700000000.000100", channel_id: "C0000000" },
    trigger_id: "1.2.3",
    team: { id: "T0000000", domain: "servicex" },
    channel: { id: "C0000000", name: "signups" },
    response_url: opts.responseUrl,
    message: { type: "message", text: "New signup", ts: "1700000000.000100", blocks: opts.blocks ?? [] },
    actions: [
      {
        type: "button",
        action_id: opts.actionId,
        block_id: "b1",
        text: { type: "plain_text", text: "Approve" },
        value: opts.value,
        action_ts: "1700000001.000200",
      },
    ],
  };
}

/** The form-encoded body of an interactivity request: payload=<JSON>. */
export function slackInteractionBody(payload: unknown): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/** Headers Slack signs an interactivity request with; `now` in epoch ms. */
export function slackSignedHeaders(
  secret: string,
  rawBody: string,
  now = Date.now(),
): Record<string, string> {
  const timestamp = String(Math.floor(now / 1000));
  return {
    "content-type": "application/x-www-form-urlencoded",
    "x-slack-request-timestamp": timestamp,
    "x-slack-signature": signSlackBody(secret, timestamp, rawBody),
  };
}
