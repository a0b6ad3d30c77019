// GET /metrics: Prometheus text exposition (docs/api.md, docs/decisions.md D15), unauthenticated as upstream's. Mounted
// only with ENABLE_METRICS (otherwise the path is an ordinary 404).
import { Router } from "express";
import type { Metrics } from "../../observability/metrics.js";
import { op } from "../openapi.js";

export function metricsRoutes(metrics: Metrics): Router {
  const r = Router();
  op(
    r,
    {
      method: "get",
      path: "/metrics",
      tag: "ops",
      summary: "Prometheus series (text exposition format), with ENABLE_METRICS",
      responses: { 200: { description: "Prometheus text (not JSON)" } },
    },
    async (_req, res) => {
      const { contentType, body } = await metrics.render();
      res.setHeader("Content-Type", contentType);
      res.setHeader("Cache-Control", "no-store");
      res.send(body);
    },
  );
  return r;
}
