// Routes are declared with op(): the same zod schemas validate the request and describe it in the
// OpenAPI 3.1 document served at /openapi.json (docs/decisions.md D15).
import type { NextFunction, Request, Response, Router } from "express";
import { z } from "zod";
import { appError, type AppError } from "../domain/errors.js";

type Method = "get" | "post" | "put" | "delete";

export interface OpSpec<B extends z.ZodType, Q extends z.ZodType, P extends z.ZodType> {
  method: Method | Method[];
  path: string;
  summary: string;
  tag: string;
  body?: B;
  query?: Q;
  params?: P;
  responses: Record<number, { description: string; schema?: z.ZodType }>;
  /** Builds the 400 for an invalid body/query (callers parse `message`); default: "<field>: <problem>". */
  invalid?: (where: "body" | "query", error: z.ZodError) => AppError;
  /** Paths that do not match `params` answer this (e.g. a non-numeric dataset id is simply not found). */
  notFound?: (req: Request) => AppError;
  /** Middleware run after the input is validated, before the handler (the route's auth guard). */
  guard?: (req: Request, res: Response, next: NextFunction) => unknown;
}

export interface Parsed<B, Q, P> {
  body: B;
  query: Q;
  params: P;
}

// Keyed by method+path: building the app twice (tests) must not duplicate operations.
const registryByKey = new Map<string, OpSpec<z.ZodType, z.ZodType, z.ZodType>>();
const registry = { values: () => [...registryByKey.values()] };

export function describeZodError(error: z.ZodError): string {
  return error.issues
    .slice(0, 10)
    .map((i) => {
      const path = i.path.map(String).join(".");
      return path ? `${path}: ${i.message}` : i.message;
    })
    .join("; ");
}

export const defaultInvalid = (_where: "body" | "query", e: z.ZodError) =>
  appError("validation_failed", { detail: describeZodError(e) });

export function op<
  B extends z.ZodType = z.ZodUnknown,
  Q extends z.ZodType = z.ZodUnknown,
  P extends z.ZodType = z.ZodUnknown,
>(
  router: Router,
  spec: OpSpec<B, Q, P>,
  handler: (
    req: Request,
    res: Response,
    input: Parsed<z.output<B>, z.output<Q>, z.output<P>>,
  ) => Promise<unknown> | unknown,
): void {
  registryByKey.set(
    `${String(spec.method)} ${spec.path}`,
    spec as unknown as OpSpec<z.ZodType, z.ZodType, z.ZodType>,
  );
  const invalid = spec.invalid ?? defaultInvalid;
  const methods = Array.isArray(spec.method) ? spec.method : [spec.method];
  const h = async (req: Request, res: Response, next: NextFunction) => {
    try {
      let params: unknown = req.params;
      if (spec.params) {
        const r = spec.params.safeParse(req.params);
        if (!r.success)
          throw spec.notFound ? spec.notFound(req) : appError("not_found", { detail: "Not found" });
        params = r.data;
      }
      let query: unknown = req.query;
      if (spec.query) {
        const r = spec.query.safeParse(req.query);
        if (!r.success) throw invalid("query", r.error);
        query = r.data;
      }
      let body: unknown = req.body;
      if (spec.body) {
        const r = spec.body.safeParse(body);
        if (!r.success) throw invalid("body", r.error);
        body = r.data;
      }
      if (spec.guard) await runGuard(spec.guard, req, res);
      await handler(req, res, { body, query, params } as Parsed<z.output<B>, z.output<Q>, z.output<P>>);
    } catch (e) {
      next(e);
    }
  };
  for (const m of methods) router[m](spec.path, h);
}

/** Runs a middleware as one step of a handler: resolves when it calls next(), rejects with its error. */
function runGuard(
  guard: NonNullable<OpSpec<z.ZodType, z.ZodType, z.ZodType>["guard"]>,
  req: Request,
  res: Response,
) {
  return new Promise<void>((resolve, reject) => {
    guard(req, res, (err?: unknown) => (err ? reject(err) : resolve()));
  });
}

function jsonSchema(schema: z.ZodType, io: "input" | "output"): unknown {
  try {
    return z.toJSONSchema(schema, { io, unrepresentable: "any", target: "draft-2020-12" });
  } catch {
    return {};
  }
}

export function openApiDocument(info: { version: string; serverUrl?: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const spec of registry.values()) {
    const path = spec.path.replace(/:(\w+)/g, "{$1}");
    paths[path] ??= {};
    const item = paths[path];
    const parameters: unknown[] = [];
    for (const name of [...spec.path.matchAll(/:(\w+)/g)].map((m) => m[1]!)) {
      parameters.push({ name, in: "path", required: true, schema: { type: "string" } });
    }
    if (spec.query) {
      const js = jsonSchema(spec.query, "input") as {
        properties?: Record<string, unknown>;
        required?: string[];
      };
      for (const [name, schema] of Object.entries(js.properties ?? {})) {
        parameters.push({ name, in: "query", required: js.required?.includes(name) ?? false, schema });
      }
    }
    const responses: Record<string, unknown> = {};
    for (const [code, r] of Object.entries(spec.responses)) {
      responses[code] = r.schema
        ? {
            description: r.description,
            content: { "application/json": { schema: jsonSchema(r.schema, "output") } },
          }
        : { description: r.description };
    }
    const operation: Record<string, unknown> = {
      summary: spec.summary,
      tags: [spec.tag],
      parameters,
      responses,
    };
    if (spec.body) {
      operation.requestBody = {
        required: true,
        content: { "application/json": { schema: jsonSchema(spec.body, "input") } },
      };
    }
    for (const m of Array.isArray(spec.method) ? spec.method : [spec.method]) item[m] = operation;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "ServiceX App",
      version: info.version,
      description:
        "REST API of the ServiceX App: transform requests (client API), DID-finder and transformer callbacks " +
        '(internal API). Error bodies are {"message": ...}.',
    },
    servers: info.serverUrl ? [{ url: info.serverUrl }] : [],
    paths,
  };
}

/** Operations for the docs page. */
export function operations(): ReadonlyArray<{ method: string; path: string; summary: string; tag: string }> {
  return registry.values().flatMap((s) =>
    (Array.isArray(s.method) ? s.method : [s.method]).map((m) => ({
      method: m.toUpperCase(),
      path: s.path,
      summary: s.summary,
      tag: s.tag,
    })),
  );
}
