// Which database failures mean "the database is down or restarting" (worth waiting out, docs/decisions.md
// D26) rather than an error in a statement: Postgres' connection-class codes and the pg driver's messages.
// Plain data about errors, so the domain's retry policy (databaseWait.ts) needs no adapter.

const TRANSIENT_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "57P01",
  "57P02",
  "57P03",
]);

/** Connection-level failures (database down or restarting), as opposed to errors in a statement. */
export function isTransientDbError(e: unknown): boolean {
  if (!e || typeof e !== "object") return false;
  const err = e as { code?: string; message?: string; cause?: unknown };
  if (err.code && (TRANSIENT_CODES.has(err.code) || err.code.startsWith("08"))) return true;
  const msg = err.message ?? "";
  if (
    /Connection terminated|connection timeout|Client has encountered a connection error|terminating connection|the database system is (starting up|shutting down)|timeout exceeded when trying to connect/i.test(
      msg,
    )
  )
    return true;
  return err.cause !== undefined && err.cause !== e ? isTransientDbError(err.cause) : false;
}
