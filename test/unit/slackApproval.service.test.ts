// SlackApprovalService (docs/sign-in.md, docs/decisions.md D8) with fakes of its ports: the order of the
// checks (payload, then signature, then the e-mail), what is posted back to the click's response_url and
// whether that post is limited to SLACK_RESPONSE_URL_HOSTS (unsigned clicks), and which errors reach the
// route. The HTTP side (raw body, headers, status codes, Slack's wire messages) is
// test/integration/slack.route.test.ts.
import { describe, expect, it } from "vitest";
import { AppError, appError } from "../../src/domain/errors.js";
import {
  type SlackClick,
  type SlackInteractions,
  type SlackPost,
  type SlackReply,
  SlackApprovalService,
} from "../../src/domain/slackApproval.service.js";

const click = (actionId: string, value: string | undefined): SlackClick => ({
  actionId,
  value,
  userId: "U0ADMIN",
  responseUrl: "https://hooks.slack.example/r/1",
  messageBlocks: [{ type: "section" }],
});

const post: SlackPost = { rawBody: Buffer.from("payload=…"), timestampHeader: "1", signatureHeader: "v0=x" };

function world(o: {
  parsed?: SlackClick | string;
  signature?: { ok: true } | { ok: false; status: number; message: string };
  accept?: (email: string) => Promise<unknown>;
  reject?: (email: string) => Promise<unknown>;
}) {
  const replies: Array<{ reply: SlackReply; signed: boolean }> = [];
  const calls: string[] = [];
  const slack: SlackInteractions = {
    parse: () =>
      typeof o.parsed === "string"
        ? { ok: false, error: o.parsed }
        : { ok: true, click: o.parsed ?? click("accept_user", "a@x.example") },
    verify: () => o.signature ?? { ok: true },
    reply: (_c, reply, signed) => replies.push({ reply, signed }),
  };
  const users = {
    accept: async (email: string) => {
      calls.push(`accept ${email}`);
      return (await o.accept?.(email)) as never;
    },
    reject: async (email: string) => {
      calls.push(`reject ${email}`);
      return (await o.reject?.(email)) as never;
    },
  };
  return { service: new SlackApprovalService(users, slack), replies, calls };
}

async function errorOf(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe("SlackApprovalService.handle", () => {
  it("When the body is not an interaction, then it is a 400 bad_slack_payload and nothing is posted back or decided", async () => {
    const w = world({
      parsed: "missing form field 'payload'",
      signature: { ok: false, status: 401, message: "no" },
    });
    const err = await errorOf(w.service.handle(post));
    expect({ code: err.code, status: err.status, message: err.message }).toEqual({
      code: "bad_slack_payload",
      status: 400,
      message: "missing form field 'payload'",
    });
    expect({ replies: w.replies, calls: w.calls }).toEqual({ replies: [], calls: [] });
  });

  it("When the signature check refuses, then the refusal is the outcome, the notice goes only to allowed hosts, and nothing is decided", async () => {
    const w = world({ signature: { ok: false, status: 403, message: "Sorry, this request has expired." } });
    expect(await w.service.handle(post)).toEqual({
      kind: "refused",
      status: 403,
      message: "Sorry, this request has expired.",
    });
    expect(w.replies).toEqual([
      { reply: { kind: "notice", text: "Sorry, this request has expired." }, signed: false },
    ]);
    expect(w.calls).toEqual([]);
  });

  it("When Approve is clicked, then the user is accepted and the message replaced", async () => {
    const w = world({ parsed: click("accept_user", "new@x.example") });
    expect(await w.service.handle(post)).toEqual({ kind: "handled" });
    expect(w.calls).toEqual(["accept new@x.example"]);
    expect(w.replies).toEqual([{ reply: { kind: "approved" }, signed: true }]);
  });

  it("When Reject is clicked, then the sign-up is rejected and the message replaced", async () => {
    const w = world({ parsed: click("reject_user", "new@x.example") });
    expect(await w.service.handle(post)).toEqual({ kind: "handled" });
    expect(w.calls).toEqual(["reject new@x.example"]);
    expect(w.replies).toEqual([{ reply: { kind: "rejected" }, signed: true }]);
  });

  it("When another action comes, then it is acknowledged and nothing else happens", async () => {
    const w = world({ parsed: click("something_else", "new@x.example") });
    expect(await w.service.handle(post)).toEqual({ kind: "handled" });
    expect({ replies: w.replies, calls: w.calls }).toEqual({ replies: [], calls: [] });
  });

  it("When the decision is refused (unknown user), then the admin is told and the error reaches the route", async () => {
    const w = world({
      parsed: click("accept_user", "ghost@x.example"),
      accept: async () => {
        throw appError("user_not_found", { detail: "No user registered with email: ghost@x.example" });
      },
    });
    const err = await errorOf(w.service.handle(post));
    expect({ code: err.code, status: err.status }).toEqual({ code: "user_not_found", status: 404 });
    expect(w.replies).toEqual([
      { reply: { kind: "notice", text: "No user registered with email: ghost@x.example" }, signed: true },
    ]);
  });

  it("When the button's value cannot be an e-mail of the users table, then it is a 400 naming actions[0].value, told to the admin", async () => {
    const w = world({ parsed: click("accept_user", `${"a".repeat(321)}`) });
    const err = await errorOf(w.service.handle(post));
    expect({ code: err.code, status: err.status, message: err.message }).toEqual({
      code: "invalid_field",
      status: 400,
      message: "actions[0].value: must be at most 320 characters",
    });
    expect(w.calls).toEqual([]);
    expect(w.replies).toEqual([{ reply: { kind: "notice", text: err.message }, signed: true }]);
  });

  it("When the decision fails with a server error, then nothing is posted back and the error reaches the route", async () => {
    const w = world({
      accept: async () => {
        throw new Error("connection reset");
      },
    });
    await expect(w.service.handle(post)).rejects.toThrow("connection reset");
    expect(w.replies).toEqual([]);
  });
});
