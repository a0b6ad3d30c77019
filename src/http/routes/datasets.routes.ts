// Client API for cached datasets (docs/api.md).
import { type Request, Router } from "express";
import { z } from "zod";
import { appError, badRequest } from "../../domain/errors.js";
import type { AppDeps } from "../deps.js";
import { op } from "../openapi.js";
import { datasetFileJson, datasetJson } from "../presenters/dataset.presenter.js";
import { MessageResponse, boolQuery, datasetIdParam, text } from "../schemas/common.js";

const paramNotFound = (req: Request) => appError("dataset_not_found", { id: String(req.params.dataset_id) });

export function datasetRoutes(deps: AppDeps): Router {
  const r = Router();
  const repo = deps.repos.datasets;
  op(
    r,
    {
      method: "get",
      path: "/servicex/datasets",
      tag: "client",
      summary: "Cached datasets (live ones unless show-deleted)",
      query: z.object({ "did-finder": text(64).optional(), "show-deleted": boolQuery }),
      responses: { 200: { description: "Datasets" } },
    },
    async (req, res, { query }) => {
      await deps.requester(req);
      const rows = await repo.list({
        didFinder: query["did-finder"],
        showDeleted: query["show-deleted"] ?? false,
      });
      res.json({ datasets: rows.map(datasetJson) });
    },
  );
  op(
    r,
    {
      method: "get",
      path: "/servicex/datasets/:dataset_id",
      tag: "client",
      summary: "One dataset with its files",
      params: datasetIdParam,
      notFound: paramNotFound,
      responses: {
        200: { description: "Dataset" },
        404: { description: "Unknown", schema: MessageResponse },
      },
    },
    async (req, res, { params }) => {
      await deps.requester(req);
      const d = await repo.get(params.dataset_id);
      if (!d) throw appError("dataset_not_found", { id: params.dataset_id });
      const files = await repo.files(d.id);
      res.json({ ...datasetJson(d), files: files.map(datasetFileJson) });
    },
  );
  op(
    r,
    {
      method: "delete",
      path: "/servicex/datasets/:dataset_id",
      tag: "client",
      summary: "Mark a dataset stale: the next submit of its DID looks it up again",
      params: datasetIdParam,
      notFound: paramNotFound,
      responses: {
        200: {
          description: "Marked stale",
          schema: z.object({ "dataset-id": z.number(), stale: z.boolean() }),
        },
        400: { description: "Already deleted", schema: MessageResponse },
        404: { description: "Unknown", schema: MessageResponse },
      },
    },
    async (req, res, { params }) => {
      await deps.requester(req);
      const d = await repo.get(params.dataset_id);
      if (!d) throw appError("dataset_not_found", { id: params.dataset_id });
      if (!(await repo.markStale(d.id)))
        throw badRequest(`Dataset ${params.dataset_id} has already been deleted`);
      res.json({ "dataset-id": d.id, stale: true });
    },
  );
  return r;
}
