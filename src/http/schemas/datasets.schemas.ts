// Wire shapes of the cached-dataset routes (docs/api.md "Client routes", docs/decisions.md D25). The
// OpenAPI document publishes them (op() in src/http/openapi.ts) and the presenter's output is typed by them
// (src/http/presenters/dataset.presenter.ts). Field names are the ones the Python client reads.
import { z } from "zod";

/** A dataset of GET /servicex/datasets; times as docs/decisions.md D1. */
export const DatasetJson = z.object({
  id: z.number(),
  name: z.string(),
  did_finder: z.string(),
  n_files: z.number().nullable(),
  size: z.number().nullable(),
  events: z.number().nullable(),
  last_used: z.string(),
  last_updated: z.string().nullable(),
  lookup_status: z.string(),
  is_stale: z.boolean(),
});

/** One file of a dataset (GET /servicex/datasets/:dataset_id). */
export const DatasetFileJson = z.object({
  id: z.number(),
  adler32: z.string().nullable(),
  file_size: z.number().nullable(),
  file_events: z.number().nullable(),
  paths: z.string(),
});

export const DatasetListResponse = z.object({ datasets: z.array(DatasetJson) });
export const DatasetWithFilesResponse = DatasetJson.extend({ files: z.array(DatasetFileJson) });
export const DatasetStaleResponse = z.object({ "dataset-id": z.number(), stale: z.boolean() });

export type DatasetJson = z.output<typeof DatasetJson>;
export type DatasetFileJson = z.output<typeof DatasetFileJson>;
export type DatasetListResponse = z.output<typeof DatasetListResponse>;
export type DatasetWithFilesResponse = z.output<typeof DatasetWithFilesResponse>;
export type DatasetStaleResponse = z.output<typeof DatasetStaleResponse>;
