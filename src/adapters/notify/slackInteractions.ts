// The SlackInteractions port of the Slack approval flow (src/domain/slackApproval.service.ts, docs/sign-in.md):
// the interaction payload read by slackVerify.ts, its v0 signature checked with SLACK_SIGNING_SECRET, and the
// answers posted to the click's response_url (slack.ts) in the background.
import type { Logger } from "../../logger.js";
import type {
  SlackClick,
  SlackInteractions,
  SlackPost,
  SlackReply,
} from "../../domain/slackApproval.service.js";
import { approvedMessage, ephemeralMessage, postToResponseUrl, rejectedMessage } from "./slack.js";
import { parseSlackPayload, verifySlackRequest } from "./slackVerify.js";

export interface SlackInteractionsOptions {
  /** SLACK_SIGNING_SECRET; unset: every click is refused (403). */
  signingSecret: string | undefined;
  /** SLACK_RESPONSE_URL_HOSTS: where an unverified click's notice may be posted. */
  responseUrlHosts: readonly string[];
  logger: Logger;
}

export class SlackInteractionChannel implements SlackInteractions {
  constructor(private readonly o: SlackInteractionsOptions) {}

  parse(rawBody: Buffer): { ok: true; click: SlackClick } | { ok: false; error: string } {
    const parsed = parseSlackPayload(rawBody);
    return parsed.ok ? { ok: true, click: parsed.interaction } : parsed;
  }

  verify(post: SlackPost): { ok: true } | { ok: false; status: number; message: string } {
    const v = verifySlackRequest({
      signingSecret: this.o.signingSecret,
      timestampHeader: post.timestampHeader,
      signatureHeader: post.signatureHeader,
      rawBody: post.rawBody,
    });
    return v.result === "ok" ? { ok: true } : { ok: false, status: v.status, message: v.message };
  }

  reply(click: SlackClick, reply: SlackReply, signed: boolean): void {
    const body =
      reply.kind === "notice"
        ? ephemeralMessage(reply.text)
        : reply.kind === "approved"
          ? approvedMessage(click.messageBlocks, click.userId)
          : rejectedMessage(click.messageBlocks, click.userId);
    const log = this.o.logger;
    void postToResponseUrl(click.responseUrl, body, {
      logger: log,
      ...(signed ? {} : { allowedHosts: this.o.responseUrlHosts }),
    }).catch((err: unknown) => log.warn({ err: String(err) }, "Slack response_url post failed"));
  }
}
