// Slack: the sign-up message posted to the incoming webhook (docs/sign-in.md) and the messages posted
// back to an interaction's `response_url` (ephemeral errors, approve/reject replacements).
//
// Transport: plain `fetch` with a JSON body. `@slack/webhook` (home of IncomingWebhook) is not installed and
// `@slack/web-api` only speaks the Web API methods, so both incoming webhooks and response URLs are a single
// JSON POST, which is exactly what IncomingWebhook would send.
//
// The webhook URL and response URLs carry credentials: they never appear in errors or logs.
import type { Logger } from "../../logger.js";
import { isTransientStatus, type RetryPolicy, withRetries } from "./retry.js";

export type SlackBlock = Record<string, unknown>;

export interface SlackSignupMessage {
  blocks: SlackBlock[];
  text: string;
}

export interface SlackEphemeralMessage {
  response_type: "ephemeral";
  replace_original: false;
  text: string;
}

export interface SlackReplacementMessage {
  blocks: unknown[];
  replace_original: true;
}

export type SlackResponseBody = SlackEphemeralMessage | SlackReplacementMessage;

/** Texts ServiceX answers through `response_url` (docs/sign-in.md). */
export const SLACK_TEXTS = {
  notConfigured: "ServiceX has no Slack app configured.",
  expired: "Sorry, this request has expired.",
  badSignature: "Slack Verification Failed: Signatures did not match.",
} as const;

/** What the sign-up message says after the e-mail when the identity provider did not vouch for it. */
export const UNVERIFIED_EMAIL_NOTE =
  "(e-mail NOT verified by the identity provider: anyone could have typed it)";

/**
 * The sign-up announcement with Approve / Reject buttons, key for key as upstream builds it (docs/sign-in.md). An e-mail
 * the identity provider did not vouch for (`emailVerified: false`) is marked as such in the text, so the
 * approver does not take it for the person's address; a vouched-for one reads as upstream's message.
 */
export function signupMessage(email: string, opts: { emailVerified?: boolean } = {}): SlackSignupMessage {
  const who = opts.emailVerified === false ? `${email} ${UNVERIFIED_EMAIL_NOTE}` : email;
  return {
    blocks: [
      { type: "section", text: { type: "mrkdwn", text: `New signup from ${who}` } },
      {
        type: "actions",
        elements: [
          {
            type: "button",
            text: { type: "plain_text", text: "Approve" },
            style: "primary",
            action_id: "accept_user",
            value: email,
          },
          {
            type: "button",
            text: { type: "plain_text", text: "Reject" },
            style: "danger",
            action_id: "reject_user",
            value: email,
          },
        ],
      },
    ],
    text: `New signup from ${who}.`,
  };
}

/** A message only the clicking user sees; the original message stays. */
export function ephemeralMessage(text: string): SlackEphemeralMessage {
  return { response_type: "ephemeral", replace_original: false, text };
}

/**
 * Replaces the sign-up message once an admin decided: the first original block (the "New signup from …"
 * section) stays, the buttons give way to "Approved by <@U…>" or "Rejected by <@U…>" (docs/sign-in.md and
 * docs/decisions.md D8: reject deletes the pending user, upstream raised instead).
 */
export function decisionMessage(
  originalBlocks: readonly unknown[],
  slackUserId: string,
  decision: "approved" | "rejected",
): SlackReplacementMessage {
  const verb = decision === "approved" ? "Approved" : "Rejected";
  const context = { type: "context", elements: [{ type: "mrkdwn", text: `${verb} by <@${slackUserId}>` }] };
  const first = originalBlocks[0];
  return { blocks: first === undefined ? [context] : [first, context], replace_original: true };
}

export const approvedMessage = (originalBlocks: readonly unknown[], slackUserId: string) =>
  decisionMessage(originalBlocks, slackUserId, "approved");

export const rejectedMessage = (originalBlocks: readonly unknown[], slackUserId: string) =>
  decisionMessage(originalBlocks, slackUserId, "rejected");

/** A failed POST to Slack; `status` is absent for network errors and timeouts. */
export class SlackPostError extends Error {
  override readonly name = "SlackPostError";
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface SlackPostOptions extends RetryPolicy {
  /** Per-attempt timeout (default 5 s). */
  timeoutMs?: number;
  logger?: Logger;
  /** Injected by tests; defaults to the global fetch. */
  fetch?: typeof fetch;
  /**
   * When set, only https URLs on these hosts (or any URL whose origin is listed, e.g. a local fake) are
   * POSTed to. `response_url` comes from the request body, so a route that posts before the signature is
   * verified should pass `["hooks.slack.com"]`.
   */
  allowedHosts?: readonly string[];
}

const DEFAULT_TIMEOUT_MS = 5_000;

function checkAllowed(url: string, allowedHosts: readonly string[] | undefined): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SlackPostError("Slack URL is not a valid URL", undefined, false);
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    throw new SlackPostError("Slack URL must be http(s)", undefined, false);
  }
  if (!allowedHosts) return;
  const ok = allowedHosts.some((h) =>
    h.includes("://")
      ? parsed.origin === new URL(h).origin
      : parsed.protocol === "https:" && parsed.host === h,
  );
  if (!ok) throw new SlackPostError(`Slack URL host ${parsed.host} is not allowed`, undefined, false);
}

async function postOnce(
  url: string,
  body: unknown,
  what: string,
  timeoutMs: number,
  doFetch: typeof fetch,
): Promise<void> {
  let res: Response;
  try {
    res = await doFetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const reason =
      err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError")
        ? `timed out after ${timeoutMs} ms`
        : "network error";
    throw new SlackPostError(`${what}: ${reason}`, undefined, true, { cause: err });
  }
  // Slack answers a short word ("ok", "invalid_payload", "no_service"): worth keeping in the error.
  const text = (await res.text().catch(() => "")).slice(0, 200);
  if (!res.ok) {
    throw new SlackPostError(
      `${what}: HTTP ${res.status}${text ? ` ${text}` : ""}`,
      res.status,
      isTransientStatus(res.status),
    );
  }
}

async function postWithRetries(
  url: string,
  body: unknown,
  what: string,
  options: SlackPostOptions,
): Promise<void> {
  checkAllowed(url, options.allowedHosts);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const doFetch = options.fetch ?? fetch;
  await withRetries(() => postOnce(url, body, what, timeoutMs, doFetch), options, {
    isRetryable: (err) => !(err instanceof SlackPostError) || err.retryable,
    onRetry: (err, attempt, delayMs) =>
      options.logger?.warn({ err, attempt, delayMs }, `${what} failed, retrying`),
  });
}

/**
 * POSTs a message to an interaction's `response_url` (3 attempts with backoff by default). Throws
 * SlackPostError when every attempt failed or Slack refused the message.
 */
export function postToResponseUrl(
  url: string,
  body: SlackResponseBody,
  options: SlackPostOptions = {},
): Promise<void> {
  return postWithRetries(url, body, "Slack response_url POST", options);
}

export interface SlackClientOptions extends SlackPostOptions {
  /** SIGNUP_WEBHOOK_URL (a Slack incoming webhook). */
  webhookUrl: string;
}

/** Posts sign-up announcements to the configured incoming webhook. */
export class SlackClient {
  private readonly options: SlackClientOptions;

  constructor(options: SlackClientOptions) {
    if (!options.webhookUrl) throw new Error("SlackClient needs a webhook URL (SIGNUP_WEBHOOK_URL)");
    this.options = { ...options };
  }

  /** Throws SlackPostError after the attempts are used up. */
  postSignup(email: string, opts: { emailVerified?: boolean } = {}): Promise<void> {
    return postWithRetries(
      this.options.webhookUrl,
      signupMessage(email, opts),
      "Slack signup webhook",
      this.options,
    );
  }
}
