// One error type for every expected failure. `code` is a stable machine id, `status` the HTTP status chosen
// at the edge, `body` an optional exact wire body (ServiceX clients parse `message`, some callers `msg`).

export class AppError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 500,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = "AppError";
  }
  /** Client errors and "unavailable, retry" answers carry their message; other 5xx say only "Internal Server Error". */
  get expose(): boolean {
    return this.status < 500 || this.status === 503 || this.body !== undefined;
  }
}

export const badRequest = (message: string, code = "bad_request") => new AppError(code, message, 400);
export const notFound = (message: string, code = "not_found") => new AppError(code, message, 404);
export const forbidden = (message: string, code = "forbidden") => new AppError(code, message, 403);
export const conflict = (message: string, code = "conflict") => new AppError(code, message, 409);
export const unprocessable = (message: string, code = "unprocessable") => new AppError(code, message, 422);
export const unavailable = (message: string, code = "unavailable") => new AppError(code, message, 503);

/** A code generator answered with an error or could not be reached (docs/codegen.md). */
export class CodeGenError extends AppError {
  constructor(message: string, status = 500) {
    super("codegen_failed", message, status);
    this.name = "CodeGenError";
  }
}
