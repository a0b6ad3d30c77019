// Instance information and health answers (docs/api.md), typed by the response schemas the OpenAPI document
// publishes (src/http/schemas/info.schemas.ts).
import type { Config } from "../../config.js";
import type { Readiness } from "../../domain/readiness.service.js";
import type {
  CodeGenListResponse,
  HealthResponse,
  InstanceInfoResponse,
  ReadinessResponse,
} from "../schemas/info.schemas.js";

/** The capabilities GET /servicex announces (docs/api.md "Client routes"). */
export const CAPABILITIES = [
  "poll_local_transformation_results",
  "long_sample_titles_10240",
  "post_cancel_transform",
];

/** GET /servicex. */
export const instanceInfoJson = (c: Pick<Config, "appVersion" | "codeGenImages">): InstanceInfoResponse => ({
  "app-version": c.appVersion,
  "code-gen-image": c.codeGenImages,
  capabilities: CAPABILITIES,
});

/** GET /multiple-codegen-list. */
export const codeGenListJson = (c: Pick<Config, "CODE_GEN_SERVICE_URLS">): CodeGenListResponse =>
  c.CODE_GEN_SERVICE_URLS;

/** GET /healthz. */
export const healthJson = (): HealthResponse => ({ status: "ok" });

/** GET /readyz: the body, and 200 or 503. */
export const readinessJson = (r: Readiness): { status: 200 | 503; body: ReadinessResponse } => ({
  status: r.ready ? 200 : 503,
  body: { status: r.ready ? "ready" : "not ready", checks: r.checks },
});
