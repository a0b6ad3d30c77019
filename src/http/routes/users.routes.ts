// Token, user administration and Slack endpoints (docs/api.md, docs/sign-in.md, docs/decisions.md D8, D9).
import express, { type Request, Router } from "express";
import { z } from "zod";
import { bearerToken } from "../../adapters/auth/jwt.js";
import {
  approvedMessage,
  ephemeralMessage,
  postToResponseUrl,
  rejectedMessage,
} from "../../adapters/notify/slack.js";
import { parseSlackPayload, verifySlackRequest } from "../../adapters/notify/slackVerify.js";
import { appError, AppError } from "../../domain/errors.js";
import type { AppDeps } from "../deps.js";
import { errorBody } from "../middleware/errorHandler.js";
import { rateLimit, userOrClientKey } from "../middleware/rateLimit.js";
import { op } from "../openapi.js";
import { MessageResponse, text } from "../schemas/common.js";

const UserJson = z.object({ email: z.string(), id: z.number(), admin: z.boolean(), pending: z.boolean() });

/** reqparse's answer for a missing required argument. */
const blank = (field: string) =>
  appError("missing_field", { field }, { body: { message: { [field]: "This field cannot be blank" } } });

/** An e-mail as the users table holds it (varchar(320)), without NUL characters. */
const EmailArg = text(320);

/** `value` as an e-mail argument, or a 400 naming the field and the reason (never a database error). */
function emailArg(value: string, field = "email"): string {
  const r = EmailArg.safeParse(value);
  if (r.success) return r.data;
  throw appError("invalid_field", { field, problem: r.error.issues[0]?.message ?? "invalid" });
}

/** An argument from the JSON body, a form body or the query string (reqparse looked in all of them). */
function arg(req: Request, name: string): string | undefined {
  const body = req.body as unknown;
  if (body && typeof body === "object" && !Array.isArray(body)) {
    const v = (body as Record<string, unknown>)[name];
    if (typeof v === "string") return v;
  }
  const q = req.query[name];
  return typeof q === "string" ? q : undefined;
}

export function userRoutes(deps: AppDeps): Router {
  const r = Router();
  const { users, config } = deps;
  const perMinute = config.RATE_LIMIT_PER_MINUTE;
  const admin = (req: Request) =>
    deps.requester(req, { admin: true, changesState: req.method !== "GET" && req.method !== "HEAD" });

  // Per user (of a verified API token), so that one user's script cannot lock out everyone behind its address.
  r.post("/token/refresh", rateLimit({ limit: perMinute, key: userOrClientKey(deps.jwt, "refresh") }));
  op(
    r,
    {
      method: "post",
      path: "/token/refresh",
      tag: "users",
      summary:
        "A new access token for `Authorization: Bearer <refresh token>` (the API token of servicex.yaml)",
      responses: {
        200: {
          description: "Access token",
          schema: z.object({
            access_token: z.string(),
            auth_disabled: z.boolean(),
            message: z.string().optional(),
          }),
        },
        401: { description: "Missing, expired or outdated token, or deleted user" },
        422: { description: "Not a refresh token, or undecodable" },
      },
    },
    async (req, res) => {
      if (!config.ENABLE_AUTH) {
        res.json({
          message: "Authentication is disabled on this instance",
          access_token: "authentication_disabled",
          auth_disabled: true,
        });
        return;
      }
      const token = bearerToken(req.headers.authorization);
      if (token === null)
        throw appError("missing_authorization", { detail: "Missing Authorization Header" }, { body: "msg" });
      res.json({ access_token: await users.refresh(token), auth_disabled: false });
    },
  );

  op(
    r,
    {
      method: "get",
      path: "/users",
      tag: "users",
      summary: "All users (admin)",
      responses: { 200: { description: "Users", schema: z.object({ users: z.array(UserJson) }) } },
    },
    async (req, res) => {
      await admin(req);
      const list = await users.repo.list();
      res.json({
        users: list.map((u) => ({ email: u.email, id: u.id, admin: u.admin, pending: u.pending })),
      });
    },
  );

  op(
    r,
    {
      method: "delete",
      path: "/users",
      tag: "users",
      summary: "Delete every user (admin)",
      responses: { 200: { description: "Count", schema: MessageResponse } },
    },
    async (req, res) => {
      await admin(req);
      res.json({ message: `${await users.deleteAll()} row(s) deleted` });
    },
  );

  op(
    r,
    {
      method: "delete",
      path: "/users/:user_id",
      tag: "users",
      summary: "Delete one user (admin); their requests keep submitted_by",
      params: z.object({
        user_id: z.coerce
          .number()
          .int()
          .min(1)
          .max(2 ** 31 - 1),
      }),
      notFound: (req) => {
        const detail = `user ${String(req.params.user_id)} not found`;
        return appError("user_not_found", { detail }, { body: "message" });
      },
      responses: {
        200: { description: "Deleted", schema: MessageResponse },
        404: { description: "Unknown user", schema: MessageResponse },
      },
    },
    async (req, res, { params }) => {
      await admin(req);
      await users.deleteUser(params.user_id);
      res.json({ message: `user ${params.user_id} has been deleted` });
    },
  );

  op(
    r,
    {
      method: "get",
      path: "/pending",
      tag: "users",
      summary: "Users waiting for approval (admin)",
      responses: {
        200: {
          description: "Pending users",
          schema: z.object({ users: z.array(UserJson.omit({ pending: true })) }),
        },
      },
    },
    async (req, res) => {
      await admin(req);
      const list = await users.repo.list({ pending: true });
      res.json({ users: list.map((u) => ({ email: u.email, id: u.id, admin: u.admin })) });
    },
  );

  op(
    r,
    {
      method: "delete",
      path: "/pending",
      tag: "users",
      summary: "Delete every pending user (admin)",
      responses: { 200: { description: "Count", schema: MessageResponse } },
    },
    async (req, res) => {
      await admin(req);
      res.json({ message: `${await users.deleteAll({ pending: true })} row(s) deleted` });
    },
  );

  r.post(
    "/accept",
    rateLimit({ limit: perMinute, key: userOrClientKey(deps.jwt, "access") }),
    express.urlencoded({ extended: false, limit: "16kb" }),
  );
  op(
    r,
    {
      method: "post",
      path: "/accept",
      tag: "users",
      summary: "Approve a pending user by e-mail (admin); sends the welcome e-mail",
      responses: {
        200: { description: "Approved", schema: MessageResponse },
        400: { description: 'email missing: {"message": {"email": "This field cannot be blank"}}' },
        404: { description: "Unknown e-mail", schema: MessageResponse },
      },
    },
    async (req, res) => {
      await admin(req);
      const email = arg(req, "email");
      if (!email) throw blank("email");
      const user = await users.accept(emailArg(email));
      res.json({ message: `user ${user.email} now ready for access` });
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
        400: { description: "Not a Slack interaction payload", schema: MessageResponse },
        401: { description: "Signature mismatch" },
        403: { description: "No signing secret, or stale timestamp" },
        404: { description: "Unknown user" },
      },
    },
    async (req, res) => {
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const parsed = parseSlackPayload(raw);
      if (!parsed.ok) throw appError("bad_slack_payload", { detail: parsed.error });
      const it = parsed.interaction;
      const log = deps.logger.child({ module: "slack" });
      const reply = (body: Parameters<typeof postToResponseUrl>[1], verified: boolean) => {
        void postToResponseUrl(it.responseUrl, body, {
          logger: log,
          ...(verified ? {} : { allowedHosts: config.SLACK_RESPONSE_URL_HOSTS }),
        }).catch((err: unknown) => log.warn({ err: String(err) }, "Slack response_url post failed"));
      };
      const v = verifySlackRequest({
        signingSecret: config.SLACK_SIGNING_SECRET,
        timestampHeader: req.headers["x-slack-request-timestamp"],
        signatureHeader: req.headers["x-slack-signature"],
        rawBody: raw,
      });
      if (v.result !== "ok") {
        reply(ephemeralMessage(v.message), false);
        res.status(v.status).json({ message: v.message });
        return;
      }
      try {
        const email = emailArg(it.value ?? "", "actions[0].value");
        if (it.actionId === "accept_user") {
          await users.accept(email);
          reply(approvedMessage(it.messageBlocks, it.userId), true);
        } else if (it.actionId === "reject_user") {
          await users.reject(email);
          reply(rejectedMessage(it.messageBlocks, it.userId), true);
        }
      } catch (err) {
        if (err instanceof AppError && err.status < 500) {
          reply(ephemeralMessage(err.message), true);
          res.status(err.status).json(errorBody(err));
          return;
        }
        throw err;
      }
      res.status(200).end();
    },
  );

  return r;
}
