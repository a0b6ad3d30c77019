import { pino } from "pino";

export type Logger = pino.Logger;

/**
 * JSON logs; secrets never reach them. Every line carries `component: "servicex_app"` (upstream's field, which
 * log dashboards filter on); the part of the App that logs is `module` (`logger.child({ module: "reconciler" })`).
 * A child binding a key its parent already binds replaces it instead of repeating it: pino writes bindings
 * as they come, and a line with a key twice loses one of them in most JSON tools (jq keeps the last).
 */
export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  const root = pino({
    level,
    base: {},
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
  const rawChild = root.child as unknown as (
    this: Logger,
    b: Record<string, unknown>,
    o?: pino.ChildLoggerOptions,
  ) => Logger;
  const wrap = (
    parent: Logger,
    bindings: Record<string, unknown>,
    options?: pino.ChildLoggerOptions,
  ): Logger => {
    const logger = rawChild.call(parent, bindings, options);
    const own = { ...parent.bindings(), ...bindings };
    const child = (b: Record<string, unknown>, o?: pino.ChildLoggerOptions): Logger =>
      // Without a repeated key an ordinary child (cheap); with one, the whole set again from the root.
      Object.keys(b).some((k) => k in own) ? wrap(root, { ...own, ...b }, o) : wrap(logger, b, o);
    Object.defineProperty(logger, "child", { value: child, configurable: true, writable: true });
    return logger;
  };
  return wrap(root, { component: "servicex_app", ...base });
}
