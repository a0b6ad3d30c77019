// Error bodies as the edge writes them (src/http/middleware/errorHandler.ts, docs/api.md "Rules for every
// route"): `{"message", "code"}`, or the exact body an error of the catalogue carries (src/domain/errors.ts):
// `{"message"}` alone where upstream answered so, `{"msg"}` where flask-jwt-extended did.
import { z } from "zod";

/** `{"message": …}` with the catalogue's stable `code` when the App built the body itself. */
export const ErrorResponse = z.object({
  message: z.string(),
  code: z.string().optional().describe("the error catalogue's code (docs/errors.md)"),
});

/** Token decoding failures, worded as flask-jwt-extended (docs/api.md). */
export const MsgErrorResponse = z.object({ msg: z.string() });

/** An error answer of a route that needs `Authorization: Bearer <token>` (auth_required, docs/api.md). */
export const TokenErrorResponse = z.union([ErrorResponse, MsgErrorResponse]);

/** The answers of the auth() guard with ENABLE_AUTH (src/http/middleware/auth.ts), for op() responses. */
export const AUTH_ERRORS = {
  401: {
    description: "No token, an expired or outdated one, or a deleted or pending user (ENABLE_AUTH)",
    schema: TokenErrorResponse,
  },
  422: { description: "A token that cannot be decoded (ENABLE_AUTH)", schema: MsgErrorResponse },
} as const;

/** AUTH_ERRORS and the admin_required refusal. */
export const ADMIN_ERRORS = {
  ...AUTH_ERRORS,
  403: { description: "Not an administrator (ENABLE_AUTH)", schema: ErrorResponse },
} as const;
