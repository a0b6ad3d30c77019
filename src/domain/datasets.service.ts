// Cached datasets as the client API serves them (docs/api.md "Client routes", docs/decisions.md D25): the
// list, one dataset with its files, and "delete", which only marks a dataset stale so that the next submit
// of its DID looks it up again (docs/database.md). The lookups that fill datasets are lookup.service.ts.
import { appError, badRequest, forbidden } from "./errors.js";
import { mayChangeDataset, mayReadDataset, type Requester } from "./policy.js";
import type { DatasetLookupStatus } from "./status.js";

/** A `datasets` row as the client API shows it (docs/database.md). */
export interface DatasetRecord {
  id: number;
  name: string;
  didFinder: string;
  nFiles: number | null;
  size: bigint | null;
  events: bigint | null;
  lastUsed: Date;
  lastUpdated: Date | null;
  /** One of DatasetLookupStatus; a string because an adopted upstream database may hold others. */
  lookupStatus: DatasetLookupStatus | string;
  stale: boolean;
}

/** A `files` row of a dataset (docs/database.md). */
export interface DatasetFileRecord {
  id: number;
  adler32: string | null;
  fileSize: bigint | null;
  fileEvents: bigint | null;
  paths: string;
}

/** The reads and the soft delete this service needs (src/adapters/repositories/datasets.repo.ts). */
export interface DatasetCatalog {
  /** In id order; stale ones only when `showDeleted`. */
  list(opts: { didFinder?: string; showDeleted: boolean }): Promise<DatasetRecord[]>;
  get(id: number): Promise<DatasetRecord | null>;
  /** The dataset's files in id order. */
  files(id: number): Promise<DatasetFileRecord[]>;
  /** Soft delete; false when the dataset was already stale. */
  markStale(id: number): Promise<boolean>;
}

export interface DatasetWithFiles {
  dataset: DatasetRecord;
  files: DatasetFileRecord[];
}

const datasetNotFound = (id: number) => appError("dataset_not_found", { id });

/** The policy's answer (src/domain/policy.ts) for `who`, or its 403. */
function allow(permitted: boolean, action: string): void {
  if (!permitted) throw forbidden(`You are not authorized to ${action} datasets`);
}

export class DatasetService {
  constructor(private readonly catalog: DatasetCatalog) {}

  /** GET /servicex/datasets: live datasets, or every one with `showDeleted`, optionally of one DID finder. */
  async list(who: Requester, opts: { didFinder?: string; showDeleted: boolean }): Promise<DatasetRecord[]> {
    allow(mayReadDataset(who), "view");
    return this.catalog.list(opts);
  }

  /** GET /servicex/datasets/:id: the dataset (stale ones too) and its files; 404 when unknown. */
  async withFiles(who: Requester, id: number): Promise<DatasetWithFiles> {
    allow(mayReadDataset(who), "view");
    const dataset = await this.catalog.get(id);
    if (!dataset) throw datasetNotFound(id);
    return { dataset, files: await this.catalog.files(dataset.id) };
  }

  /** DELETE /servicex/datasets/:id: marks it stale; 404 when unknown, 400 when it already is. */
  async markStale(who: Requester, id: number): Promise<DatasetRecord> {
    allow(mayChangeDataset(who), "delete");
    const dataset = await this.catalog.get(id);
    if (!dataset) throw datasetNotFound(id);
    if (!(await this.catalog.markStale(dataset.id))) {
      throw badRequest(`Dataset ${id} has already been deleted`);
    }
    return { ...dataset, stale: true };
  }
}
