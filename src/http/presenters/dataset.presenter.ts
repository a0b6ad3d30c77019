// Dataset wire JSON (docs/database.md, docs/decisions.md D25), typed by the response schemas the OpenAPI
// document publishes (src/http/schemas/datasets.schemas.ts).
import type { DatasetFileRecord, DatasetRecord, DatasetWithFiles } from "../../domain/datasets.service.js";
import type {
  DatasetFileJson,
  DatasetJson,
  DatasetListResponse,
  DatasetStaleResponse,
  DatasetWithFilesResponse,
} from "../schemas/datasets.schemas.js";
import { isoZ } from "./time.js";

const big = (v: bigint | null) => (v === null ? null : Number(v));

export function datasetJson(d: DatasetRecord): DatasetJson {
  return {
    id: d.id,
    name: d.name,
    did_finder: d.didFinder,
    n_files: d.nFiles,
    size: big(d.size),
    events: big(d.events),
    last_used: isoZ(d.lastUsed),
    last_updated: d.lastUpdated ? isoZ(d.lastUpdated) : null,
    lookup_status: d.lookupStatus,
    is_stale: d.stale,
  };
}

export function datasetFileJson(f: DatasetFileRecord): DatasetFileJson {
  return {
    id: f.id,
    adler32: f.adler32,
    file_size: big(f.fileSize),
    file_events: big(f.fileEvents),
    paths: f.paths,
  };
}

/** GET /servicex/datasets. */
export const datasetListJson = (rows: readonly DatasetRecord[]): DatasetListResponse => ({
  datasets: rows.map(datasetJson),
});

/** GET /servicex/datasets/:dataset_id: the dataset's fields and its files. */
export const datasetWithFilesJson = (d: DatasetWithFiles): DatasetWithFilesResponse => ({
  ...datasetJson(d.dataset),
  files: d.files.map(datasetFileJson),
});

/** DELETE /servicex/datasets/:dataset_id. */
export const datasetStaleJson = (d: DatasetRecord): DatasetStaleResponse => ({
  "dataset-id": d.id,
  stale: d.stale,
});
