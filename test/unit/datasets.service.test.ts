// DatasetService (docs/api.md "Client routes", docs/decisions.md D25) over an in-memory catalogue: the list
// passes its filters through, one dataset comes with its files, "delete" marks stale once, and the errors
// are the catalogue's (404 dataset_not_found, 400 when already deleted). The wire JSON is
// test/integration/contract.users.test.ts.
import { describe, expect, it } from "vitest";
import {
  type DatasetCatalog,
  type DatasetFileRecord,
  type DatasetRecord,
  DatasetService,
} from "../../src/domain/datasets.service.js";
import { AppError } from "../../src/domain/errors.js";
import type { Requester } from "../../src/domain/policy.js";

/** A signed-in non-admin: datasets are shared, so the policy lets any identified caller read and mark them. */
const who: Requester = { user: { id: 5, admin: false } };

const dataset = (id: number, over: Partial<DatasetRecord> = {}): DatasetRecord => ({
  id,
  name: `rucio://scope:ds${id}`,
  didFinder: "rucio",
  nFiles: 1,
  size: 10n,
  events: 5n,
  lastUsed: new Date(0),
  lastUpdated: null,
  lookupStatus: "complete",
  stale: false,
  ...over,
});

function catalog(rows: DatasetRecord[], files: Record<number, DatasetFileRecord[]> = {}) {
  const asked: unknown[] = [];
  const c: DatasetCatalog = {
    list: async (opts) => {
      asked.push(opts);
      return rows;
    },
    get: async (id) => rows.find((d) => d.id === id) ?? null,
    files: async (id) => files[id] ?? [],
    markStale: async (id) => {
      const d = rows.find((r) => r.id === id);
      if (!d || d.stale) return false;
      d.stale = true;
      return true;
    },
  };
  return { c, asked };
}

async function errorOf(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe("DatasetService", () => {
  it("When listing, then the filters reach the catalogue unchanged", async () => {
    const { c, asked } = catalog([dataset(1)]);
    const s = new DatasetService(c);
    expect(await s.list(who, { didFinder: "rucio", showDeleted: true })).toHaveLength(1);
    expect(asked).toEqual([{ didFinder: "rucio", showDeleted: true }]);
  });

  it("When one dataset is asked for, then it comes with its files; an unknown one is a 404", async () => {
    const file: DatasetFileRecord = {
      id: 9,
      adler32: null,
      fileSize: 1n,
      fileEvents: null,
      paths: "root://f",
    };
    const s = new DatasetService(catalog([dataset(1)], { 1: [file] }).c);
    expect(await s.withFiles(who, 1)).toEqual({ dataset: dataset(1), files: [file] });
    const err = await errorOf(s.withFiles(who, 2));
    expect({ code: err.code, status: err.status, message: err.message }).toEqual({
      code: "dataset_not_found",
      status: 404,
      message: "Dataset 2 not found",
    });
  });

  it("When a dataset is marked stale twice, then the first answers it stale and the second is a 400", async () => {
    const s = new DatasetService(catalog([dataset(3)]).c);
    expect((await s.markStale(who, 3)).stale).toBe(true);
    const again = await errorOf(s.markStale(who, 3));
    expect({ status: again.status, message: again.message }).toEqual({
      status: 400,
      message: "Dataset 3 has already been deleted",
    });
    expect((await errorOf(s.markStale(who, 4))).code).toBe("dataset_not_found");
  });
});
