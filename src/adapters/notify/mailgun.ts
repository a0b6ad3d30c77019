// Mailgun welcome e-mail on approval (docs/sign-in.md): POST <url>/v3/<domain>/messages with basic auth
// api:<key>, from "ServiceX <noreply@<domain>>", subject "Welcome to ServiceX!", html and text bodies from
// views/emails/. A no-op without MAILGUN_API_KEY and MAILGUN_DOMAIN, as upstream.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import ejs from "ejs";
import type Mailgun from "mailgun.js";
import type { Logger } from "../../logger.js";
import { isTransientStatus, type RetryPolicy, withRetries } from "./retry.js";

export const DEFAULT_MAILGUN_URL = "https://api.mailgun.net";
export const WELCOME_SUBJECT = "Welcome to ServiceX!";

const EMAIL_VIEWS = fileURLToPath(new URL("../../../views/emails/", import.meta.url));

export interface MailgunMailerOptions extends RetryPolicy {
  /** MAILGUN_API_KEY; empty → sendWelcome does nothing. */
  apiKey?: string;
  /** MAILGUN_DOMAIN; empty → sendWelcome does nothing. */
  domain?: string;
  /** MAILGUN_URL: API base (default https://api.mailgun.net; https://api.eu.mailgun.net for EU domains). */
  url?: string;
  /** DOCS_BASE_URL: the e-mail links to <DOCS_BASE_URL>/user/getting-started/. */
  docsBaseUrl: string;
  /** Per-attempt timeout (default 10 s). */
  timeoutMs?: number;
  logger?: Logger;
  /** Where welcome.ejs and welcome.text.ejs live (default <project>/views/emails). */
  viewsDir?: string;
}

export type WelcomeResult =
  | { sent: true; id: string | undefined }
  | { sent: false; reason: "not_configured" };

/** Mailgun refused the message or could not be reached after every attempt. */
export class MailgunSendError extends Error {
  override readonly name = "MailgunSendError";
  constructor(
    message: string,
    /** HTTP status from Mailgun; undefined when no answer came (network error, timeout). */
    readonly status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** <docsBaseUrl>/user/getting-started/, whether or not the base ends with a slash. */
export function gettingStartedUrl(docsBaseUrl: string): string {
  return `${docsBaseUrl.replace(/\/+$/, "")}/user/getting-started/`;
}

export interface RenderedEmail {
  html: string;
  text: string;
}

type Template = (data: Record<string, unknown>) => string;
const templateCache = new Map<string, Promise<{ html: Template; text: Template }>>();

function loadTemplates(viewsDir: string) {
  let cached = templateCache.get(viewsDir);
  if (!cached) {
    const compileFile = async (name: string): Promise<Template> => {
      const filename = `${viewsDir.replace(/\/?$/, "/")}${name}`;
      return ejs.compile(await readFile(filename, "utf8"), { filename });
    };
    cached = Promise.all([compileFile("welcome.ejs"), compileFile("welcome.text.ejs")]).then(
      ([html, text]) => ({
        html,
        text,
      }),
    );
    // A missing template is a deployment error; do not keep the rejection around forever.
    cached.catch(() => templateCache.delete(viewsDir));
    templateCache.set(viewsDir, cached);
  }
  return cached;
}

/** Renders the welcome e-mail (HTML and plain text). */
export async function renderWelcomeEmail(
  data: { email: string; docsBaseUrl: string },
  viewsDir: string = EMAIL_VIEWS,
): Promise<RenderedEmail> {
  const t = await loadTemplates(viewsDir);
  const vars = { email: data.email, gettingStartedUrl: gettingStartedUrl(data.docsBaseUrl) };
  return { html: t.html(vars), text: t.text(vars) };
}

/** mailgun.js reports a failed connection as status 400 with the Node error code as message. */
function describe(err: unknown): { status: number | undefined; answered: boolean; message: string } {
  if (typeof err === "object" && err !== null && (err as { type?: unknown }).type === "MailgunAPIError") {
    const e = err as { status?: number; message?: string; details?: unknown };
    const message = e.message ?? "";
    const answered = !/^(E[A-Z0-9_]+|ERR_[A-Z0-9_]+)$/.test(message);
    const details = typeof e.details === "string" && e.details ? ` ${e.details.slice(0, 200)}` : "";
    return answered
      ? { status: e.status, answered, message: `HTTP ${e.status} ${message}${details}`.trim() }
      : { status: undefined, answered, message: `${message}${details}` };
  }
  return { status: undefined, answered: false, message: err instanceof Error ? err.message : String(err) };
}

function isRetryable(err: unknown): boolean {
  const d = describe(err);
  return !d.answered || (d.status !== undefined && isTransientStatus(d.status));
}

export class MailgunMailer {
  private client: Promise<ReturnType<Mailgun["client"]>> | undefined;
  private readonly options: MailgunMailerOptions;

  constructor(options: MailgunMailerOptions) {
    this.options = { ...options };
  }

  /** False when MAILGUN_API_KEY or MAILGUN_DOMAIN is missing (then nothing is ever sent). */
  get enabled(): boolean {
    return Boolean(this.options.apiKey && this.options.domain);
  }

  /** The Mailgun client, loaded at the first e-mail: most sites never send one, and it is ~35 MB of memory. */
  private mailgun(apiKey: string): Promise<ReturnType<Mailgun["client"]>> {
    this.client ??= Promise.all([import("mailgun.js"), import("form-data")]).then(
      ([{ default: MailgunClass }, { default: FormData }]) =>
        new MailgunClass(FormData).client({
          username: "api",
          key: apiKey,
          url: (this.options.url || DEFAULT_MAILGUN_URL).replace(/\/+$/, ""),
          timeout: this.options.timeoutMs ?? 10_000,
        }),
    );
    return this.client;
  }

  /**
   * Sends the welcome e-mail; 3 attempts with backoff by default, retrying only failures another attempt
   * can fix (no answer, 5xx, 408, 429). Throws MailgunSendError when it could not be sent.
   */
  async sendWelcome(email: string): Promise<WelcomeResult> {
    const { apiKey, domain } = this.options;
    if (!apiKey || !domain) return { sent: false, reason: "not_configured" };
    const client = await this.mailgun(apiKey);
    const body = await renderWelcomeEmail(
      { email, docsBaseUrl: this.options.docsBaseUrl },
      this.options.viewsDir ?? EMAIL_VIEWS,
    );
    try {
      const res = await withRetries(
        () =>
          client.messages.create(domain, {
            from: `ServiceX <noreply@${domain}>`,
            to: [email],
            subject: WELCOME_SUBJECT,
            html: body.html,
            text: body.text,
          }),
        this.options,
        {
          isRetryable,
          onRetry: (err, attempt, delayMs) =>
            this.options.logger?.warn(
              { attempt, delayMs, error: describe(err).message },
              "Mailgun welcome e-mail failed, retrying",
            ),
        },
      );
      return { sent: true, id: res.id };
    } catch (err) {
      const d = describe(err);
      throw new MailgunSendError(`Mailgun welcome e-mail not sent: ${d.message}`, d.status, { cause: err });
    }
  }
}
