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
import type { TerminalSignIn } from "../../domain/terminalSignIn.service.js";
import { refuseHead } from "../middleware/head.js";
import { rateLimit } from "../middleware/rateLimit.js";
import { op } from "../openapi.js";
import { deviceFlowInfoJson, terminalTokenJson } from "../presenters/user.presenter.js";
import { ErrorResponse } from "../schemas/errors.schemas.js";
import { DeviceFlowInfoResponse, TerminalTokenResponse } from "../schemas/users.schemas.js";

export interface DeviceFlowRoutesDeps {
  terminal: TerminalSignIn;
  /** RATE_LIMIT_PER_MINUTE of the exchange, per client address. */
  ratePerMinute: number;
}

export function deviceFlowRoutes({ terminal, ratePerMinute }: DeviceFlowRoutesDeps): Router {
  const r = Router();

  op(
    r,
    {
      method: "get",
      path: "/device-flow-info",
      tag: "users",
      summary:
        "Sign-in from a terminal: the public client id and the provider's discovery document for its device authorization grant",
      responses: {
        200: { description: "Where a terminal signs in", schema: DeviceFlowInfoResponse },
        404: { description: "Terminal sign-in is not configured", schema: ErrorResponse },
      },
    },
    (_req, res) => {
      res.set("Cache-Control", "no-store").json(deviceFlowInfoJson(terminal.deviceFlowInfo()));
    },
  );

  refuseHead(r, "/bearer-token-exchange", "GET");
  r.get("/bearer-token-exchange", rateLimit({ limit: ratePerMinute }));
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
          schema: TerminalTokenResponse,
        },
        401: {
          description: "No bearer token, or the provider refused it (expired, revoked, not an access token)",
          schema: ErrorResponse,
        },
        403: {
          description: "New account, but the provider vouches for no e-mail of the person",
          schema: ErrorResponse,
        },
        404: { description: "Terminal sign-in is not configured", schema: ErrorResponse },
        409: {
          description: "The e-mail belongs to an account of another sign-in identity",
          schema: ErrorResponse,
        },
        429: { description: "Too many calls from this address", schema: ErrorResponse },
        503: { description: "The identity provider could not be reached", schema: ErrorResponse },
      },
    },
    async (req, res) => {
      const out = await terminal.exchangeProviderToken(req.headers.authorization);
      res.set("Cache-Control", "no-store").json(terminalTokenJson(out));
    },
  );
  return r;
}
