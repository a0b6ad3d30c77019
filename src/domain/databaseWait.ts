// DID finders and transformer sidecars ignore HTTP status codes (docs/decisions.md D26): whatever the App answers
// with a 5xx is lost. So the internal callbacks wait out a database that is restarting or unreachable —
// bounded, with capped exponential backoff — and answer 503 only after that. One mechanism for all of them
// (file-complete batches, the DID-finder callbacks, the legacy status reports).
import { isTransientDbError } from "./dbErrors.js";
import { appError, AppError } from "./errors.js";

export interface DatabaseWaitOptions {
  /** How long to keep trying (default 30 s). */
  retryForMs?: number;
  /** First delay; doubles per attempt, capped at 2 s (default 100 ms). */
  retryDelayMs?: number;
}

/** The answer once the wait is over: the caller may retry later. */
export const databaseUnavailable = () => appError("database_unavailable");

export const isDatabaseUnavailable = (e: unknown): boolean =>
  e instanceof AppError && e.code === "database_unavailable";

/** Connection losses, a restarting server, deadlocks and serialization failures: worth running again. */
export function isRetryableDbError(e: unknown): boolean {
  const code = (e as { code?: string } | null)?.code;
  return isTransientDbError(e) || code === "40001" || code === "40P01";
}

/**
 * Runs `fn`, and runs it again while it fails with a retryable database error, for up to `retryForMs`;
 * then throws 503 `database_unavailable`. Any other error is thrown at
 * once. `fn` must be safe to run again: a commit whose acknowledgement was lost is run a second time.
 */
export async function whileDatabaseRestarts<R>(
  fn: () => Promise<R>,
  opts: DatabaseWaitOptions & { onRetry?: (err: unknown, attempt: number) => void } = {},
): Promise<R> {
  const retryForMs = opts.retryForMs ?? 30_000;
  const delay = opts.retryDelayMs ?? 100;
  const started = performance.now();
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!isRetryableDbError(e)) throw e;
      if (performance.now() - started > retryForMs) {
        throw isTransientDbError(e) ? databaseUnavailable() : e;
      }
      opts.onRetry?.(e, attempt);
      await new Promise((r) => setTimeout(r, Math.min(2000, delay * 2 ** attempt)));
    }
  }
}
