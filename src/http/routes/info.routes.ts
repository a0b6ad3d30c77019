// GET /servicex (docs/api.md) and GET /multiple-codegen-list (docs/api.md): public.
import { Router } from "express";
import { z } from "zod";
import type { AppDeps } from "../deps.js";
import { op } from "../openapi.js";

export const CAPABILITIES = [
  "poll_local_transformation_results",
  "long_sample_titles_10240",
  "post_cancel_transform",
];

export function infoRoutes(deps: AppDeps): Router {
  const r = Router();
  op(
    r,
    {
      method: "get",
      path: "/servicex",
      tag: "client",
      summary: "Instance information: version, code generators, capabilities",
      responses: {
        200: {
          description: "Info",
          schema: z.object({
            "app-version": z.string(),
            "code-gen-image": z.record(z.string(), z.string()),
            capabilities: z.array(z.string()),
          }),
        },
      },
    },
    (_req, res) => {
      res.json({
        "app-version": deps.config.appVersion,
        "code-gen-image": deps.config.codeGenImages,
        capabilities: CAPABILITIES,
      });
    },
  );
  op(
    r,
    {
      method: "get",
      path: "/multiple-codegen-list",
      tag: "client",
      summary: "Code generator name → internal URL (kept for old clients)",
      responses: { 200: { description: "Map", schema: z.record(z.string(), z.string()) } },
    },
    (_req, res) => {
      res.json(deps.config.CODE_GEN_SERVICE_URLS);
    },
  );
  return r;
}
