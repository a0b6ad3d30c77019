// Wire shapes of the instance-information and health routes (docs/api.md "Client routes", "Pages, health and
// metrics"), published in the OpenAPI document and typing the presenters (src/http/presenters/info.presenter.ts).
import { z } from "zod";

/** GET /servicex. */
export const InstanceInfoResponse = z.object({
  "app-version": z.string(),
  "code-gen-image": z.record(z.string(), z.string()),
  capabilities: z.array(z.string()),
});

/** GET /multiple-codegen-list: code generator name → URL. */
export const CodeGenListResponse = z.record(z.string(), z.string());

/** GET /healthz. */
export const HealthResponse = z.object({ status: z.literal("ok") });

/** GET /readyz (200 ready, 503 not ready). */
export const ReadinessResponse = z.object({
  status: z.enum(["ready", "not ready"]),
  checks: z.record(z.string(), z.string()),
});

export type InstanceInfoResponse = z.output<typeof InstanceInfoResponse>;
export type CodeGenListResponse = z.output<typeof CodeGenListResponse>;
export type HealthResponse = z.output<typeof HealthResponse>;
export type ReadinessResponse = z.output<typeof ReadinessResponse>;
