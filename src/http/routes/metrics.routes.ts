// GET /metrics: Prometheus text exposition (docs/api.md, docs/decisions.md D15), unauthenticated as upstream's. Mounted
// only with ENABLE_METRICS (otherwise the path is an ordinary 404).
import { Router } from "express";
import type { Metrics } from "../../observability/metrics.js";

export function metricsRoutes(metrics: Metrics): Router {
  const r = Router();
  r.get("/metrics", async (_req, res, next) => {
    try {
      const { contentType, body } = await metrics.render();
      res.setHeader("Content-Type", contentType);
      res.setHeader("Cache-Control", "no-store");
      res.send(body);
    } catch (err) {
      next(err);
    }
  });
  return r;
}
