import { describe, expect, it } from "vitest";
import { parseSlackPayload, verifySlackRequest } from "../../src/adapters/notify/slackVerify.js";
import { signSlackBody, slackBlockActionsPayload, slackInteractionBody } from "../helpers/fakeSlack.js";

const SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
const TS = 1_700_000_000;
const NOW = TS * 1000;
const body = slackInteractionBody(
  slackBlockActionsPayload({
    actionId: "accept_user",
    value: "new.user@example.org",
    userId: "U0ADMIN01",
    responseUrl: "https://hooks.slack.com/actions/T0000000/1/abc",
    blocks: [{ type: "section", text: { type: "mrkdwn", text: "New signup from new.user@example.org" } }],
  }),
);

function verify(overrides: Partial<Parameters<typeof verifySlackRequest>[0]> = {}) {
  const timestamp = String(TS);
  return verifySlackRequest({
    signingSecret: SECRET,
    timestampHeader: timestamp,
    signatureHeader: signSlackBody(SECRET, timestamp, body),
    rawBody: body,
    now: NOW,
    ...overrides,
  });
}

describe("verifySlackRequest", () => {
  it("When the signature matches and the timestamp is current, then the request is ok", () => {
    expect(verify()).toEqual({ result: "ok" });
  });

  it("When the raw body arrives as a Buffer, then it is verified byte for byte", () => {
    expect(verify({ rawBody: Buffer.from(body, "utf8") })).toEqual({ result: "ok" });
  });

  it("When the body is altered by one byte, then the signature does not match (401)", () => {
    const last = body.charCodeAt(body.length - 1);
    const altered = body.slice(0, -1) + String.fromCharCode(last ^ 1);
    expect(verify({ rawBody: altered })).toEqual({
      result: "bad_signature",
      status: 401,
      message: "Slack Verification Failed: Signatures did not match.",
    });
  });

  it("When the request was signed with another secret, then the signature does not match", () => {
    const timestamp = String(TS);
    expect(verify({ signatureHeader: signSlackBody("another-secret", timestamp, body) }).result).toBe(
      "bad_signature",
    );
  });

  it("When the signature is for another timestamp, then the signature does not match", () => {
    expect(verify({ signatureHeader: signSlackBody(SECRET, String(TS - 1), body) }).result).toBe(
      "bad_signature",
    );
  });

  it("When the signature header is truncated, upper-cased or lacks the v0= prefix, then it is rejected", () => {
    const good = signSlackBody(SECRET, String(TS), body);
    for (const bad of [good.slice(0, -1), good.toUpperCase(), good.slice(3), `v1=${good.slice(3)}`, ""]) {
      expect(verify({ signatureHeader: bad }).result).toBe("bad_signature");
    }
  });

  it("When the timestamp is 301 s old, then the request has expired (403)", () => {
    expect(verify({ now: NOW + 301_000 })).toEqual({
      result: "expired",
      status: 403,
      message: "Sorry, this request has expired.",
    });
  });

  it("When the timestamp is 301 s in the future, then the request has expired (A.8: two-sided window)", () => {
    expect(verify({ now: NOW - 301_000 }).result).toBe("expired");
  });

  it("When the timestamp is exactly 300 s away on either side, then the request is ok", () => {
    expect(verify({ now: NOW + 300_000 }).result).toBe("ok");
    expect(verify({ now: NOW - 300_000 }).result).toBe("ok");
  });

  it("When the clock is 300.5 s past the timestamp, then the request has expired", () => {
    expect(verify({ now: NOW + 300_500 }).result).toBe("expired");
  });

  it("When the timestamp is not a number, then the request is treated as expired", () => {
    for (const ts of ["abc", "17e8", "-1700000000", "1700000000.5", " ", "0x6553f100"]) {
      const signed = signSlackBody(SECRET, ts, body);
      expect(verify({ timestampHeader: ts, signatureHeader: signed }).result).toBe("expired");
    }
  });

  it("When the timestamp header is missing, then the request is treated as expired", () => {
    expect(verify({ timestampHeader: undefined }).result).toBe("expired");
  });

  it("When the signature header is missing, then the signature does not match", () => {
    expect(verify({ signatureHeader: undefined }).result).toBe("bad_signature");
  });

  it("When a header is repeated, then it is not trusted", () => {
    const sig = signSlackBody(SECRET, String(TS), body);
    expect(verify({ signatureHeader: [sig, sig] }).result).toBe("bad_signature");
    expect(verify({ timestampHeader: [String(TS), String(TS)] }).result).toBe("expired");
    expect(verify({ signatureHeader: [sig] }).result).toBe("ok");
  });

  it("When no signing secret is configured, then the answer is no_secret (403) before anything else", () => {
    for (const signingSecret of [undefined, ""]) {
      expect(verify({ signingSecret, timestampHeader: undefined, signatureHeader: undefined })).toEqual({
        result: "no_secret",
        status: 403,
        message: "ServiceX has no Slack app configured.",
      });
    }
  });

  it("When the timestamp is stale and the signature is wrong, then expiry is reported first (upstream order)", () => {
    expect(verify({ now: NOW + 1_000_000, signatureHeader: "v0=00" }).result).toBe("expired");
  });
});

describe("parseSlackPayload", () => {
  it("When the payload is a block_actions click, then action, value, user, response_url and blocks are read", () => {
    const parsed = parseSlackPayload(body);
    expect(parsed).toEqual({
      ok: true,
      interaction: {
        actionId: "accept_user",
        value: "new.user@example.org",
        userId: "U0ADMIN01",
        responseUrl: "https://hooks.slack.com/actions/T0000000/1/abc",
        messageBlocks: [
          { type: "section", text: { type: "mrkdwn", text: "New signup from new.user@example.org" } },
        ],
        type: "block_actions",
      },
    });
  });

  it("When the body is a Buffer, then it parses the same", () => {
    expect(parseSlackPayload(Buffer.from(body)).ok).toBe(true);
  });

  it("When the message has no blocks, then messageBlocks is empty", () => {
    const p = slackBlockActionsPayload({
      actionId: "reject_user",
      value: "x@y.z",
      responseUrl: "https://h/x",
    });
    delete (p as { message?: unknown }).message;
    const parsed = parseSlackPayload(slackInteractionBody(p));
    expect(parsed.ok && parsed.interaction.messageBlocks).toEqual([]);
  });

  it("When the form has no payload field, then a clear error is returned", () => {
    expect(parseSlackPayload("token=abc&foo=bar")).toEqual({
      ok: false,
      error: "missing form field 'payload'",
    });
    expect(parseSlackPayload("")).toEqual({ ok: false, error: "missing form field 'payload'" });
  });

  it("When the payload is not JSON, then a clear error is returned", () => {
    expect(parseSlackPayload("payload=%7Bnot-json")).toEqual({
      ok: false,
      error: "form field 'payload' is not valid JSON",
    });
  });

  it("When the payload lacks actions, user or response_url, then the error names the fields", () => {
    const bad = parseSlackPayload(slackInteractionBody({ type: "block_actions", actions: [] }));
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.error).toMatch(/^invalid Slack payload/);
      expect(bad.error).toContain("user");
      expect(bad.error).toContain("response_url");
      expect(bad.error).toContain("actions");
    }
  });

  it("When the payload is JSON but not an object, then it is rejected", () => {
    for (const json of ["null", "42", '"text"', "[]"]) {
      const parsed = parseSlackPayload(new URLSearchParams({ payload: json }).toString());
      expect(parsed.ok).toBe(false);
    }
  });

  it("When response_url is not an http(s) URL, then it is rejected", () => {
    for (const responseUrl of ["file:///etc/passwd", "not a url"]) {
      const p = slackBlockActionsPayload({ actionId: "accept_user", value: "a@b.c", responseUrl });
      expect(parseSlackPayload(slackInteractionBody(p)).ok).toBe(false);
    }
  });
});
