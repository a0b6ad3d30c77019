// The error catalogue: every expected failure of the App, once. Each entry has a stable machine `code` (the
// key), the HTTP `status` answered at the edge, the `message` template ({name} is filled from the call's
// parameters) and a `doc` saying when it happens. docs/errors.md is generated from this table
// (`npm run docs:errors`; a unit test fails when they disagree). `body` on an AppError is an optional exact
// wire body (ServiceX clients parse `message`, some callers `msg`); otherwise the edge answers
// {"message": …, "code": …} (src/http/middleware/errorHandler.ts).

export class AppError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 500,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = "AppError";
  }
  /** Client errors and "unavailable, retry" answers carry their message; other 5xx say only "Internal Server Error". */
  get expose(): boolean {
    return this.status < 500 || this.status === 503 || this.body !== undefined;
  }
}

interface Entry {
  readonly status: number;
  readonly message: string;
  readonly doc: string;
}

export const ERROR_CATALOGUE = {
  // ---- transport and generic ----
  bad_request: {
    status: 400,
    message: "{detail}",
    doc: "A request the App cannot act on, with the reason in the message (e.g. a dataset already deleted, a request that does not use the object store, a bad `later_than`, a file-status report with missing fields). When the HTTP parser refuses a body for another 4xx reason, its status is kept.",
  },
  malformed_json: {
    status: 400,
    message: "The json request was malformed: {detail}",
    doc: "The body is not valid JSON.",
  },
  malformed_request: {
    status: 400,
    message: "The json request was malformed: {detail}",
    doc: "A transform submission whose JSON does not match the request schema (docs/api.md).",
  },
  validation_failed: {
    status: 400,
    message: "{detail}",
    doc: "A body, query or path parameter does not match the route's schema; the message names the field.",
  },
  invalid_text: {
    status: 400,
    message: "The request carries text that cannot be stored (a NUL character or invalid UTF-8)",
    doc: "Text the database cannot store reached it (the schemas refuse it first; this is the net).",
  },
  request_aborted: {
    status: 400,
    message: "Request aborted",
    doc: "The client closed the connection while sending the body.",
  },
  body_too_large: {
    status: 413,
    message: "Request body too large: the limit is {limit} bytes.{advice}",
    doc: "The body exceeds the route's size limit (docs/api.md).",
  },
  unsupported_encoding: {
    status: 415,
    message: "{detail}",
    doc: "The body's Content-Encoding or charset is not supported.",
  },
  method_not_allowed: {
    status: 405,
    message: "HEAD is not allowed here (it would act); use {allow}",
    doc: "HEAD on a path whose GET acts (e.g. signs out); the `Allow` header names the methods.",
  },
  not_found: {
    status: 404,
    message: "{detail}",
    doc: "The thing named in the URL does not exist, or belongs to another user (answered alike): an unknown route (`The requested URL GET /x was not found on the server.`), transform request (`Transformation request not found with id: …`), result file or deployment.",
  },
  rate_limited: {
    status: 429,
    message: "Too many requests: at most {limit} per {seconds} s. Retry in {retry} s.",
    doc: "A caller exceeded a route's rate limit (sign-in, token and form routes); `Retry-After` says when to retry.",
  },
  internal: {
    status: 500,
    message: "Internal Server Error",
    doc: "An unexpected failure (a bug); details only in the log.",
  },
  database_unavailable: {
    status: 503,
    message: "The database is unavailable; please retry shortly.",
    doc: "The database cannot be reached or is restarting; `Retry-After: 5`.",
  },
  // ---- authentication and accounts ----
  missing_authorization: {
    status: 401,
    message: "{detail}",
    doc: "A route that needs a token got no `Authorization: Bearer …` header (the message is the one ServiceX clients expect on that route).",
  },
  bad_authorization: {
    status: 401,
    message:
      "Bad Authorization header: expected Authorization: Bearer <access token of the identity provider>",
    doc: "The device-flow token exchange got an Authorization header that is not `Bearer <token>`.",
  },
  token_expired: {
    status: 401,
    message: "Token has expired",
    doc: 'The App\'s JWT (access or refresh) has expired; body `{"msg": …}` as flask-jwt-extended.',
  },
  invalid_token: {
    status: 422,
    message: "{detail}",
    doc: 'The App\'s JWT is malformed, badly signed, of the wrong type or lacks a claim; body `{"msg": …}` as flask-jwt-extended.',
  },
  unauthorized: {
    status: 401,
    message: "{detail}",
    doc: "A credential the App no longer accepts (e.g. an outdated refresh token).",
  },
  outdated_refresh_token: {
    status: 401,
    message: "Invalid or outdated refresh token",
    doc: "A refresh token that was replaced by a newer one or belongs to a removed session.",
  },
  user_deleted: {
    status: 401,
    message: "{detail}",
    doc: "The token or session belongs to an account that has been deleted.",
  },
  user_deleted_meanwhile: {
    status: 409,
    message: "The account was deleted meanwhile; try again",
    doc: "A terminal sign-in found the account, which was deleted before its token was issued.",
  },
  user_pending: {
    status: 401,
    message: "{detail}",
    doc: "The account exists but an administrator has not approved it yet.",
  },
  admin_only: {
    status: 403,
    message: "Not Authorized: This resource is restricted to administrators.",
    doc: "A non-administrator called an administrators' route.",
  },
  forbidden: {
    status: 403,
    message: "{detail}",
    doc: "The caller may not act on this transform request (another user's request).",
  },
  sign_in_required: {
    status: 401,
    message: "Sign in to see your requests.",
    doc: "A page's JSON companion (the dashboards' live updates) asked without a signed-in browser session.",
  },
  csrf_failed: {
    status: 403,
    message: "The form has expired or did not come from this site. Please try again.",
    doc: "A form post without a valid CSRF token (expired session or another site).",
  },
  auth_disabled: {
    status: 400,
    message: "Authentication is disabled on this instance",
    doc: "A token route was called while ENABLE_AUTH is off.",
  },
  unverified_email: {
    status: 403,
    message: "{detail}",
    doc: "A terminal sign-in whose identity provider vouches for no e-mail address: no account is created.",
  },
  email_not_of_identity: {
    status: 422,
    message: "Use an e-mail address of your sign-in identity ({verified})",
    doc: "A new profile chose an e-mail its identity provider does not vouch for.",
  },
  email_taken: {
    status: 409,
    message: "{detail}",
    doc: "Another account already uses this e-mail address.",
  },
  email_reserved: {
    status: 409,
    message:
      "The e-mail {email} is reserved for the administrator: sign in with an identity whose provider vouches for it",
    doc: "A profile claims JWT_ADMIN's e-mail without the provider vouching for it.",
  },
  sub_taken: {
    status: 409,
    message: "{detail}",
    doc: "A profile already exists for this sign-in identity (a second sign-up raced the first).",
  },
  not_pending: {
    status: 409,
    message: "User {email} is already approved",
    doc: "Rejecting a sign-up that an administrator has already approved.",
  },
  user_not_found: {
    status: 404,
    message: "{detail}",
    doc: "The user named by id or e-mail in an administrators' call does not exist.",
  },
  missing_field: {
    status: 400,
    message: "{field}: This field cannot be blank",
    doc: 'A required argument of a users route is missing; body `{"message": {field: …}}` as reqparse.',
  },
  invalid_field: {
    status: 400,
    message: "{field}: {problem}",
    doc: "An argument of a users route is present but invalid (e.g. not an e-mail).",
  },
  bad_slack_payload: {
    status: 400,
    message: "{detail}",
    doc: "A Slack interaction post that cannot be parsed.",
  },
  provider_token_refused: {
    status: 401,
    message: "The identity provider's access token was refused: {why}",
    doc: "The device-flow exchange got an identity-provider token the provider does not accept.",
  },
  provider_unavailable: {
    status: 503,
    message: "The identity provider could not check the token ({why}); please retry shortly.",
    doc: "The identity provider could not be asked (down, timing out, answering nonsense).",
  },
  device_flow_not_configured: {
    status: 404,
    message: "{detail}",
    doc: "The device-flow routes are called but no identity provider is configured (docs/api.md).",
  },
  // ---- transform requests ----
  bad_idempotency_key: {
    status: 400,
    message: "Idempotency-Key must be 1 to 255 characters",
    doc: "A submit's Idempotency-Key header is empty or too long.",
  },
  idempotency_key_reused: {
    status: 422,
    message: "This Idempotency-Key was already used with a different request body",
    doc: "A submit repeats an Idempotency-Key with a different body.",
  },
  idempotency_in_progress: {
    status: 409,
    message: "A submit with this Idempotency-Key is still in progress",
    doc: "A submit repeats an Idempotency-Key whose first submit has not finished.",
  },
  too_many_active_requests: {
    status: 429,
    message:
      "You have {n} transform requests in progress; the limit is {limit}. Wait for one to finish or cancel one.",
    doc: "A user submits beyond their limit of active transform requests.",
  },
  invalid_codegen: {
    status: 400,
    message: "Invalid Codegen Image Passed in Request: {codegen}",
    doc: "A submit names a code generator that is not configured.",
  },
  did_or_file_list: {
    status: 400,
    message: "Must provide did or file-list but not both",
    doc: "A submit gives both or neither of `did` and `file-list`.",
  },
  invalid_did: {
    status: 400,
    message: "{detail}",
    doc: "A submit's DID cannot be parsed or is too long.",
  },
  unsupported_did_scheme: {
    status: 400,
    message: "DID scheme is not supported: {scheme}",
    doc: "A submit's DID names a scheme no DID finder serves.",
  },
  not_in_progress: {
    status: 400,
    message: "Transform request with id {id} is not in progress.",
    doc: "Cancelling a transform request that has already ended.",
  },
  in_progress: {
    status: 400,
    message: "Transform request with id {id} is still in progress.",
    doc: "Deleting a transform request that is still running.",
  },
  codegen_failed: {
    status: 400,
    message: "{detail}",
    doc: "The code generator refused the selection (the user's input); a generator's own status may be kept.",
  },
  codegen_unavailable: {
    status: 503,
    message: "Code generator {codegen} unavailable: {why}",
    doc: "The code generator could not be reached.",
  },
  object_store_unavailable: {
    status: 503,
    message: "The object store is unavailable: {why}",
    doc: "The object store refused or timed out while a bucket was made for a request.",
  },
  rerun_request_active: {
    status: 409,
    message: "{detail}",
    doc: "Re-running the failed files of a request that is still running.",
  },
  rerun_not_complete: {
    status: 409,
    message: "{detail}",
    doc: "Re-running the failed files of a request that ended other than Complete.",
  },
  rerun_no_failed_files: {
    status: 409,
    message: "Transform request {id} has no failed files to re-run.",
    doc: "Re-running a request that has no failed files.",
  },
  rerun_dataset_stale: {
    status: 409,
    message: "{detail}",
    doc: "Re-running a request whose dataset has been marked stale.",
  },
  rerun_codegen_gone: {
    status: 409,
    message: "{detail}",
    doc: "Re-running a request whose code generator is no longer configured.",
  },
  // ---- datasets and internal callbacks ----
  dataset_not_found: {
    status: 404,
    message: "Dataset {id} not found",
    doc: "The dataset named in the URL does not exist.",
  },
  unknown_dataset: {
    status: 422,
    message: "Dataset {id} not found",
    doc: "A DID finder reports on a dataset that no longer exists (the URL was valid when its lookup started).",
  },
  request_not_found: {
    status: 404,
    message: "Request not found",
    doc: "An internal callback names a transform request that does not exist.",
  },
  lookup_already_ended: {
    status: 409,
    message: "{detail}",
    doc: "A DID finder reports on a dataset lookup that has already completed or failed; the report is ignored.",
  },
  file_not_in_request: {
    status: 400,
    message: "File {file} is not a file of request {request}",
    doc: "A transformer reports on a file that does not belong to the request.",
  },
  request_not_running: {
    status: 409,
    message:
      "Request {id} has no transform tasks yet (its dataset lookup has not completed); the report was not recorded",
    doc: "A transformer reports before the request's dataset lookup has completed.",
  },
  bad_status: {
    status: 400,
    message: "bad status",
    doc: "A transformer's status report does not match its schema.",
  },
  invalid_age: {
    status: 422,
    message: "Invalid age parameter",
    doc: "The dataset lifecycle's age (hours) is not a non-negative number in range.",
  },
  invalid_max_age: {
    status: 422,
    message: "Invalid maxAge parameter",
    doc: "The Kubernetes clean-up's maxAge (hours) is not a non-negative number in range.",
  },
  invalid_cutoff: {
    status: 400,
    message: "{detail}",
    doc: "The lifecycle's cutoff_timestamp is missing or not an ISO 8601 time.",
  },
} as const satisfies Record<string, Entry>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;
type Catalogue = typeof ERROR_CATALOGUE;

/** The placeholder names of a message template ("{a} … {b}" → "a" | "b"). */
type Placeholders<S extends string> = S extends `${string}{${infer P}}${infer Rest}`
  ? P | Placeholders<Rest>
  : never;
type ParamsOf<C extends ErrorCode> = Record<Placeholders<Catalogue[C]["message"]>, string | number>;

export interface ErrorOptions {
  /** An exact wire body instead of {"message", "code"}: "message" / "msg" mean {[key]: message}. */
  body?: "message" | "msg" | Record<string, unknown>;
  /** Only for codes whose doc says a status is passed through (bad_request, codegen_failed). */
  status?: number;
}

/** Fills a template's {name} placeholders. */
export function fillTemplate(template: string, params: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in params ? String(params[k]) : m));
}

/** The one way to make an expected failure: `appError("request_not_found")`, `appError("in_progress", { id })`. */
export function appError<C extends ErrorCode>(
  code: C,
  ...args: Placeholders<Catalogue[C]["message"]> extends never
    ? [params?: Record<string, never>, options?: ErrorOptions]
    : [params: ParamsOf<C>, options?: ErrorOptions]
): AppError {
  const [params = {}, options = {}] = args as [Record<string, string | number>?, ErrorOptions?];
  const e: Entry = ERROR_CATALOGUE[code];
  const message = fillTemplate(e.message, params);
  const body =
    options.body === "message" || options.body === "msg" ? { [options.body]: message } : options.body;
  return new AppError(code, message, options.status ?? e.status, body);
}

/** Codes whose catalogue status is S. */
export type CodeWithStatus<S extends number> = {
  [K in ErrorCode]: Catalogue[K]["status"] extends S ? K : never;
}[ErrorCode];

const withDetail = (code: ErrorCode, detail: string) =>
  new AppError(code, detail, ERROR_CATALOGUE[code].status);

// Short forms for entries whose template is "{detail}"; the code must be one catalogued with that status.
export const badRequest = (detail: string, code: CodeWithStatus<400> = "bad_request") =>
  withDetail(code, detail);
export const notFound = (detail: string, code: CodeWithStatus<404> = "not_found") => withDetail(code, detail);
export const forbidden = (detail: string, code: CodeWithStatus<403> = "forbidden") =>
  withDetail(code, detail);
export const conflict = (detail: string, code: CodeWithStatus<409>) => withDetail(code, detail);
export const unprocessable = (detail: string, code: CodeWithStatus<422>) => withDetail(code, detail);

/** "Transformation request not found with id: …": the answer for an unknown (or another user's) request. */
export const transformNotFound = (id: string | number) =>
  appError("not_found", { detail: `Transformation request not found with id: ${id}` });

/** A code generator answered with an error or could not be reached (docs/codegen.md). */
export class CodeGenError extends AppError {
  constructor(message: string, status = 500) {
    super("codegen_failed", message, status);
    this.name = "CodeGenError";
  }
}
