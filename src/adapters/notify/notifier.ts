// The Notifier port (src/domain/ports.ts) over Slack and Mailgun. Notifications are a courtesy: neither
// method ever throws, so a Slack or Mailgun outage can fail neither a sign-up nor an approval
// (upstream answered 500 from /accept when Mailgun failed; docs/sign-in.md).
import type { Notifier } from "../../domain/ports.js";
import type { Logger } from "../../logger.js";

/** What the notifier needs from SlackClient (narrow, so tests can pass a stub). */
export interface SignupAnnouncer {
  postSignup(email: string, opts?: { emailVerified?: boolean }): Promise<void>;
}

/** What the notifier needs from MailgunMailer. */
export interface WelcomeMailer {
  readonly enabled?: boolean;
  sendWelcome(email: string): Promise<unknown>;
}

export interface NotifierDeps {
  /** Present only when SIGNUP_WEBHOOK_URL is configured. */
  slack?: SignupAnnouncer;
  /** Present (and enabled) only when MAILGUN_API_KEY and MAILGUN_DOMAIN are configured. */
  mailer?: WelcomeMailer;
  logger: Logger;
}

export interface BackgroundNotifier extends Notifier {
  /** Resolves once every welcome e-mail started so far has been sent or given up (tests, shutdown). */
  drain(): Promise<void>;
}

/**
 * userSignedUp awaits the Slack post (bounded by SlackClient's attempts and timeout) and logs a failure.
 * userApproved returns at once; the e-mail, with MailgunMailer's bounded retries, goes out in the
 * background and a final failure is logged at error level.
 */
export function buildNotifier(deps: NotifierDeps): BackgroundNotifier {
  const log = deps.logger.child({ module: "notifier" });
  const pending = new Set<Promise<void>>();

  return {
    async userSignedUp(user) {
      if (!deps.slack) return;
      try {
        await deps.slack.postSignup(
          user.email,
          user.emailVerified === undefined ? {} : { emailVerified: user.emailVerified },
        );
        log.info({ email: user.email }, "signup announced on Slack");
      } catch (err) {
        log.error({ err, email: user.email }, "could not announce signup on Slack");
      }
    },

    async userApproved(user) {
      const mailer = deps.mailer;
      if (!mailer || mailer.enabled === false) return;
      const job = (async () => {
        try {
          await mailer.sendWelcome(user.email);
          log.info({ email: user.email }, "welcome e-mail sent");
        } catch (err) {
          log.error({ err, email: user.email }, "welcome e-mail not sent");
        }
      })();
      pending.add(job);
      void job.finally(() => pending.delete(job));
    },

    async drain() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
  };
}
