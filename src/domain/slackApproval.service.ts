// Approving sign-ups from Slack (docs/sign-in.md, docs/decisions.md D8): an administrator clicks Approve or
// Reject on the sign-up message, Slack posts the click to POST /slack, and the App answers the click through
// its `response_url` (the message is replaced by "Approved by …"/"Rejected by …", or the admin alone sees a
// short notice). In order, as upstream answers:
// 1. the body must be a Slack interaction (400 otherwise, nothing posted back);
// 2. the request must be signed with SLACK_SIGNING_SECRET within five minutes (403/401 with `{"message"}`,
//    the notice is posted back only to a response_url host of SLACK_RESPONSE_URL_HOSTS, since the click is
//    not known to come from Slack);
// 3. the button's e-mail is approved (welcome e-mail) or its pending sign-up removed through UserService,
//    the same calls as POST /accept and the admin pages; a refusal (unknown user, already approved) is
//    posted back as a notice and answered with its catalogue status.
// Reading the payload, checking the signature and posting to Slack are the SlackInteractions port's
// (src/adapters/notify/slackInteractions.ts).
import { AppError, appError } from "./errors.js";
import { emailArgument, type UserService } from "./users.service.js";

/** One click on a button of the sign-up message. */
export interface SlackClick {
  /** "accept_user" or "reject_user"; other actions are acknowledged and ignored. */
  actionId: string;
  /** The button's value: the e-mail of the sign-up. */
  value: string | undefined;
  /** Slack user id of the administrator who clicked. */
  userId: string;
  responseUrl: string;
  /** The blocks of the message holding the buttons. */
  messageBlocks: unknown[];
}

/** A header as Node gives it: a string, an array when repeated, or undefined. */
export type HeaderValue = string | readonly string[] | undefined;

/** The HTTP request Slack sent, as received. */
export interface SlackPost {
  rawBody: Buffer;
  timestampHeader: HeaderValue;
  signatureHeader: HeaderValue;
}

/** What is posted back to the click's response_url. */
export type SlackReply = { kind: "notice"; text: string } | { kind: "approved" } | { kind: "rejected" };

export interface SlackInteractions {
  /** The click of a form-encoded `payload=<JSON>` body, or why it is not one. */
  parse(rawBody: Buffer): { ok: true; click: SlackClick } | { ok: false; error: string };
  /** Signing secret, timestamp window and signature, in that order. */
  verify(post: SlackPost): { ok: true } | { ok: false; status: number; message: string };
  /**
   * Posts the reply in the background (never throws, never delays the answer). `signed`: the click was
   * verified, so its response_url is Slack's; otherwise only SLACK_RESPONSE_URL_HOSTS are posted to.
   */
  reply(click: SlackClick, reply: SlackReply, signed: boolean): void;
}

/** How POST /slack ends: acknowledged (200, empty), or refused by the signature check. */
export type SlackOutcome = { kind: "handled" } | { kind: "refused"; status: number; message: string };

export class SlackApprovalService {
  constructor(
    private readonly users: Pick<UserService, "accept" | "reject">,
    private readonly slack: SlackInteractions,
  ) {}

  /** Handles one interaction post; throws the catalogue's error for a bad payload or a refused decision. */
  async handle(post: SlackPost): Promise<SlackOutcome> {
    const parsed = this.slack.parse(post.rawBody);
    if (!parsed.ok) throw appError("bad_slack_payload", { detail: parsed.error });
    const click = parsed.click;
    const signature = this.slack.verify(post);
    if (!signature.ok) {
      this.slack.reply(click, { kind: "notice", text: signature.message }, false);
      return { kind: "refused", status: signature.status, message: signature.message };
    }
    try {
      const email = emailArgument(click.value ?? "", "actions[0].value");
      if (click.actionId === "accept_user") {
        await this.users.accept(email);
        this.slack.reply(click, { kind: "approved" }, true);
      } else if (click.actionId === "reject_user") {
        await this.users.reject(email);
        this.slack.reply(click, { kind: "rejected" }, true);
      }
    } catch (err) {
      if (err instanceof AppError && err.status < 500) {
        this.slack.reply(click, { kind: "notice", text: err.message }, true);
      }
      throw err;
    }
    return { kind: "handled" };
  }
}
