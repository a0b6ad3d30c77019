// Bounded retries with exponential backoff for the outbound notification calls (Slack, Mailgun).
// docs/sign-in.md: upstream makes 3 attempts; we add backoff so a briefly unavailable service
// gets a chance to recover, and let callers decide which failures are worth another attempt.

export interface RetryPolicy {
  /** Total attempts, including the first one (default 3). */
  attempts?: number;
  /** Delay before the second attempt; doubles for each further attempt (default 250 ms). */
  backoffMs?: number;
  /** Upper bound for a single delay (default 5 s). */
  maxBackoffMs?: number;
}

export interface RetryHooks {
  /** false → give up at once (e.g. a 4xx that another attempt cannot fix). Default: always retry. */
  isRetryable?: (err: unknown) => boolean;
  /** Called after each failed attempt that will be retried. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Injected by tests; defaults to a timer. */
  sleep?: (ms: number) => Promise<void>;
}

export const DEFAULT_ATTEMPTS = 3;
export const DEFAULT_BACKOFF_MS = 250;
const DEFAULT_MAX_BACKOFF_MS = 5_000;

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });

/** Runs `fn` until it resolves or the attempts are used up; the last error is rethrown. */
export async function withRetries<T>(
  fn: (attempt: number) => Promise<T>,
  policy: RetryPolicy = {},
  hooks: RetryHooks = {},
): Promise<T> {
  const attempts = Math.max(1, Math.floor(policy.attempts ?? DEFAULT_ATTEMPTS));
  const base = Math.max(0, policy.backoffMs ?? DEFAULT_BACKOFF_MS);
  const cap = Math.max(base, policy.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS);
  const wait = hooks.sleep ?? sleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      const retryable = hooks.isRetryable ? hooks.isRetryable(err) : true;
      if (attempt >= attempts || !retryable) throw err;
      const delayMs = Math.min(cap, base * 2 ** (attempt - 1));
      hooks.onRetry?.(err, attempt, delayMs);
      if (delayMs > 0) await wait(delayMs);
    }
  }
}

/** HTTP statuses worth another attempt: server errors, rate limiting, request timeout. */
export const isTransientStatus = (status: number): boolean =>
  status >= 500 || status === 429 || status === 408;
