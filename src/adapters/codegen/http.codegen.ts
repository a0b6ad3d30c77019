// CodeGenerator over HTTP: the ServiceX code generator services (docs/codegen.md, servicex_codegen library).
// POST <base>/servicex/generated-code with {"code": selection}; a 200 answer is multipart/form-data
// (requests-toolbelt MultipartEncoder) with the parts transformer_image, language, command, zip_data.
//
// Failure handling: only transport failures and timeouts are retried (exponential backoff with jitter);
// an HTTP answer, good or bad, is final. Every failure surfaces as CodeGenError with a user-facing message.

import { setTimeout as sleep } from "node:timers/promises";
import { CodeGenError } from "../../domain/errors.js";
import type { CodeGenerator, GeneratedCode } from "../../domain/ports.js";
import { type MultipartPart, parseMultipart } from "./multipart.js";

/** The subset of a pino logger used here. */
export interface CodegenLogger {
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface HttpCodeGeneratorOptions {
  /** codegen name → base URL (CODE_GEN_SERVICE_URLS). */
  serviceUrls: Record<string, string>;
  fetchImpl?: typeof fetch;
  /**
   * Per attempt: how long to wait until the generator starts answering (response headers). fetch does not
   * expose the TCP connect on its own, so this bounds connect + generation. Default 5000.
   */
  connectTimeoutMs?: number;
  /** Per attempt: deadline for the complete answer, body included. Default 120000. */
  totalTimeoutMs?: number;
  /** Extra attempts after a transport failure or timeout. Default 3. */
  retries?: number;
  /** First backoff delay; doubles per retry, with jitter. Default 100. */
  backoffBaseMs?: number;
  /** Backoff cap. Default 30000. */
  backoffMaxMs?: number;
  /** Largest answer accepted. Default 32 MiB. */
  maxResponseBytes?: number;
  logger?: CodegenLogger;
}

export const GENERATED_CODE_PATH = "/servicex/generated-code";
const PART_NAMES = ["transformer_image", "language", "command", "zip_data"] as const;
const MAX_ERROR_TEXT = 1000;
const MAX_ERROR_MESSAGE = 10_000;

/** Why an attempt was abandoned by our own timers (retryable, like a transport error). */
class AttemptTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AttemptTimeoutError";
  }
}

interface Answer {
  status: number;
  statusText: string;
  contentType: string | null;
  body: Buffer;
}

const noopLogger: CodegenLogger = { warn() {}, debug() {} };

function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  return Array.from(text).slice(0, max).join("") + "…";
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof Error) {
      const code = (cause as { code?: unknown }).code;
      return typeof code === "string" && !cause.message.includes(code)
        ? `${err.message}: ${code} ${cause.message}`
        : `${err.message}: ${cause.message}`;
    }
    return err.message;
  }
  return String(err);
}

function positiveInt(name: string, value: number, allowZero = false): number {
  if (!Number.isInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new RangeError(
      `HttpCodeGenerator: ${name} must be an integer ≥ ${allowZero ? 0 : 1}, got ${value}`,
    );
  }
  return value;
}

function isZip(data: Buffer): boolean {
  // local file header (PK\3\4) or, for an empty archive, end of central directory (PK\5\6)
  return (
    data.length >= 4 &&
    data[0] === 0x50 &&
    data[1] === 0x4b &&
    ((data[2] === 0x03 && data[3] === 0x04) || (data[2] === 0x05 && data[3] === 0x06))
  );
}

export class HttpCodeGenerator implements CodeGenerator {
  private readonly endpoints = new Map<string, string>();
  private readonly fetchImpl: typeof fetch;
  private readonly connectTimeoutMs: number;
  private readonly totalTimeoutMs: number;
  private readonly retries: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly maxResponseBytes: number;
  private readonly logger: CodegenLogger;

  constructor(opts: HttpCodeGeneratorOptions) {
    for (const [name, base] of Object.entries(opts.serviceUrls)) {
      let url: URL;
      try {
        url = new URL(base);
      } catch {
        throw new Error(`CODE_GEN_SERVICE_URLS: "${name}" has an invalid URL: ${JSON.stringify(base)}`);
      }
      if (url.protocol !== "http:" && url.protocol !== "https:") {
        throw new Error(
          `CODE_GEN_SERVICE_URLS: "${name}" must be an http(s) URL, got ${JSON.stringify(base)}`,
        );
      }
      this.endpoints.set(name, base.trim().replace(/\/+$/, "") + GENERATED_CODE_PATH);
    }
    this.fetchImpl = opts.fetchImpl ?? globalThis.fetch;
    this.connectTimeoutMs = positiveInt("connectTimeoutMs", opts.connectTimeoutMs ?? 60_000);
    this.totalTimeoutMs = positiveInt("totalTimeoutMs", opts.totalTimeoutMs ?? 120_000);
    this.retries = positiveInt("retries", opts.retries ?? 3, true);
    this.backoffBaseMs = positiveInt("backoffBaseMs", opts.backoffBaseMs ?? 100, true);
    this.backoffMaxMs = positiveInt("backoffMaxMs", opts.backoffMaxMs ?? 30_000, true);
    this.maxResponseBytes = positiveInt("maxResponseBytes", opts.maxResponseBytes ?? 32 * 1024 * 1024);
    this.logger = opts.logger ?? noopLogger;
  }

  names(): string[] {
    return [...this.endpoints.keys()];
  }

  async generate(codegen: string, selection: string): Promise<GeneratedCode> {
    const url = this.endpoints.get(codegen);
    if (url === undefined) throw new CodeGenError(`${codegen}, code generator unavailable for use`, 400);
    const requestBody = JSON.stringify({ code: selection });
    const attempts = this.retries + 1;
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const started = Date.now();
      let answer: Answer;
      try {
        answer = await this.attempt(url, requestBody);
      } catch (err) {
        if (err instanceof CodeGenError) throw err;
        lastError = err;
        if (attempt === attempts) break;
        const delayMs = this.backoffDelay(attempt);
        this.logger.warn(
          { codegen, url, attempt, attempts, delayMs, err: describeError(err) },
          "code generator did not answer; retrying",
        );
        await sleep(delayMs);
        continue;
      }
      const generated = this.interpret(codegen, answer);
      this.logger.debug(
        {
          codegen,
          attempt,
          ms: Date.now() - started,
          image: generated.image,
          language: generated.language,
          command: generated.command,
          zipBytes: generated.zip.length,
        },
        "code generated",
      );
      return generated;
    }
    this.logger.warn({ codegen, url, attempts, err: describeError(lastError) }, "code generator unreachable");
    throw new CodeGenError(
      `Failed to generate translation code: code generator ${codegen} did not answer ` +
        `after ${attempts} attempt${attempts === 1 ? "" : "s"} (${describeError(lastError)})`,
      503,
    );
  }

  /** Equal jitter: half the exponential delay fixed, half random. */
  private backoffDelay(attempt: number): number {
    const exp = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** (attempt - 1));
    return Math.round(exp / 2 + Math.random() * (exp / 2));
  }

  /** One HTTP exchange. Throws on transport failure/timeout (retryable) or CodeGenError (final). */
  private async attempt(url: string, requestBody: string): Promise<Answer> {
    const controller = new AbortController();
    const headersTimer = setTimeout(
      () => controller.abort(new AttemptTimeoutError(`no answer within ${this.connectTimeoutMs} ms`)),
      this.connectTimeoutMs,
    );
    const totalTimer = setTimeout(
      () => controller.abort(new AttemptTimeoutError(`answer not complete within ${this.totalTimeoutMs} ms`)),
      this.totalTimeoutMs,
    );
    try {
      const fetchImpl = this.fetchImpl; // called unbound, as the global fetch expects
      const res = await fetchImpl(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "multipart/form-data, application/json;q=0.9, */*;q=0.1",
        },
        body: requestBody,
        signal: controller.signal,
      });
      clearTimeout(headersTimer);
      const declared = Number(res.headers.get("content-length"));
      if (Number.isFinite(declared) && declared > this.maxResponseBytes) {
        controller.abort();
        throw this.tooLarge();
      }
      const body = await this.readBody(res, controller);
      return {
        status: res.status,
        statusText: res.statusText,
        contentType: res.headers.get("content-type"),
        body,
      };
    } catch (err) {
      if (err instanceof CodeGenError) throw err;
      // fetch and body reads reject with the abort reason, but normalise in case an implementation does not
      if (controller.signal.aborted && controller.signal.reason instanceof AttemptTimeoutError) {
        throw controller.signal.reason;
      }
      throw err;
    } finally {
      clearTimeout(headersTimer);
      clearTimeout(totalTimer);
    }
  }

  private async readBody(res: Response, controller: AbortController): Promise<Buffer> {
    if (!res.body) return Buffer.from(await res.arrayBuffer());
    const reader = res.body.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > this.maxResponseBytes) {
        controller.abort();
        throw this.tooLarge();
      }
      chunks.push(value);
    }
    return Buffer.concat(chunks, total);
  }

  private tooLarge(): CodeGenError {
    return new CodeGenError(
      `Failed to generate translation code: the code generator's answer exceeds ${this.maxResponseBytes} bytes`,
      502,
    );
  }

  private interpret(codegen: string, answer: Answer): GeneratedCode {
    if (answer.status !== 200) {
      throw new CodeGenError("Failed to generate translation code: " + errorMessage(answer));
    }
    const malformed = (why: string) =>
      new CodeGenError(
        `Failed to generate translation code: malformed answer from code generator ${codegen} (${why})`,
        502,
      );
    let parts: MultipartPart[];
    try {
      parts = parseMultipart(answer.body, answer.contentType ?? "");
    } catch (err) {
      throw malformed(err instanceof Error ? err.message : String(err));
    }
    const selected = selectParts(parts);
    if (!selected) {
      throw malformed(
        `expected 4 parts (${PART_NAMES.join(", ")}), got ${parts.length}` +
          (parts.length ? `: ${parts.map((p) => p.name ?? "(unnamed)").join(", ")}` : ""),
      );
    }
    const [imagePart, languagePart, commandPart, zipPart] = selected;
    const image = imagePart.data.toString("utf8").trim();
    const language = languagePart.data.toString("utf8").trim();
    const command = commandPart.data.toString("utf8").trim();
    if (image === "") throw malformed("empty transformer_image");
    if (!isZip(zipPart.data)) {
      throw malformed(`zip_data is not a zip archive (${zipPart.data.length} bytes)`);
    }
    return { image, language, command, zip: zipPart.data };
  }
}

/** By name when all four names are present (first of each wins), otherwise by position (docs/codegen.md). */
function selectParts(
  parts: MultipartPart[],
): [MultipartPart, MultipartPart, MultipartPart, MultipartPart] | null {
  const byName = PART_NAMES.map((name) => parts.find((p) => p.name === name));
  const [a, b, c, d] = byName;
  if (a && b && c && d) return [a, b, c, d];
  const [p0, p1, p2, p3] = parts;
  if (p0 && p1 && p2 && p3) return [p0, p1, p2, p3];
  return null;
}

/** The `Message` of a servicex_codegen error body, else the (truncated) text, else the HTTP status. */
function errorMessage(answer: Answer): string {
  const text = answer.body.toString("utf8");
  try {
    const json: unknown = JSON.parse(text);
    if (json !== null && typeof json === "object" && "Message" in json) {
      const message = (json as { Message: unknown }).Message;
      return truncate(typeof message === "string" ? message : JSON.stringify(message), MAX_ERROR_MESSAGE);
    }
  } catch {
    // not JSON: use the text
  }
  const trimmed = text.trim();
  if (trimmed !== "") return truncate(trimmed, MAX_ERROR_TEXT);
  return `HTTP ${answer.status}${answer.statusText ? ` ${answer.statusText}` : ""}`;
}
