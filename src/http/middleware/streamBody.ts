// The submit's JSON body, parsed while it arrives (jsonStream.ts) instead of read whole and then parsed: a
// 1,000,000-entry file list is held once, as the parsed strings (docs/decisions.md D37). Everything else
// is express.json's: the same content types, a body with no bytes is {}, the same errors (413 over the
// limit, 400 for malformed JSON, a compressed body inflated first); a charset other than UTF-8 is left to
// express.json. Installed before express.json, which then finds the body read and leaves it alone.
import type { Duplex, Readable } from "node:stream";
import zlib from "node:zlib";
import type { Request, RequestHandler } from "express";
import { JsonStreamParser } from "./jsonStream.js";

const JSON_TYPES = ["application/json", "application/*+json"];
const UNITS: Record<string, number> = {
  b: 1,
  kb: 2 ** 10,
  mb: 2 ** 20,
  gb: 2 ** 30,
  tb: 2 ** 40,
  pb: 2 ** 50,
};

/** "256mb", "1kb", "1024" or a number of bytes, read as express.json reads its `limit`. */
export function byteLimit(limit: string | number): number {
  if (typeof limit === "number") return limit;
  const m = /^((-|\+)?(\d+(?:\.\d+)?)) *(kb|mb|gb|tb|pb)$/i.exec(limit);
  if (!m) return Number.parseInt(limit, 10);
  return Math.floor(UNITS[m[4]!.toLowerCase()]! * Number.parseFloat(m[1]!));
}

/** An error shaped as body-parser's, so the error handler answers exactly as for express.json. */
function bodyError(status: number, type: string, message: string, extra: Record<string, unknown> = {}) {
  return Object.assign(new Error(message), { status, statusCode: status, expose: true, type, ...extra });
}

function hasBody(req: Request): boolean {
  return (
    req.headers["transfer-encoding"] !== undefined ||
    !Number.isNaN(Number.parseInt(req.headers["content-length"] ?? "", 10))
  );
}

function charset(req: Request): string | undefined {
  const m = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i.exec(req.headers["content-type"] ?? "");
  return m ? (m[1] ?? m[2] ?? "").toLowerCase() : undefined;
}

function decompressor(encoding: string): Duplex | null {
  switch (encoding) {
    case "identity":
      return null;
    case "deflate":
      return zlib.createInflate();
    case "gzip":
      return zlib.createGunzip();
    case "br":
      return zlib.createBrotliDecompress();
    case "zstd":
      if ("createZstdDecompress" in zlib) {
        return (zlib as unknown as { createZstdDecompress: () => Duplex }).createZstdDecompress();
      }
  }
  throw bodyError(415, "encoding.unsupported", `unsupported content encoding "${encoding}"`, { encoding });
}

/** Reads off the rest of the request (as body-parser does before answering an error), then calls back. */
function dump(req: Request, done: () => void): void {
  if (req.complete || req.destroyed) {
    done();
    return;
  }
  let called = false;
  const once = () => {
    if (called) return;
    called = true;
    done();
  };
  req.once("end", once);
  req.once("close", once);
  req.resume();
}

/** Parses a JSON body as it streams in, up to `limit` bytes (after decompression). */
export function streamJsonBody(opts: { limit: string | number }): RequestHandler {
  const limit = byteLimit(opts.limit);
  return (req, _res, next) => {
    if (req.readableEnded || !hasBody(req) || !req.is(JSON_TYPES)) return next();
    const cs = charset(req);
    if (cs !== undefined && cs !== "utf-8") return next();
    const tooLarge = (length: number) =>
      bodyError(413, "entity.too.large", "request entity too large", { expected: length, length, limit });
    const encoding = (req.headers["content-encoding"] ?? "identity").toLowerCase();
    const declared = Number.parseInt(req.headers["content-length"] ?? "", 10);
    if (encoding === "identity" && declared > limit) {
      dump(req, () => next(tooLarge(declared)));
      return;
    }
    let source: Readable = req;
    let inflate: Duplex | null = null;
    try {
      inflate = decompressor(encoding);
      if (inflate) {
        req.pipe(inflate);
        source = inflate;
      }
    } catch (err) {
      dump(req, () => next(err));
      return;
    }
    let finished = false;
    const finish = (err?: unknown) => {
      if (finished) return;
      finished = true;
      source.removeListener("data", onData);
      if (inflate) {
        req.unpipe(inflate);
        inflate.on("error", () => {});
        inflate.destroy();
      }
      if (err === undefined) next();
      else dump(req, () => next(err));
    };
    const parser = new JsonStreamParser(true);
    let received = 0;
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) {
        finish(tooLarge(received));
        return;
      }
      try {
        parser.write(chunk);
      } catch (err) {
        finish(bodyError(400, "entity.parse.failed", (err as Error).message));
      }
    };
    source.on("data", onData);
    source.once("end", () => {
      if (finished) return;
      try {
        req.body = parser.empty ? {} : parser.end();
        finish();
      } catch (err) {
        finish(bodyError(400, "entity.parse.failed", (err as Error).message));
      }
    });
    source.once("error", (err: Error) => finish(bodyError(400, "request.invalid", err.message)));
    req.once("close", () => {
      if (!req.complete) finish(bodyError(400, "request.aborted", "request aborted"));
    });
  };
}
