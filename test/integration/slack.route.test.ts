// POST /slack (contract §7.6, A.8) against the real App, with a local Slack stand-in as the interaction's
// response_url: signed Approve / Reject clicks, every refusal (no signing secret, stale or future timestamp,
// signature over another body, malformed payload) with its status and the ephemeral message Slack shows,
// and the sign-up announcement posted to SIGNUP_WEBHOOK_URL by profile creation (a failing Slack never
// fails the sign-up).
//
// Error bodies: the App adds a stable `code` key to the bodies it builds itself (errorHandler.ts); callers
// read only `message`, so `expectAnswer` compares the body without that one key and nothing else.
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { UserRecord } from "../../src/adapters/repositories/users.repo.js";
import {
  FakeSlack,
  signSlackBody,
  slackBlockActionsPayload,
  slackInteractionBody,
  slackSignedHeaders,
} from "../helpers/fakeSlack.js";
import { type TestApp, startTestApp } from "../helpers/testApp.js";
import { type Answer, expectAnswer, httpCall } from "../helpers/http.js";

const SIGNING_SECRET = `slack-signing-${randomBytes(8).toString("hex")}`;
const ADMIN_SLACK_ID = "U0ADMIN01";

/** The §7.6 sign-up blocks for an e-mail, written out literally. */
const signupBlocks = (email: string) => [
  { type: "section", text: { type: "mrkdwn", text: `New signup from ${email}` } },
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
];

const ephemeral = (text: string) => ({ response_type: "ephemeral", replace_original: false, text });

const slack = new FakeSlack();
/** A second Slack stand-in that is NOT in SLACK_RESPONSE_URL_HOSTS (an attacker-chosen response_url). */
const elsewhere = new FakeSlack();
let app: TestApp;
let noSecret: TestApp;

function postSlack(base: string, body: string, headers: Record<string, string>): Promise<Answer> {
  return httpCall(`${base}/slack`, "POST", { raw: body, headers });
}

let seq = 0;
async function pendingUser(): Promise<UserRecord> {
  const email = `signup.${++seq}.${randomBytes(3).toString("hex")}@slack.example`;
  const u = await app.deps.users.provision({
    sub: `s-${randomUUID()}`,
    email,
    name: "New",
    institution: "U",
  });
  expect(u?.pending).toBe(true);
  return u!;
}

/** A signed click on one of the sign-up buttons. */
function click(actionId: string, email: string, o: { responseUrl?: string; now?: number } = {}) {
  const responseUrl = o.responseUrl ?? slack.responseUrl(randomBytes(4).toString("hex"));
  const body = slackInteractionBody(
    slackBlockActionsPayload({
      actionId,
      value: email,
      userId: ADMIN_SLACK_ID,
      responseUrl,
      blocks: signupBlocks(email),
    }),
  );
  return { body, headers: slackSignedHeaders(SIGNING_SECRET, body, o.now), responseUrl };
}

/** The requests the fake received at a response_url path (waits for `n` of them). */
async function postsTo(fake: FakeSlack, url: string, n = 1) {
  const path = new URL(url).pathname;
  const deadline = Date.now() + 5_000;
  for (;;) {
    const got = fake.requests.filter((r) => r.path === path);
    if (got.length >= n || Date.now() > deadline) return got;
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  await Promise.all([slack.start(), elsewhere.start()]);
  const common = {
    ENABLE_AUTH: "true",
    JWT_SECRET_KEY: "slack-jwt",
    SECRET_KEY: "slack-session",
    SIGNUP_WEBHOOK_URL: slack.webhookUrl,
    SLACK_RESPONSE_URL_HOSTS: JSON.stringify(["hooks.slack.com", slack.url]),
  };
  [app, noSecret] = await Promise.all([
    startTestApp({
      backend: "postgres",
      broker: "memory",
      env: { ...common, SLACK_SIGNING_SECRET: SIGNING_SECRET },
    }),
    startTestApp({ backend: "postgres", broker: "memory", env: common }),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([app?.close(), noSecret?.close()]);
  await Promise.all([slack.stop(), elsewhere.stop()]);
});

beforeEach(() => {
  slack.reset();
  elsewhere.reset();
});

describe("Signed Approve and Reject clicks", () => {
  it("When a signed accept_user click arrives, then the user is approved, the answer is 200 with an empty body and 'Approved by <@U…>' replaces the message", async () => {
    const u = await pendingUser();
    const c = click("accept_user", u.email);
    const r = await postSlack(app.url, c.body, c.headers);
    expect({ status: r.status, text: r.text }).toEqual({ status: 200, text: "" });
    expect((await app.deps.users.repo.byId(u.id))?.pending).toBe(false);
    const posts = await postsTo(slack, c.responseUrl);
    expect(posts).toHaveLength(1);
    expect(posts[0]!.method).toBe("POST");
    expect(posts[0]!.headers["content-type"]).toMatch(/^application\/json/);
    expect(posts[0]!.json).toEqual({
      blocks: [
        { type: "section", text: { type: "mrkdwn", text: `New signup from ${u.email}` } },
        { type: "context", elements: [{ type: "mrkdwn", text: `Approved by <@${ADMIN_SLACK_ID}>` }] },
      ],
      replace_original: true,
    });
  });

  it("When a signed reject_user click arrives for a pending user, then the user is deleted, 200 empty, and 'Rejected by <@U…>' replaces the message (A.8)", async () => {
    const u = await pendingUser();
    const c = click("reject_user", u.email);
    const r = await postSlack(app.url, c.body, c.headers);
    expect({ status: r.status, text: r.text }).toEqual({ status: 200, text: "" });
    expect(await app.deps.users.repo.byId(u.id)).toBeNull();
    const posts = await postsTo(slack, c.responseUrl);
    expect(posts.map((p) => p.json)).toEqual([
      {
        blocks: [
          { type: "section", text: { type: "mrkdwn", text: `New signup from ${u.email}` } },
          { type: "context", elements: [{ type: "mrkdwn", text: `Rejected by <@${ADMIN_SLACK_ID}>` }] },
        ],
        replace_original: true,
      },
    ]);
  });

  it("When Approve is clicked for an unknown e-mail, then it answers 404 and Slack shows an ephemeral 'No user registered with email: …'", async () => {
    const email = "ghost@slack.example";
    const c = click("accept_user", email);
    const r = await postSlack(app.url, c.body, c.headers);
    expectAnswer(r, 404, { message: `No user registered with email: ${email}` });
    const posts = await postsTo(slack, c.responseUrl);
    expect(posts.map((p) => p.json)).toEqual([ephemeral(`No user registered with email: ${email}`)]);
  });

  it("When Reject is clicked for an unknown e-mail, then it answers 404 with an ephemeral message too", async () => {
    const email = "ghost2@slack.example";
    const c = click("reject_user", email);
    const r = await postSlack(app.url, c.body, c.headers);
    expectAnswer(r, 404, { message: `No user registered with email: ${email}` });
    const posts = await postsTo(slack, c.responseUrl);
    expect(posts.map((p) => p.json)).toEqual([ephemeral(`No user registered with email: ${email}`)]);
  });

  it("When Reject is clicked for an already approved user, then the user is kept", async () => {
    const u = await pendingUser();
    await app.deps.users.accept(u.email);
    const c = click("reject_user", u.email);
    const r = await postSlack(app.url, c.body, c.headers);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(await app.deps.users.repo.byId(u.id)).not.toBeNull();
  });

  it("When another action is clicked, then it answers 200 and nothing changes", async () => {
    const u = await pendingUser();
    const c = click("something_else", u.email);
    const r = await postSlack(app.url, c.body, c.headers);
    expect({ status: r.status, text: r.text }).toEqual({ status: 200, text: "" });
    expect((await app.deps.users.repo.byId(u.id))?.pending).toBe(true);
  });

  it("When the timestamp is 299 s old or 299 s ahead, then the click is still accepted", async () => {
    for (const skew of [-299_000, 299_000]) {
      const u = await pendingUser();
      const c = click("accept_user", u.email, { now: Date.now() + skew });
      const r = await postSlack(app.url, c.body, c.headers);
      expect(r.status).toBe(200);
      expect((await app.deps.users.repo.byId(u.id))?.pending).toBe(false);
    }
  });
});

describe("Refused Slack requests", () => {
  it("When no SLACK_SIGNING_SECRET is configured, then it answers 403 and Slack shows 'ServiceX has no Slack app configured.'", async () => {
    const u = await noSecret.deps.users.provision({
      sub: "ns",
      email: "ns@slack.example",
      name: "N",
      institution: null,
    });
    const c = click("accept_user", u!.email);
    const r = await postSlack(noSecret.url, c.body, c.headers);
    expectAnswer(r, 403, { message: "ServiceX has no Slack app configured." });
    const posts = await postsTo(slack, c.responseUrl);
    expect(posts.map((p) => p.json)).toEqual([ephemeral("ServiceX has no Slack app configured.")]);
    expect((await noSecret.deps.users.repo.byId(u!.id))?.pending).toBe(true);
  });

  for (const [label, skewMs] of [
    ["301 s old", -301_000],
    ["301 s in the future", 301_000],
  ] as const) {
    it(`When the (correctly signed) timestamp is ${label}, then it answers 403 and Slack shows 'Sorry, this request has expired.'`, async () => {
      const u = await pendingUser();
      const c = click("accept_user", u.email, { now: Date.now() + skewMs });
      const r = await postSlack(app.url, c.body, c.headers);
      expectAnswer(r, 403, { message: "Sorry, this request has expired." });
      const posts = await postsTo(slack, c.responseUrl);
      expect(posts.map((p) => p.json)).toEqual([ephemeral("Sorry, this request has expired.")]);
      expect((await app.deps.users.repo.byId(u.id))?.pending).toBe(true);
    });
  }

  it("When the timestamp header is missing or not a number, then it answers 403 'Sorry, this request has expired.'", async () => {
    const u = await pendingUser();
    const c = click("accept_user", u.email);
    const { "x-slack-request-timestamp": _ts, ...noTs } = c.headers;
    expectAnswer(await postSlack(app.url, c.body, noTs), 403, {
      message: "Sorry, this request has expired.",
    });
    expectAnswer(
      await postSlack(app.url, c.body, { ...c.headers, "x-slack-request-timestamp": "yesterday" }),
      403,
      { message: "Sorry, this request has expired." },
    );
    expect((await app.deps.users.repo.byId(u.id))?.pending).toBe(true);
  });

  it("When the signature was computed over a different body, then it answers 401 and Slack shows 'Slack Verification Failed: Signatures did not match.'", async () => {
    const victim = await pendingUser();
    const harmless = click("something_else", "nobody@slack.example");
    const evil = click("accept_user", victim.email);
    // The signature of the harmless body, sent with the body that approves someone.
    const r = await postSlack(app.url, evil.body, harmless.headers);
    expectAnswer(r, 401, { message: "Slack Verification Failed: Signatures did not match." });
    const posts = await postsTo(slack, evil.responseUrl);
    expect(posts.map((p) => p.json)).toEqual([
      ephemeral("Slack Verification Failed: Signatures did not match."),
    ]);
    expect((await app.deps.users.repo.byId(victim.id))?.pending).toBe(true);
  });

  it("When the signature uses another secret, is missing, or is not v0, then it answers 401", async () => {
    const u = await pendingUser();
    const c = click("accept_user", u.email);
    const ts = c.headers["x-slack-request-timestamp"]!;
    for (const sig of [
      signSlackBody("another-secret", ts, c.body),
      undefined,
      signSlackBody(SIGNING_SECRET, ts, c.body).replace("v0=", "v1="),
      `${signSlackBody(SIGNING_SECRET, ts, c.body)}00`,
    ]) {
      const headers: Record<string, string> = { ...c.headers };
      if (sig === undefined) delete headers["x-slack-signature"];
      else headers["x-slack-signature"] = sig;
      expectAnswer(await postSlack(app.url, c.body, headers), 401, {
        message: "Slack Verification Failed: Signatures did not match.",
      });
    }
    expect((await app.deps.users.repo.byId(u.id))?.pending).toBe(true);
  });

  it("When an unverified request names a response_url outside SLACK_RESPONSE_URL_HOSTS, then nothing is posted there", async () => {
    const u = await pendingUser();
    const target = elsewhere.responseUrl("ssrf");
    const c = click("accept_user", u.email, { responseUrl: target });
    const r = await postSlack(app.url, c.body, { ...c.headers, "x-slack-signature": `v0=${"0".repeat(64)}` });
    expect(r.status).toBe(401);
    await new Promise((res) => setTimeout(res, 300));
    expect(elsewhere.requests).toHaveLength(0);
  });

  it("When the payload is not JSON, has no payload field or misses its actions, then it answers 400", async () => {
    const bodies = [
      "payload=%7Bnot-json",
      "something=else",
      slackInteractionBody({
        type: "block_actions",
        user: { id: "U1" },
        response_url: slack.responseUrl("x"),
      }),
      slackInteractionBody({
        type: "block_actions",
        user: { id: "U1" },
        response_url: "file:///etc/passwd",
        actions: [{ action_id: "accept_user", value: "x@y" }],
      }),
    ];
    for (const body of bodies) {
      const r = await postSlack(app.url, body, slackSignedHeaders(SIGNING_SECRET, body));
      expect(r.status).toBe(400);
      expect(Object.keys(r.json as object)).toContain("message");
      expect(typeof (r.json as { message: unknown }).message).toBe("string");
    }
    const first = await postSlack(app.url, bodies[0]!, slackSignedHeaders(SIGNING_SECRET, bodies[0]!));
    expectAnswer(first, 400, { message: "form field 'payload' is not valid JSON" });
    const second = await postSlack(app.url, bodies[1]!, slackSignedHeaders(SIGNING_SECRET, bodies[1]!));
    expectAnswer(second, 400, { message: "missing form field 'payload'" });
  });
});

describe("The sign-up announcement (§7.6, §7.3)", () => {
  const SIGNUP_JSON = (email: string) =>
    `{"blocks":[{"type":"section","text":{"type":"mrkdwn","text":"New signup from ${email}"}},` +
    `{"type":"actions","elements":[{"type":"button","text":{"type":"plain_text","text":"Approve"},` +
    `"style":"primary","action_id":"accept_user","value":"${email}"},{"type":"button",` +
    `"text":{"type":"plain_text","text":"Reject"},"style":"danger","action_id":"reject_user",` +
    `"value":"${email}"}]}],"text":"New signup from ${email}."}`;

  it("When a pending user creates a profile, then the §7.6 sign-up message is POSTed to SIGNUP_WEBHOOK_URL", async () => {
    const email = `profile.${randomBytes(3).toString("hex")}@slack.example`;
    const u = await app.deps.users.createProfile({
      sub: `p-${randomUUID()}`,
      verifiedEmails: [String(email).toLowerCase()],
      email,
      name: "Pat",
      institution: "U",
      experiment: "ATLAS",
    });
    expect(u.pending).toBe(true);
    const hooks = slack.requests.filter((r) => r.path === new URL(slack.webhookUrl).pathname);
    expect(hooks).toHaveLength(1);
    expect(hooks[0]!.method).toBe("POST");
    expect(hooks[0]!.text).toBe(SIGNUP_JSON(email));
    expect(hooks[0]!.json).toEqual({ blocks: signupBlocks(email), text: `New signup from ${email}.` });
  });

  it("When the announced sign-up's Approve button is then clicked, then the user is approved", async () => {
    const email = `roundtrip.${randomBytes(3).toString("hex")}@slack.example`;
    const u = await app.deps.users.createProfile({
      sub: `rt-${randomUUID()}`,
      verifiedEmails: [String(email).toLowerCase()],
      email,
      name: "RT",
      institution: "U",
      experiment: "CMS",
    });
    const announced = slack.requests.find((r) => r.path === new URL(slack.webhookUrl).pathname);
    const blocks = (
      announced!.json as { blocks: Array<{ elements?: Array<{ action_id: string; value: string }> }> }
    ).blocks;
    const approve = blocks[1]!.elements!.find((e) => e.action_id === "accept_user")!;
    const c = click(approve.action_id, approve.value);
    expect((await postSlack(app.url, c.body, c.headers)).status).toBe(200);
    expect((await app.deps.users.repo.byId(u.id))?.pending).toBe(false);
  });

  it("When Slack answers 500 to every attempt, then createProfile still succeeds and the user exists (pending)", async () => {
    slack.fail({ status: 500, times: Number.POSITIVE_INFINITY });
    const email = `slackdown.${randomBytes(3).toString("hex")}@slack.example`;
    const u = await app.deps.users.createProfile({
      sub: `sd-${randomUUID()}`,
      verifiedEmails: [String(email).toLowerCase()],
      email,
      name: "SD",
      institution: "U",
      experiment: "ATLAS",
    });
    expect(u.pending).toBe(true);
    expect((await app.deps.users.repo.byEmail(email))?.id).toBe(u.id);
    const hooks = slack.requests.filter((r) => r.path === new URL(slack.webhookUrl).pathname);
    expect(hooks.length).toBeGreaterThanOrEqual(1);
    expect(hooks.every((h) => h.answeredStatus === 500)).toBe(true);
  });

  it("When Slack's webhook is unreachable, then createProfile still succeeds", async () => {
    slack.fail({ dropConnection: true, times: Number.POSITIVE_INFINITY });
    const u = await app.deps.users.createProfile({
      sub: `sx-${randomUUID()}`,
      ...((e) => ({ verifiedEmails: [e], email: e }))(
        `unreach.${randomBytes(3).toString("hex")}@slack.example`,
      ),
      name: "X",
      institution: "U",
      experiment: "ATLAS",
    });
    expect(u.pending).toBe(true);
  });

  it("When an approved user (JWT_ADMIN or allow-all) is created, then nothing is announced", async () => {
    const other = await startTestApp({
      backend: "postgres",
      broker: "memory",
      env: {
        ENABLE_AUTH: "true",
        JWT_SECRET_KEY: "k",
        SECRET_KEY: "s",
        SIGNUP_WEBHOOK_URL: slack.webhookUrl,
        JWT_ADMIN: "chief@slack.example",
      },
    });
    try {
      const u = await other.deps.users.createProfile({
        sub: "chief",
        verifiedEmails: [String("chief@slack.example").toLowerCase()],
        email: "chief@slack.example",
        name: "Chief",
        institution: "U",
        experiment: "ATLAS",
      });
      expect(u.pending).toBe(false);
      expect(slack.requests).toHaveLength(0);
    } finally {
      await other.close();
    }
  });
});
