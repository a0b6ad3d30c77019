// Dataset wire JSON (docs/database.md, docs/decisions.md D25).
import type { Dataset, DatasetFile } from "../../generated/prisma/client.js";
import { isoZ } from "./time.js";

const big = (v: bigint | null) => (v === null ? null : Number(v));

export function datasetJson(d: Dataset): Record<string, unknown> {
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

export function datasetFileJson(f: DatasetFile): Record<string, unknown> {
  return {
    id: f.id,
    adler32: f.adler32,
    file_size: big(f.fileSize),
    file_events: big(f.fileEvents),
    paths: f.paths,
  };
}
