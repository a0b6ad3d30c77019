// The Slack and Mailgun adapters against local fakes speaking the real wire format: what goes over HTTP,
// byte for byte where it matters (contract §7.6, §7.7), retries, give-up and the never-throwing Notifier.
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MailgunMailer, MailgunSendError } from "../../src/adapters/notify/mailgun.js";
import { buildNotifier } from "../../src/adapters/notify/notifier.js";
import {
  approvedMessage,
  ephemeralMessage,
  postToResponseUrl,
  rejectedMessage,
  SlackClient,
  SlackPostError,
  signupMessage,
} from "../../src/adapters/notify/slack.js";
import { FakeMailgun } from "../helpers/fakeMailgun.js";
import { FakeSlack } from "../helpers/fakeSlack.js";

const EMAIL = "new.user@example.org";
const DOMAIN = "mg.example.org";
const KEY = "key-0123456789abcdef";
const DOCS = "https://servicex-frontend.readthedocs.io/en/stable/";
const FAST = { backoffMs: 1, timeoutMs: 2_000 };

/** The §7.6 sign-up message, written out literally (key order included) rather than built by the code. */
const SIGNUP_JSON =
  '{"blocks":[{"type":"section","text":{"type":"mrkdwn","text":"New signup from new.user@example.org"}},' +
  '{"type":"actions","elements":[{"type":"button","text":{"type":"plain_text","text":"Approve"},' +
  '"style":"primary","action_id":"accept_user","value":"new.user@example.org"},{"type":"button",' +
  '"text":{"type":"plain_text","text":"Reject"},"style":"danger","action_id":"reject_user",' +
  '"value":"new.user@example.org"}]}],"text":"New signup from new.user@example.org."}';

function captureLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split("\n")) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: pino({ level: "debug" }, stream), lines };
}

const slack = new FakeSlack();
const mailgun = new FakeMailgun(KEY);

beforeAll(async () => {
  await Promise.all([slack.start(), mailgun.start()]);
});
afterAll(async () => {
  await Promise.all([slack.stop(), mailgun.stop()]);
});
beforeEach(() => {
  slack.reset();
  mailgun.reset();
});

const slackClient = (opts = {}) => new SlackClient({ webhookUrl: slack.webhookUrl, ...FAST, ...opts });
const mailer = (opts = {}) =>
  new MailgunMailer({ apiKey: KEY, domain: DOMAIN, url: mailgun.url, docsBaseUrl: DOCS, ...FAST, ...opts });

describe("Slack signup webhook", () => {
  it("When a signup is announced, then the webhook receives the §7.6 blocks as JSON", async () => {
    await slackClient().postSignup(EMAIL);
    expect(slack.requests).toHaveLength(1);
    const req = slack.requests[0]!;
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/services/T0000000/B0000000/XXXXXXXXXXXXXXXXXXXXXXXX");
    expect(req.headers["content-type"]).toBe("application/json");
    expect(req.text).toBe(SIGNUP_JSON);
    expect(req.json).toEqual(signupMessage(EMAIL));
  });

  it("When the webhook answers 500 twice, then the third attempt delivers the message", async () => {
    slack.fail({ status: 500, times: 2 });
    await slackClient().postSignup(EMAIL);
    expect(slack.requests.map((r) => r.answeredStatus)).toEqual([500, 500, 200]);
    expect(new Set(slack.requests.map((r) => r.text))).toEqual(new Set([SIGNUP_JSON]));
  });

  it("When the webhook keeps answering 500, then it gives up after 3 attempts with a SlackPostError", async () => {
    slack.fail({ status: 500, times: Number.POSITIVE_INFINITY });
    const err = await slackClient()
      .postSignup(EMAIL)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SlackPostError);
    expect((err as SlackPostError).status).toBe(500);
    expect(slack.requests).toHaveLength(3);
  });

  it("When the error message is built, then it never contains the webhook URL (it is a credential)", async () => {
    slack.fail({ status: 503, times: Number.POSITIVE_INFINITY });
    const err = (await slackClient()
      .postSignup(EMAIL)
      .catch((e: unknown) => e)) as Error;
    expect(err.message).not.toContain("XXXXXXXX");
    expect(err.message).toContain("HTTP 503");
  });

  it("When the webhook answers 404 no_service, then it is not retried", async () => {
    slack.fail({ status: 404, body: "no_service" });
    const err = (await slackClient()
      .postSignup(EMAIL)
      .catch((e: unknown) => e)) as SlackPostError;
    expect(err.status).toBe(404);
    expect(err.message).toContain("no_service");
    expect(slack.requests).toHaveLength(1);
  });

  it("When an attempt takes longer than the timeout, then it is abandoned and retried", async () => {
    // The first attempt is held 3 s, beyond the 1 s timeout; the retry is answered at once (well within it,
    // also on a loaded machine: a 150 ms timeout let the retry time out too).
    slack.fail({ delayMs: 3_000 });
    await slackClient({ timeoutMs: 1_000 }).postSignup(EMAIL);
    expect(slack.requests).toHaveLength(2);
  });

  it("When the connection drops, then the post is retried", async () => {
    slack.fail({ dropConnection: true });
    await slackClient().postSignup(EMAIL);
    expect(slack.requests).toHaveLength(2);
    expect(slack.requests[1]!.answeredStatus).toBe(200);
  });

  it("When the webhook URL is missing, then the client refuses to be built", () => {
    expect(() => new SlackClient({ webhookUrl: "" })).toThrow(/SIGNUP_WEBHOOK_URL/);
  });
});

describe("Slack response_url", () => {
  const original = signupMessage(EMAIL).blocks;

  it("When an ephemeral message is posted, then Slack receives exactly response_type, replace_original, text", async () => {
    await postToResponseUrl(slack.responseUrl(), ephemeralMessage("Sorry, this request has expired."), FAST);
    const req = slack.requests[0]!;
    expect(req.path).toBe("/actions/T0000000/1/YYYYYYYYYYYYYYYYYYYYYYYY");
    expect(req.headers["content-type"]).toBe("application/json");
    expect(req.text).toBe(
      '{"response_type":"ephemeral","replace_original":false,"text":"Sorry, this request has expired."}',
    );
  });

  it("When a signup is approved, then the message is replaced by its first block and 'Approved by <@U…>'", async () => {
    await postToResponseUrl(slack.responseUrl(), approvedMessage(original, "U0ADMIN01"), FAST);
    expect(slack.requests[0]!.json).toEqual({
      blocks: [
        { type: "section", text: { type: "mrkdwn", text: `New signup from ${EMAIL}` } },
        { type: "context", elements: [{ type: "mrkdwn", text: "Approved by <@U0ADMIN01>" }] },
      ],
      replace_original: true,
    });
    expect(slack.requests[0]!.text).toMatch(/^\{"blocks":\[.*\],"replace_original":true\}$/);
  });

  it("When a signup is rejected, then the message says 'Rejected by <@U…>'", async () => {
    await postToResponseUrl(slack.responseUrl(), rejectedMessage(original, "U0ADMIN02"), FAST);
    expect(slack.requests[0]!.json).toEqual({
      blocks: [
        original[0],
        { type: "context", elements: [{ type: "mrkdwn", text: "Rejected by <@U0ADMIN02>" }] },
      ],
      replace_original: true,
    });
  });

  it("When response_url answers 500 then 200, then the message is delivered on the second attempt", async () => {
    slack.fail({ status: 500 });
    await postToResponseUrl(slack.responseUrl(), ephemeralMessage("x"), FAST);
    expect(slack.requests.map((r) => r.answeredStatus)).toEqual([500, 200]);
  });

  it("When response_url keeps failing, then it gives up after 3 attempts", async () => {
    slack.fail({ status: 502, times: Number.POSITIVE_INFINITY });
    await expect(postToResponseUrl(slack.responseUrl(), ephemeralMessage("x"), FAST)).rejects.toBeInstanceOf(
      SlackPostError,
    );
    expect(slack.requests).toHaveLength(3);
  });

  it("When the host is not allowed, then nothing is sent", async () => {
    await expect(
      postToResponseUrl(slack.responseUrl(), ephemeralMessage("x"), {
        ...FAST,
        allowedHosts: ["hooks.slack.com"],
      }),
    ).rejects.toThrow(/not allowed/);
    await expect(postToResponseUrl("file:///etc/passwd", ephemeralMessage("x"), FAST)).rejects.toBeInstanceOf(
      SlackPostError,
    );
    expect(slack.requests).toHaveLength(0);
    await postToResponseUrl(slack.responseUrl(), ephemeralMessage("x"), {
      ...FAST,
      allowedHosts: [slack.url],
    });
    expect(slack.requests).toHaveLength(1);
  });
});

describe("Mailgun welcome e-mail", () => {
  it("When a user is welcomed, then Mailgun receives the §7.7 form fields with basic auth api:key", async () => {
    const result = await mailer().sendWelcome(EMAIL);
    expect(result).toMatchObject({ sent: true, id: expect.stringMatching(new RegExp(`@${DOMAIN}>$`)) });
    expect(mailgun.requests).toHaveLength(1);
    const req = mailgun.requests[0]!;
    expect(req.method).toBe("POST");
    expect(req.path).toBe(`/v3/${DOMAIN}/messages`);
    expect(req.auth).toEqual({ username: "api", password: KEY });
    expect(req.headers.authorization).toBe(`Basic ${Buffer.from(`api:${KEY}`).toString("base64")}`);
    expect(req.headers["content-type"]).toMatch(/^multipart\/form-data; boundary=/);
    expect(req.multipartError).toBeUndefined();
    expect(Object.keys(req.form!).sort()).toEqual(["from", "html", "subject", "text", "to"]);
    expect(req.form!.from).toEqual([`ServiceX <noreply@${DOMAIN}>`]);
    expect(req.form!.to).toEqual([EMAIL]);
    expect(req.form!.subject).toEqual(["Welcome to ServiceX!"]);
    const link = "https://servicex-frontend.readthedocs.io/en/stable/user/getting-started/";
    expect(req.form!.html![0]).toContain(`href="${link}"`);
    expect(req.form!.html![0]).toMatch(/^<!doctype html>/);
    expect(req.form!.text![0]).toContain(link);
    expect(req.form!.text![0]).not.toContain("<");
  });

  it("When DOCS_BASE_URL has no trailing slash, then the link still has exactly one slash", async () => {
    await mailer({ docsBaseUrl: "https://docs.example.org/servicex" }).sendWelcome(EMAIL);
    expect(mailgun.requests[0]!.form!.html![0]).toContain(
      'href="https://docs.example.org/servicex/user/getting-started/"',
    );
  });

  it("When the address contains HTML, then the HTML body escapes it", async () => {
    await mailer().sendWelcome('"<b>x</b>"@example.org');
    const req = mailgun.requests[0]!;
    expect(req.form!.html![0]).toContain("&lt;b&gt;x&lt;/b&gt;");
    expect(req.form!.html![0]).not.toContain("<b>x</b>");
  });

  it("When Mailgun answers 500 once, then the e-mail is sent on the second attempt", async () => {
    mailgun.fail({ status: 500 });
    await expect(mailer().sendWelcome(EMAIL)).resolves.toMatchObject({ sent: true });
    expect(mailgun.requests.map((r) => r.answeredStatus)).toEqual([500, 200]);
    expect(mailgun.requests[0]!.form).toEqual(mailgun.requests[1]!.form);
  });

  it("When Mailgun keeps answering 500, then it gives up after 3 attempts with a MailgunSendError", async () => {
    mailgun.fail({ status: 500, times: Number.POSITIVE_INFINITY });
    const err = (await mailer()
      .sendWelcome(EMAIL)
      .catch((e: unknown) => e)) as MailgunSendError;
    expect(err).toBeInstanceOf(MailgunSendError);
    expect(err.status).toBe(500);
    expect(mailgun.requests).toHaveLength(3);
  });

  it("When the connection drops every time, then it gives up after 3 attempts without a status", async () => {
    mailgun.fail({ dropConnection: true, times: Number.POSITIVE_INFINITY });
    const err = (await mailer()
      .sendWelcome(EMAIL)
      .catch((e: unknown) => e)) as MailgunSendError;
    expect(err).toBeInstanceOf(MailgunSendError);
    expect(err.status).toBeUndefined();
    expect(mailgun.requests).toHaveLength(3);
  });

  it("When an attempt exceeds the timeout, then it is retried", async () => {
    // The first attempt is held 3 s, beyond the 1 s timeout; the retry is answered at once (well within it).
    mailgun.fail({ delayMs: 3_000 });
    await expect(mailer({ timeoutMs: 1_000 }).sendWelcome(EMAIL)).resolves.toMatchObject({ sent: true });
    expect(mailgun.requests).toHaveLength(2);
  });

  it("When the API key is wrong, then Mailgun's 401 is not retried", async () => {
    const err = (await mailer({ apiKey: "key-wrong" })
      .sendWelcome(EMAIL)
      .catch((e: unknown) => e)) as MailgunSendError;
    expect(err).toBeInstanceOf(MailgunSendError);
    expect(err.status).toBe(401);
    expect(err.message).not.toContain("key-wrong");
    expect(mailgun.requests).toHaveLength(1);
  });

  it("When MAILGUN_API_KEY or MAILGUN_DOMAIN is missing, then nothing is sent", async () => {
    for (const opts of [{ apiKey: "" }, { domain: "" }, { apiKey: undefined, domain: undefined }]) {
      const m = mailer(opts);
      expect(m.enabled).toBe(false);
      await expect(m.sendWelcome(EMAIL)).resolves.toEqual({ sent: false, reason: "not_configured" });
    }
    expect(mailgun.requests).toHaveLength(0);
  });
});

describe("Notifier", () => {
  it("When a user signs up and Slack is configured, then the signup message is posted", async () => {
    const { logger } = captureLogger();
    const notifier = buildNotifier({ slack: slackClient(), logger });
    await notifier.userSignedUp({ email: EMAIL, name: "New User" });
    expect(slack.requests.map((r) => r.text)).toEqual([SIGNUP_JSON]);
  });

  it("When Slack is not configured, then signing up sends nothing", async () => {
    const { logger } = captureLogger();
    await buildNotifier({ logger }).userSignedUp({ email: EMAIL, name: "New User" });
    expect(slack.requests).toHaveLength(0);
  });

  it("When Slack keeps failing, then userSignedUp resolves after 3 attempts and logs an error", async () => {
    slack.fail({ status: 500, times: Number.POSITIVE_INFINITY });
    const { logger, lines } = captureLogger();
    await expect(
      buildNotifier({ slack: slackClient(), logger }).userSignedUp({ email: EMAIL, name: "N" }),
    ).resolves.toBeUndefined();
    expect(slack.requests).toHaveLength(3);
    const error = lines.find((l) => l.level === 50);
    expect(error?.msg).toBe("could not announce signup on Slack");
    expect(JSON.stringify(lines)).not.toContain("XXXXXXXX");
  });

  it("When a user is approved, then the welcome e-mail is sent in the background", async () => {
    const { logger, lines } = captureLogger();
    const notifier = buildNotifier({ mailer: mailer(), logger });
    await notifier.userApproved({ email: EMAIL, name: "New User" });
    await notifier.drain();
    expect(mailgun.messages(DOMAIN)).toHaveLength(1);
    expect(mailgun.requests[0]!.form!.to).toEqual([EMAIL]);
    expect(lines.some((l) => l.msg === "welcome e-mail sent")).toBe(true);
  });

  it("When Mailgun is slow, then userApproved returns before the e-mail is sent", async () => {
    mailgun.fail({ delayMs: 2_000 });
    const { logger } = captureLogger();
    // A timeout well beyond Mailgun's delay: one attempt, answered after 2 s.
    const notifier = buildNotifier({ mailer: mailer({ timeoutMs: 20_000 }), logger });
    await notifier.userApproved({ email: EMAIL, name: "N" });
    // Returned while Mailgun still holds the e-mail (it answers 2 s after it arrives): nothing answered yet.
    expect(mailgun.requests.filter((r) => r.answeredStatus !== undefined)).toEqual([]);
    await notifier.drain();
    expect(mailgun.requests.map((r) => r.answeredStatus)).toEqual([200]);
  });

  it("When Mailgun keeps failing, then userApproved never throws and the failure is logged after 3 attempts", async () => {
    mailgun.fail({ status: 503, times: Number.POSITIVE_INFINITY });
    const { logger, lines } = captureLogger();
    const notifier = buildNotifier({ mailer: mailer(), logger });
    await expect(notifier.userApproved({ email: EMAIL, name: "N" })).resolves.toBeUndefined();
    await notifier.drain();
    expect(mailgun.requests).toHaveLength(3);
    const error = lines.find((l) => l.level === 50);
    expect(error?.msg).toBe("welcome e-mail not sent");
    expect(JSON.stringify(lines)).not.toContain(KEY);
  });

  it("When Mailgun is not configured, then approving sends nothing", async () => {
    const { logger } = captureLogger();
    const notifier = buildNotifier({ mailer: mailer({ apiKey: "" }), logger });
    await notifier.userApproved({ email: EMAIL, name: "N" });
    await notifier.drain();
    expect(mailgun.requests).toHaveLength(0);
  });

  it("When the adapters throw synchronously or reject, then the Notifier still never throws", async () => {
    const { logger, lines } = captureLogger();
    const notifier = buildNotifier({
      slack: {
        postSignup() {
          throw new Error("boom");
        },
      },
      mailer: {
        sendWelcome() {
          throw new Error("bang");
        },
      },
      logger,
    });
    await expect(notifier.userSignedUp({ email: EMAIL, name: "N" })).resolves.toBeUndefined();
    await expect(notifier.userApproved({ email: EMAIL, name: "N" })).resolves.toBeUndefined();
    await notifier.drain();
    expect(lines.filter((l) => l.level === 50)).toHaveLength(2);
  });
});
