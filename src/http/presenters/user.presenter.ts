// Users and tokens as the wire shows them (docs/api.md "Users and tokens"), typed by the response schemas
// the OpenAPI document publishes (src/http/schemas/users.schemas.ts, src/http/schemas/common.ts).
import type { UserRecord } from "../../domain/repositories.js";
import type { SlackOutcome } from "../../domain/slackApproval.service.js";
import type { TerminalSignInResult } from "../../domain/terminalSignIn.service.js";
import type { z } from "zod";
import type { MessageResponse } from "../schemas/common.js";
import type {
  AccessTokenResponse,
  DeviceFlowInfoResponse,
  PendingUserListResponse,
  TerminalTokenResponse,
  UserListResponse,
} from "../schemas/users.schemas.js";

type Message = z.output<typeof MessageResponse>;

/** GET /users. */
export const userListJson = (users: readonly UserRecord[]): UserListResponse => ({
  users: users.map((u) => ({ email: u.email, id: u.id, admin: u.admin, pending: u.pending })),
});

/** GET /pending. */
export const pendingUserListJson = (users: readonly UserRecord[]): PendingUserListResponse => ({
  users: users.map((u) => ({ email: u.email, id: u.id, admin: u.admin })),
});

/** DELETE /users, DELETE /pending. */
export const deletedRowsJson = (n: number): Message => ({ message: `${n} row(s) deleted` });

/** DELETE /users/:user_id. */
export const userDeletedJson = (id: number): Message => ({ message: `user ${id} has been deleted` });

/** POST /accept. */
export const userApprovedJson = (user: Pick<UserRecord, "email">): Message => ({
  message: `user ${user.email} now ready for access`,
});

/** POST /token/refresh: the new access token, or (null) the answer of an instance without authentication. */
export const accessTokenJson = (token: string | null): AccessTokenResponse =>
  token === null
    ? {
        message: "Authentication is disabled on this instance",
        access_token: "authentication_disabled",
        auth_disabled: true,
      }
    : { access_token: token, auth_disabled: false };

/** GET /device-flow-info. */
export const deviceFlowInfoJson = (p: {
  deviceClientId: string;
  discoveryUrl: string;
}): DeviceFlowInfoResponse => ({
  client: p.deviceClientId,
  config: p.discoveryUrl,
});

/** GET /bearer-token-exchange. */
export const terminalTokenJson = (r: TerminalSignInResult): TerminalTokenResponse => ({
  jwt: r.token,
  pending: r.pending,
  email: r.email,
  admin: r.admin,
});

/**
 * POST /slack: 200 with an empty body once handled; a click the signature check refused gets its status with
 * `{"message"}` alone (as upstream answers, and as Slack shows it).
 */
export const slackAnswer = (o: SlackOutcome): { status: number; body?: Message } =>
  o.kind === "handled" ? { status: 200 } : { status: o.status, body: { message: o.message } };
