// Operations: liveness, readiness and the OpenAPI document (its page for people, /docs, is in web.routes.ts).
import { Router } from "express";
import type { AppDeps } from "../deps.js";
import { openApiDocument } from "../openapi.js";

export function opsRoutes(deps: AppDeps, state: { draining: () => boolean }): Router {
  const r = Router();
  r.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  r.get("/readyz", async (_req, res) => {
    const checks: Record<string, string> = {};
    try {
      await Promise.race([
        deps.db.ping(),
        new Promise((_, rej) => setTimeout(() => rej(new Error("timeout")), 2000).unref()),
      ]);
      checks.database = "ok";
    } catch (e) {
      checks.database = `unavailable: ${(e as Error).message}`;
    }
    checks.broker = deps.broker.isConnected() ? "ok" : "unavailable";
    if (state.draining()) checks.server = "shutting down";
    const ready = Object.values(checks).every((v) => v === "ok");
    res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "not ready", checks });
  });
  r.get("/openapi.json", (_req, res) => {
    res.json(openApiDocument({ version: deps.config.appVersion }));
  });
  return r;
}
