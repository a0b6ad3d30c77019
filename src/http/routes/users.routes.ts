// Token, user administration and Slack endpoints (docs/api.md "Users and tokens", docs/sign-in.md,
// docs/decisions.md D8, D9). Each route declares its schema and guard, calls one service method (UserService,
// SlackApprovalService) and writes the answer with one presenter (src/http/presenters/user.presenter.ts).
import express, { type Request, Router } from "express";
import { z } from "zod";
import { bearerToken, type JwtService } from "../../adapters/auth/jwt.js";
import type { Config } from "../../config.js";
import { appError } from "../../domain/errors.js";
import type { SlackApprovalService } from "../../domain/slackApproval.service.js";
import { emailArgument, type UserService } from "../../domain/users.service.js";
import type { Auth } from "../middleware/auth.js";
import { rateLimit, userOrClientKey } from "../middleware/rateLimit.js";
import { op } from "../openapi.js";
import {
  accessTokenJson,
  deletedRowsJson,
  pendingUserListJson,
  slackAnswer,
  userApprovedJson,
  userDeletedJson,
  userListJson,
} from "../presenters/user.presenter.js";
import { MessageResponse } from "../schemas/common.js";
import {
  ADMIN_ERRORS,
  ErrorResponse,
  MsgErrorResponse,
  TokenErrorResponse,
} from "../schemas/errors.schemas.js";
import { AccessTokenResponse, PendingUserListResponse, UserListResponse } from "../schemas/users.schemas.js";

export interface UserRoutesDeps {
  users: UserService;
  slackApproval: SlackApprovalService;
  auth: Auth;
  /** API token verifier for the rate limits' per-user keys; null without JWT_SECRET_KEY. */
  jwt: JwtService | null;
  config: Pick<Config, "ENABLE_AUTH" | "RATE_LIMIT_PER_MINUTE">;
}

/** The refresh token of `Authorization: Bearer <token>`, or flask-jwt-extended's 401 `{"msg"}`. */
function refreshTokenOf(req: Request): string {
  const token = bearerToken(req.headers.authorization);
  if (token === null)
    throw appError("missing_authorization", { detail: "Missing Authorization Header" }, { body: "msg" });
  return token;
}

/**
 * POST /accept's `email`, from the JSON body, a form body or the query string (reqparse looked in all of
 * them): missing is reqparse's `{"message": {"email": "This field cannot be blank"}}`, invalid a 400.
 */
function acceptEmail(req: Request): string {
  const body = req.body as unknown;
  let v: unknown;
  if (body && typeof body === "object" && !Array.isArray(body)) v = (body as Record<string, unknown>).email;
  if (typeof v !== "string") v = req.query.email;
  if (typeof v !== "string" || v === "") {
    throw appError(
      "missing_field",
      { field: "email" },
      { body: { message: { email: "This field cannot be blank" } } },
    );
  }
  return emailArgument(v);
}

const userIdParam = z.object({
  user_id: z.coerce
    .number()
    .int()
    .min(1)
    .max(2 ** 31 - 1),
});

export function userRoutes({ users, slackApproval, auth, jwt, config }: UserRoutesDeps): Router {
  const r = Router();
  const perMinute = config.RATE_LIMIT_PER_MINUTE;
  const adminReads = auth({ admin: true });
  const adminWrites = auth({ admin: true, changesState: true });

  // Per user (of a verified API token), so that one user's script cannot lock out everyone behind its address.
  r.post("/token/refresh", rateLimit({ limit: perMinute, key: userOrClientKey(jwt, "refresh") }));
  op(
    r,
    {
      method: "post",
      path: "/token/refresh",
      tag: "users",
      summary:
        "A new access token for `Authorization: Bearer <refresh token>` (the API token of servicex.yaml)",
      responses: {
        200: { description: "Access token", schema: AccessTokenResponse },
        401: {
          description: "Missing, expired or outdated token, or deleted user",
          schema: TokenErrorResponse,
        },
        422: { description: "Not a refresh token, or undecodable", schema: MsgErrorResponse },
      },
    },
    async (req, res) => {
      res.json(accessTokenJson(config.ENABLE_AUTH ? await users.refresh(refreshTokenOf(req)) : null));
    },
  );

  op(
    r,
    {
      method: "get",
      path: "/users",
      tag: "users",
      summary: "All users (admin)",
      guard: adminReads,
      responses: { 200: { description: "Users", schema: UserListResponse }, ...ADMIN_ERRORS },
    },
    async (_req, res) => {
      res.json(userListJson(await users.list()));
    },
  );

  op(
    r,
    {
      method: "delete",
      path: "/users",
      tag: "users",
      summary: "Delete every user (admin)",
      guard: adminWrites,
      responses: { 200: { description: "Count", schema: MessageResponse }, ...ADMIN_ERRORS },
    },
    async (_req, res) => {
      res.json(deletedRowsJson(await users.deleteAll()));
    },
  );

  op(
    r,
    {
      method: "delete",
      path: "/users/:user_id",
      tag: "users",
      summary: "Delete one user (admin); their requests keep submitted_by",
      params: userIdParam,
      notFound: (req) => {
        const detail = `user ${String(req.params.user_id)} not found`;
        return appError("user_not_found", { detail }, { body: "message" });
      },
      guard: adminWrites,
      responses: {
        200: { description: "Deleted", schema: MessageResponse },
        404: { description: "Unknown user", schema: ErrorResponse },
        ...ADMIN_ERRORS,
      },
    },
    async (_req, res, { params }) => {
      await users.deleteUser(params.user_id);
      res.json(userDeletedJson(params.user_id));
    },
  );

  op(
    r,
    {
      method: "get",
      path: "/pending",
      tag: "users",
      summary: "Users waiting for approval (admin)",
      guard: adminReads,
      responses: {
        200: { description: "Pending users", schema: PendingUserListResponse },
        ...ADMIN_ERRORS,
      },
    },
    async (_req, res) => {
      res.json(pendingUserListJson(await users.list({ pending: true })));
    },
  );

  op(
    r,
    {
      method: "delete",
      path: "/pending",
      tag: "users",
      summary: "Delete every pending user (admin)",
      guard: adminWrites,
      responses: { 200: { description: "Count", schema: MessageResponse }, ...ADMIN_ERRORS },
    },
    async (_req, res) => {
      res.json(deletedRowsJson(await users.deleteAll({ pending: true })));
    },
  );

  r.post(
    "/accept",
    rateLimit({ limit: perMinute, key: userOrClientKey(jwt, "access") }),
    express.urlencoded({ extended: false, limit: "16kb" }),
  );
  op(
    r,
    {
      method: "post",
      path: "/accept",
      tag: "users",
      summary: "Approve a pending user by e-mail (admin); sends the welcome e-mail",
      guard: adminWrites,
      responses: {
        200: { description: "Approved", schema: MessageResponse },
        400: { description: 'email missing: {"message": {"email": "This field cannot be blank"}}' },
        404: { description: "Unknown e-mail", schema: ErrorResponse },
        ...ADMIN_ERRORS,
      },
    },
    async (req, res) => {
      res.json(userApprovedJson(await users.accept(acceptEmail(req))));
    },
  );

  r.post("/slack", rateLimit({ limit: perMinute }), express.raw({ type: () => true, limit: "256kb" }));
  op(
    r,
    {
      method: "post",
      path: "/slack",
      tag: "users",
      summary: "Slack interactivity: Approve / Reject buttons of the sign-up message (v0-signed)",
      responses: {
        200: { description: "Handled (empty body)" },
        400: { description: "Not a Slack interaction payload", schema: ErrorResponse },
        401: { description: "Signature mismatch", schema: ErrorResponse },
        403: { description: "No signing secret, or stale timestamp", schema: ErrorResponse },
        404: { description: "Unknown user", schema: ErrorResponse },
      },
    },
    async (req, res) => {
      const outcome = await slackApproval.handle({
        rawBody: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
        timestampHeader: req.headers["x-slack-request-timestamp"],
        signatureHeader: req.headers["x-slack-signature"],
      });
      const answer = slackAnswer(outcome);
      if (answer.body) res.status(answer.status).json(answer.body);
      else res.status(answer.status).end();
    },
  );

  return r;
}
