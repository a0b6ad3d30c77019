// Sign-in from a terminal (docs/api.md "Users and tokens", docs/sign-in.md "Signing in from a terminal",
// docs/decisions.md D34), upstream's two routes:
// - GET /device-flow-info: which public client and discovery document a terminal uses for the provider's
//   device authorization grant (RFC 8628);
// - GET /bearer-token-exchange: the provider's access token (checked by the provider) for the person's
//   ServiceX API token, with the browser sign-in's account rules (src/domain/terminalSignIn.service.ts).
// Both answer 404 unless ENABLE_AUTH, OAUTH_METADATA_URL and OAUTH_DEVICE_FLOW_CLIENT_ID are set. The
// exchange is rate-limited per client address like the sign-in callback (each call asks the provider), is
// a GET as upstream's but acts (it may create the account), so HEAD answers 405.
import { Router } from "express";
import { z } from "zod";
import { appError, notFound } from "../../domain/errors.js";
import { TerminalSignIn } from "../../domain/terminalSignIn.service.js";
import type { AppDeps } from "../deps.js";
import { refuseHead } from "../middleware/head.js";
import { rateLimit } from "../middleware/rateLimit.js";
import { op } from "../openapi.js";
import { MessageResponse } from "../schemas/common.js";

const NOT_CONFIGURED = "Device auth flow not configured";

/** The provider's access token of `Authorization: Bearer <token>`; anything else is a 401. */
function providerAccessToken(header: string | undefined): string {
  if (header === undefined || header.trim() === "") {
    throw appError("missing_authorization", {
      detail: "No bearer token provided: send Authorization: Bearer <access token of the identity provider>",
    });
  }
  const m = /^Bearer[ ]+([\x21-\x7e]{1,8192})$/i.exec(header.trim());
  if (!m) {
    throw appError("bad_authorization");
  }
  return m[1]!;
}

export function deviceFlowRoutes(deps: AppDeps): Router {
  const r = Router();
  const tokens = deps.providerTokens ?? null;
  const terminal = new TerminalSignIn(deps.users, deps.logger.child({ module: "terminal-sign-in" }));
  const notConfigured = () =>
    notFound(
      deps.config.ENABLE_AUTH
        ? NOT_CONFIGURED
        : `${NOT_CONFIGURED}: authentication is disabled on this instance, the client needs no token`,
      "device_flow_not_configured",
    );

  op(
    r,
    {
      method: "get",
      path: "/device-flow-info",
      tag: "users",
      summary:
        "Sign-in from a terminal: the public client id and the provider's discovery document for its device authorization grant",
      responses: {
        200: {
          description: "Where a terminal signs in",
          schema: z.object({
            client: z.string().describe("OAUTH_DEVICE_FLOW_CLIENT_ID, a public client (no secret)"),
            config: z.string().describe("URL of the provider's OpenID Connect discovery document"),
          }),
        },
        404: { description: "Terminal sign-in is not configured", schema: MessageResponse },
      },
    },
    (_req, res) => {
      if (!tokens) throw notConfigured();
      res
        .set("Cache-Control", "no-store")
        .json({ client: tokens.deviceClientId, config: tokens.discoveryUrl });
    },
  );

  refuseHead(r, "/bearer-token-exchange", "GET");
  r.get("/bearer-token-exchange", rateLimit({ limit: deps.config.RATE_LIMIT_PER_MINUTE }));
  op(
    r,
    {
      method: "get",
      path: "/bearer-token-exchange",
      tag: "users",
      summary:
        "Sign-in from a terminal: trade `Authorization: Bearer <provider access token>` for your ServiceX API token (made the first time, as at browser sign-up)",
      responses: {
        200: {
          description:
            "The API token (the refresh token of servicex.yaml) and whether the account still awaits approval",
          schema: z.object({
            jwt: z.string(),
            pending: z.boolean(),
            email: z.string(),
            admin: z.boolean(),
          }),
        },
        401: {
          description: "No bearer token, or the provider refused it (expired, revoked, not an access token)",
          schema: MessageResponse,
        },
        403: {
          description: "New account, but the provider vouches for no e-mail of the person",
          schema: MessageResponse,
        },
        404: { description: "Terminal sign-in is not configured", schema: MessageResponse },
        409: {
          description: "The e-mail belongs to an account of another sign-in identity",
          schema: MessageResponse,
        },
        429: { description: "Too many calls from this address", schema: MessageResponse },
        503: { description: "The identity provider could not be reached", schema: MessageResponse },
      },
    },
    async (req, res) => {
      if (!tokens) throw notConfigured();
      const accessToken = providerAccessToken(req.headers.authorization);
      const identity = await tokens.identity(accessToken);
      const out = await terminal.exchange(identity);
      res
        .set("Cache-Control", "no-store")
        .json({ jwt: out.token, pending: out.pending, email: out.email, admin: out.admin });
    },
  );
  return r;
}
