// GET /servicex and GET /multiple-codegen-list (docs/api.md "Client routes"): public, answered from the
// configuration by the presenters of src/http/presenters/info.presenter.ts.
import { Router } from "express";
import type { Config } from "../../config.js";
import { op } from "../openapi.js";
import { codeGenListJson, instanceInfoJson } from "../presenters/info.presenter.js";
import { CodeGenListResponse, InstanceInfoResponse } from "../schemas/info.schemas.js";

export interface InfoRoutesDeps {
  config: Pick<Config, "appVersion" | "codeGenImages" | "CODE_GEN_SERVICE_URLS">;
}

export function infoRoutes({ config }: InfoRoutesDeps): Router {
  const r = Router();
  op(
    r,
    {
      method: "get",
      path: "/servicex",
      tag: "client",
      summary: "Instance information: version, code generators, capabilities",
      responses: { 200: { description: "Info", schema: InstanceInfoResponse } },
    },
    (_req, res) => {
      res.json(instanceInfoJson(config));
    },
  );
  op(
    r,
    {
      method: "get",
      path: "/multiple-codegen-list",
      tag: "client",
      summary: "Code generator name → internal URL (kept for old clients)",
      responses: { 200: { description: "Map", schema: CodeGenListResponse } },
    },
    (_req, res) => {
      res.json(codeGenListJson(config));
    },
  );
  return r;
}
