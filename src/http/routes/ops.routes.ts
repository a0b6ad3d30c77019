// Operations (docs/api.md "Pages, health and metrics"): liveness, readiness and the OpenAPI document (its
// page for people, /docs, is in web.routes.ts). Public, as upstream's.
import { Router } from "express";
import type { ReadinessService } from "../../domain/readiness.service.js";
import { op, openApiDocument } from "../openapi.js";
import { healthJson, readinessJson } from "../presenters/info.presenter.js";
import { HealthResponse, ReadinessResponse } from "../schemas/info.schemas.js";

export interface OpsRoutesDeps {
  readiness: ReadinessService;
  /** The version the OpenAPI document names (APP_VERSION). */
  appVersion: string;
}

export function opsRoutes({ readiness, appVersion }: OpsRoutesDeps): Router {
  const r = Router();
  op(
    r,
    {
      method: "get",
      path: "/healthz",
      tag: "ops",
      summary: "Liveness: answers while the process runs",
      responses: { 200: { description: "Alive", schema: HealthResponse } },
    },
    (_req, res) => {
      res.json(healthJson());
    },
  );
  op(
    r,
    {
      method: "get",
      path: "/readyz",
      tag: "ops",
      summary: "Readiness: the database and the broker are reachable and the App is not shutting down",
      responses: {
        200: { description: "Ready", schema: ReadinessResponse },
        503: { description: "Not ready; `checks` names what is not", schema: ReadinessResponse },
      },
    },
    async (_req, res) => {
      const answer = readinessJson(await readiness.check());
      res.status(answer.status).json(answer.body);
    },
  );
  op(
    r,
    {
      method: "get",
      path: "/openapi.json",
      tag: "ops",
      summary: "This OpenAPI 3.1 document",
      responses: { 200: { description: "The document" } },
    },
    (_req, res) => {
      res.json(openApiDocument({ version: appVersion }));
    },
  );
  return r;
}
