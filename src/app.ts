// buildApp(deps): the Express application, without listen(). Used by main.ts and by the tests.
import type { IncomingMessage, ServerResponse } from "node:http";
import { fileURLToPath } from "node:url";
import express, { type Express } from "express";
import { LocalResultFiles } from "./adapters/localS3/resultFiles.js";
import { RequestReads } from "./domain/requestReads.service.js";
import type { AppDeps } from "./http/deps.js";
import { fastPath } from "./http/fastPath.js";
import { cors } from "./http/respond.js";
import { localS3Handler } from "./http/localS3.js";
import { type RequestDetailPresenter, requestDetailPresenter } from "./http/presenters/request.presenter.js";
import { resultLinks } from "./http/resultLinks.js";
import { authGuards } from "./http/middleware/auth.js";
import { errorHandler, notFoundHandler } from "./http/middleware/errorHandler.js";
import { requestLog } from "./http/middleware/requestLog.js";
import { securityHeaders } from "./http/middleware/securityHeaders.js";
import { streamJsonBody } from "./http/middleware/streamBody.js";
import { datasetRoutes } from "./http/routes/datasets.routes.js";
import { deviceFlowRoutes } from "./http/routes/deviceFlow.routes.js";
import { infoRoutes } from "./http/routes/info.routes.js";
import { localResultsRoutes } from "./http/routes/localResults.routes.js";
import { LIFECYCLE_PATHS, callbackRoutes, lifecycleRoutes } from "./http/routes/internal.routes.js";
import { metricsRoutes } from "./http/routes/metrics.routes.js";
import { opsRoutes } from "./http/routes/ops.routes.js";
import { progressRoutes } from "./http/routes/progress.routes.js";
import { transformationRoutes } from "./http/routes/transformation.routes.js";
import { userRoutes } from "./http/routes/users.routes.js";
import { pageErrors, pageKit, pageNotFound } from "./http/routes/pages/kit.js";
import { webRoutes } from "./http/routes/web.routes.js";
import {
  callbackServices,
  datasetServices,
  deviceFlowServices,
  opsServices,
  userServices,
  webServices,
} from "./routeServices.js";
import { sessionMiddleware } from "./http/middleware/session.js";

export interface AppState {
  draining: boolean;
}

/**
 * What a listener serves. "combined": everything on one port (INTERNAL_PORT unset, as upstream). With
 * INTERNAL_PORT, "public" serves everything but /servicex/internal/* (the lifecycle routes stay reachable
 * there for an admin bearer token when ENABLE_AUTH is on) and "internal" serves only /servicex/internal/*
 * and the health checks, for DID finders, sidecars and CronJobs inside the cluster.
 */
export type Listener = "combined" | "public" | "internal";

export function buildApp(
  deps: AppDeps,
  state: AppState = { draining: false },
  listener: Listener = "combined",
): Express {
  const internal = listener === "internal";
  const authEnabled = deps.config.ENABLE_AUTH;
  // The guards of docs/api.md (auth_required, admin_required) over the one identification function.
  const auth = authGuards(deps.requester);
  const api = requestApi(deps);
  const app = express();
  app.disable("x-powered-by");
  // TRUST_PROXY (src/http/trustProxy.ts): which X-Forwarded-For hops give req.ip, the rate limits' client.
  app.set("trust proxy", deps.config.TRUST_PROXY);
  app.set("etag", false);
  app.set("views", fileURLToPath(new URL("../views", import.meta.url)));
  app.set("view engine", "ejs");
  // Counts every request by route template (ENABLE_METRICS); the fast path counts its own (fastPath.ts).
  if (deps.metrics) app.use(deps.metrics.httpMiddleware());
  app.use(
    requestLog(deps.logger, {
      logRequests: deps.config.LOG_LEVEL === "debug" || deps.config.LOG_LEVEL === "trace",
    }),
  );
  // CORS for all routes with defaults, as upstream's CORS(app): the same helper as the fast path's answers.
  app.use(cors);
  // CSP without inline script/style, frame-ancestors 'none', nosniff, Referrer-Policy, HSTS over TLS.
  app.use(securityHeaders());

  const ops = opsRoutes(opsServices(deps, () => state.draining));
  if (internal) {
    app.use((req, res, next) =>
      req.path === "/healthz" || req.path === "/readyz" ? ops(req, res, next) : next(),
    );
    app.use(
      express.json({ limit: deps.config.MAX_REQUEST_BODY, type: ["application/json", "application/*+json"] }),
    );
    app.use(lifecycleRoutes(deps));
    app.use(callbackRoutes(callbackServices(deps)));
    app.use(notFoundHandler);
    app.use(errorHandler);
    return app;
  }
  app.use("/static", express.static(fileURLToPath(new URL("../public", import.meta.url)), { maxAge: "1h" }));
  app.use(ops);
  if (deps.metrics) app.use(metricsRoutes(deps.metrics));
  // The lifecycle routes delete and expire every user's data: on the public port, with ENABLE_AUTH, only for
  // an admin's bearer token (before the body is read, as auth_required).
  const lifecycleOnPublic = listener === "combined" || authEnabled;
  if (lifecycleOnPublic && authEnabled)
    app.post([...LIFECYCLE_PATHS], auth({ admin: true, changesState: true }));
  // The browser session (pages, and safe API reads of a signed-in user); internal routes never look at it.
  // With sign-in on, a signed-in cookie counts only while its server-side session record lives.
  const session = sessionMiddleware(deps.sessions, deps.config.ENABLE_AUTH ? deps.users : null);
  app.use((req, res, next) =>
    req.path.startsWith("/servicex/internal/") ? next() : session(req, res, next),
  );
  // auth_required runs before the body is read (upstream's decorator order): a caller without credentials
  // learns that first, whatever the body.
  // The route's own guard (transformation.routes.ts) then reuses this answer.
  app.post("/servicex/transformation", auth());
  // The submit's body is parsed as it streams in, up to MAX_SUBMIT_BODY (a 1,000,000-entry file list is
  // held once, as its parsed paths: docs/decisions.md D37); express.json below then leaves it alone.
  app.post("/servicex/transformation", streamJsonBody({ limit: deps.config.MAX_SUBMIT_BODY }));
  // Every other JSON body of any JSON-ish content type, up to MAX_REQUEST_BODY.
  app.use(
    express.json({ limit: deps.config.MAX_REQUEST_BODY, type: ["application/json", "application/*+json"] }),
  );
  // No global form parser: the callers' bodies are JSON (upstream read them with get_json()).
  // The page kit: sign-in for browsers (the result download), and the HTML error pages below.
  const kit = pageKit(webServices(deps));
  app.use(
    localResultsRoutes({
      reads: api.reads,
      auth,
      kit,
      objectStore: deps.objectStore,
      files: deps.localS3?.files ?? new LocalResultFiles(deps.config.resultsDir),
    }),
  );
  app.use(webRoutes(webServices(deps)));
  app.use(userRoutes(userServices(deps, auth)));
  app.use(deviceFlowRoutes(deviceFlowServices(deps)));
  app.use(infoRoutes({ config: deps.config }));
  app.use(
    transformationRoutes({
      transformations: deps.transformations,
      reads: api.reads,
      reruns: deps.reruns,
      auth,
      detail: api.detail,
      resultLinks: resultLinks(deps.objectStore, deps.localS3),
      config: deps.config,
    }),
  );
  app.use(progressRoutes({ reads: api.reads, auth }));
  app.use(datasetRoutes(datasetServices(deps, auth)));
  if (lifecycleOnPublic) app.use(lifecycleRoutes(deps));
  if (listener === "combined") app.use(callbackRoutes(callbackServices(deps)));
  // A browser gets unknown URLs and failed pages as HTML in the layout; API clients keep the JSON answers.
  app.use(pageNotFound(kit));
  app.use(notFoundHandler);
  app.use(pageErrors(kit, deps.logger));
  app.use(errorHandler);
  return app;
}

/**
 * The reads of transform requests and the polling call's presenter, shared by the transformation routes and
 * the fast path (which must answer exactly as the route does).
 */
function requestApi(deps: AppDeps): { reads: RequestReads; detail: RequestDetailPresenter } {
  return {
    reads: new RequestReads({
      transformations: deps.transformations,
      requests: deps.repos.requests,
      results: deps.repos.results,
      progress: deps.progress,
      launcher: deps.launcher,
    }),
    detail: requestDetailPresenter(deps.config, deps.localS3),
  };
}

/** The HTTP server's request listener: the file-complete fast path, then the Express app. */
export function buildHandler(
  deps: AppDeps,
  state: AppState = { draining: false },
  listener: Listener = "combined",
) {
  const app = buildApp(deps, state, listener);
  const fast = fastPath(
    deps,
    { status: listener !== "internal", fileComplete: listener !== "public" },
    { identify: deps.requester, ...requestApi(deps) },
  );
  // The read-only S3 endpoint over local results (/s3, docs/local-results.md), for clients: public port only.
  const s3 = listener === "internal" ? () => false : localS3Handler(deps);
  return (req: IncomingMessage, res: ServerResponse) => {
    if (state.draining) res.setHeader("Connection", "close");
    if (!s3(req, res) && !fast(req, res)) app(req, res);
  };
}
