// Client API for cached datasets (docs/api.md "Client routes"): the routes declare their schemas and guard,
// the DatasetService (src/domain/datasets.service.ts) acts, the presenter writes the wire JSON.
import { type Request, Router } from "express";
import { z } from "zod";
import type { DatasetService } from "../../domain/datasets.service.js";
import { appError } from "../../domain/errors.js";
import { type Auth, requester } from "../middleware/auth.js";
import { op } from "../openapi.js";
import { datasetListJson, datasetStaleJson, datasetWithFilesJson } from "../presenters/dataset.presenter.js";
import { boolQuery, datasetIdParam, text } from "../schemas/common.js";
import {
  DatasetListResponse,
  DatasetStaleResponse,
  DatasetWithFilesResponse,
} from "../schemas/datasets.schemas.js";
import { AUTH_ERRORS, ErrorResponse } from "../schemas/errors.schemas.js";

export interface DatasetRoutesDeps {
  datasets: DatasetService;
  auth: Auth;
}

/** A dataset id that is not a number names no dataset (404, as an unknown one). */
const paramNotFound = (req: Request) => appError("dataset_not_found", { id: String(req.params.dataset_id) });

export function datasetRoutes({ datasets, auth }: DatasetRoutesDeps): Router {
  const r = Router();
  op(
    r,
    {
      method: "get",
      path: "/servicex/datasets",
      tag: "client",
      summary: "Cached datasets (live ones unless show-deleted)",
      query: z.object({ "did-finder": text(64).optional(), "show-deleted": boolQuery }),
      guard: auth(),
      responses: { 200: { description: "Datasets", schema: DatasetListResponse }, ...AUTH_ERRORS },
    },
    async (_req, res, { query }) => {
      const rows = await datasets.list(requester(res), {
        didFinder: query["did-finder"],
        showDeleted: query["show-deleted"] ?? false,
      });
      res.json(datasetListJson(rows));
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
      guard: auth(),
      responses: {
        200: { description: "Dataset", schema: DatasetWithFilesResponse },
        404: { description: "Unknown", schema: ErrorResponse },
        ...AUTH_ERRORS,
      },
    },
    async (_req, res, { params }) => {
      res.json(datasetWithFilesJson(await datasets.withFiles(requester(res), params.dataset_id)));
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
      guard: auth({ changesState: true }),
      responses: {
        200: { description: "Marked stale", schema: DatasetStaleResponse },
        400: { description: "Already deleted", schema: ErrorResponse },
        404: { description: "Unknown", schema: ErrorResponse },
        ...AUTH_ERRORS,
      },
    },
    async (_req, res, { params }) => {
      res.json(datasetStaleJson(await datasets.markStale(requester(res), params.dataset_id)));
    },
  );
  return r;
}
