// Verification of Slack interactivity requests (POST /slack) and parsing of their `payload` field
// (docs/sign-in.md). Differences from upstream, on purpose (docs/decisions.md D8): the timestamp window is two-sided
// (|now − ts| ≤ 300 s; upstream's `abs(time.time() - ts > 300)` let any future timestamp through), and a
// missing or non-numeric timestamp is "expired" rather than a crash.
import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { SLACK_TEXTS } from "./slack.js";

/** Slack's own recommendation: reject requests more than five minutes away from our clock. */
export const SLACK_MAX_SKEW_SECONDS = 300;

export type SlackVerification =
  | { result: "ok" }
  | { result: "no_secret"; status: 403; message: string }
  | { result: "expired"; status: 403; message: string }
  | { result: "bad_signature"; status: 401; message: string };

/** Node gives a header as a string, an array when repeated, or undefined. */
type HeaderValue = string | readonly string[] | undefined;

export interface SlackRequestToVerify {
  /** SLACK_SIGNING_SECRET; empty or absent → `no_secret`. */
  signingSecret: string | undefined;
  /** X-Slack-Request-Timestamp (Unix seconds). */
  timestampHeader: HeaderValue;
  /** X-Slack-Signature ("v0=<hex>"). */
  signatureHeader: HeaderValue;
  /** The body exactly as received, before any form parsing. */
  rawBody: string | Buffer;
  /** Current time in epoch milliseconds (default Date.now()). */
  now?: number;
}

const NO_SECRET = { result: "no_secret", status: 403, message: SLACK_TEXTS.notConfigured } as const;
const EXPIRED = { result: "expired", status: 403, message: SLACK_TEXTS.expired } as const;
const BAD_SIGNATURE = { result: "bad_signature", status: 401, message: SLACK_TEXTS.badSignature } as const;

function single(value: HeaderValue): string | undefined {
  if (typeof value === "string") return value;
  // A repeated header is ambiguous; treat it as absent rather than pick one.
  return value?.length === 1 ? value[0] : undefined;
}

/** "v0=" + hex HMAC-SHA256(secret, "v0:" + timestamp + ":" + rawBody). */
export function slackSignature(signingSecret: string, timestamp: string, rawBody: string | Buffer): string {
  const mac = createHmac("sha256", signingSecret);
  mac.update(`v0:${timestamp}:`);
  mac.update(rawBody);
  return `v0=${mac.digest("hex")}`;
}

/** Checks secret, timestamp window and signature, in that order (the order upstream answers in). */
export function verifySlackRequest(req: SlackRequestToVerify): SlackVerification {
  if (!req.signingSecret) return NO_SECRET;

  const timestamp = single(req.timestampHeader)?.trim();
  if (!timestamp || !/^\d{1,15}$/.test(timestamp)) return EXPIRED;
  const nowSeconds = (req.now ?? Date.now()) / 1000;
  if (Math.abs(nowSeconds - Number(timestamp)) > SLACK_MAX_SKEW_SECONDS) return EXPIRED;

  const received = single(req.signatureHeader);
  if (!received) return BAD_SIGNATURE;
  const expected = Buffer.from(slackSignature(req.signingSecret, timestamp, req.rawBody), "utf8");
  const actual = Buffer.from(received, "utf8");
  // timingSafeEqual needs equal lengths; the expected length is public (always "v0=" + 64 hex digits).
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return BAD_SIGNATURE;
  return { result: "ok" };
}

const PayloadSchema = z.object({
  type: z.string().optional(),
  user: z.looseObject({ id: z.string().min(1) }),
  response_url: z.url({ protocol: /^https?$/ }),
  actions: z
    .array(z.looseObject({ action_id: z.string().min(1), value: z.string().optional() }))
    .min(1, "no actions"),
  message: z.looseObject({ blocks: z.array(z.unknown()).optional() }).optional(),
});

/** What the /slack route needs from a block_actions payload. */
export interface SlackInteraction {
  /** actions[0].action_id, e.g. "accept_user" or "reject_user". */
  actionId: string;
  /** actions[0].value: the e-mail address on the sign-up buttons. */
  value: string | undefined;
  /** user.id of whoever clicked (for "Approved by <@U…>"). */
  userId: string;
  responseUrl: string;
  /** message.blocks of the message holding the buttons ([] when absent). */
  messageBlocks: unknown[];
  type: string | undefined;
}

export type SlackPayloadParse = { ok: true; interaction: SlackInteraction } | { ok: false; error: string };

/** Parses the form-encoded body (`payload=<JSON>`) of a Slack interactivity request. */
export function parseSlackPayload(rawBody: string | Buffer): SlackPayloadParse {
  const text = typeof rawBody === "string" ? rawBody : rawBody.toString("utf8");
  const payload = new URLSearchParams(text).get("payload");
  if (payload === null) return { ok: false, error: "missing form field 'payload'" };
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    return { ok: false, error: "form field 'payload' is not valid JSON" };
  }
  const parsed = PayloadSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "payload"}: ${i.message}`);
    return { ok: false, error: `invalid Slack payload (${issues.join("; ")})` };
  }
  const p = parsed.data;
  const action = p.actions[0]!;
  return {
    ok: true,
    interaction: {
      actionId: action.action_id,
      value: action.value,
      userId: p.user.id,
      responseUrl: p.response_url,
      messageBlocks: p.message?.blocks ?? [],
      type: p.type,
    },
  };
}
