import { pino } from "pino";

export type Logger = pino.Logger;

/** JSON logs; secrets never reach them. */
export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { component: "servicex_app", ...base },
    redact: {
      paths: [
        "req.headers.authorization",
        "req.headers.cookie",
        "*.refresh_token",
        "*.access_token",
        "*.client_secret",
        "*.password",
      ],
      censor: "[redacted]",
    },
  });
}
