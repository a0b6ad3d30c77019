// Wire shapes of the users and token routes (docs/api.md "Users and tokens"). The OpenAPI document publishes
// them (op() in src/http/openapi.ts) and the presenters' output is typed by them
// (src/http/presenters/user.presenter.ts).
import { z } from "zod";

/** A user of GET /users. */
export const UserJson = z.object({
  email: z.string(),
  id: z.number(),
  admin: z.boolean(),
  pending: z.boolean(),
});
/** A user of GET /pending: the same without `pending` (they all are). */
export const PendingUserJson = UserJson.omit({ pending: true });

export const UserListResponse = z.object({ users: z.array(UserJson) });
export const PendingUserListResponse = z.object({ users: z.array(PendingUserJson) });

/** POST /token/refresh; `message` only when authentication is disabled. */
export const AccessTokenResponse = z.object({
  access_token: z.string(),
  auth_disabled: z.boolean(),
  message: z.string().optional(),
});

/** GET /device-flow-info. */
export const DeviceFlowInfoResponse = z.object({
  client: z.string().describe("OAUTH_DEVICE_FLOW_CLIENT_ID, a public client (no secret)"),
  config: z.string().describe("URL of the provider's OpenID Connect discovery document"),
});

/** GET /bearer-token-exchange. */
export const TerminalTokenResponse = z.object({
  jwt: z.string(),
  pending: z.boolean(),
  email: z.string(),
  admin: z.boolean(),
});

export type UserJson = z.output<typeof UserJson>;
export type PendingUserJson = z.output<typeof PendingUserJson>;
export type UserListResponse = z.output<typeof UserListResponse>;
export type PendingUserListResponse = z.output<typeof PendingUserListResponse>;
export type AccessTokenResponse = z.output<typeof AccessTokenResponse>;
export type DeviceFlowInfoResponse = z.output<typeof DeviceFlowInfoResponse>;
export type TerminalTokenResponse = z.output<typeof TerminalTokenResponse>;
