// The domain's request-path services (submit, DID-finder callbacks, file-complete, cancel, re-run, the
// dispatcher and the end-of-request lifecycle) built as src/compose.ts builds them, but on the in-memory
// fakes: a whole request runs in milliseconds with no Postgres, RabbitMQ or HTTP. Used by test/unit.
import { randomUUID } from "node:crypto";
import { pino } from "pino";
import { Dispatcher } from "../../../src/domain/dispatcher.js";
import { FileCompleteService } from "../../../src/domain/fileComplete.service.js";
import { Lifecycle } from "../../../src/domain/lifecycle.js";
import { LookupService } from "../../../src/domain/lookup.service.js";
import type { FileReport, ReportOutcome } from "../../../src/domain/repositories.js";
import { RerunService } from "../../../src/domain/rerun.service.js";
import type { TransformStatusName } from "../../../src/domain/status.js";
import {
  type Requester,
  type SubmitInput,
  type TransformationConfig,
  TransformationService,
} from "../../../src/domain/transformation.service.js";
import { MemoryDatabase, type RequestRow } from "./memoryDatabase.js";
import { FakeBroker, FakeCodeGenerator, FakeLauncher, FakeObjectStore } from "./ports.js";
import {
  FakeDatasetsRepo,
  FakeIdempotencyRepo,
  FakeRequestsRepo,
  FakeResultsRepo,
  FakeRerunsRepo,
} from "./repositories.js";

export const CODEGEN_IMAGES = { uproot: "sslhep/servicex_func_adl_uproot_transformer:test" };

export interface DomainOptions {
  maxLookupAttempts?: number;
  transformation?: Partial<TransformationConfig>;
  /** The object store port (default: a FakeObjectStore); null for none. */
  objectStore?: FakeObjectStore | null;
}

export type DomainWorld = ReturnType<typeof domainWorld>;

export function domainWorld(o: DomainOptions = {}) {
  const log = pino({ level: "silent" });
  const db = new MemoryDatabase();
  const requests = new FakeRequestsRepo(db);
  const datasets = new FakeDatasetsRepo(db);
  const results = new FakeResultsRepo(db);
  const rerunsRepo = new FakeRerunsRepo(db);
  const idempotency = new FakeIdempotencyRepo();
  const broker = new FakeBroker();
  const launcher = new FakeLauncher();
  const codegen = new FakeCodeGenerator(CODEGEN_IMAGES);
  const objectStore = o.objectStore === undefined ? new FakeObjectStore() : o.objectStore;
  const lifecycle = new Lifecycle(launcher, broker, log);
  const terminated: Array<{ requestId: string; status: TransformStatusName }> = [];
  lifecycle.listeners.push((requestId, status) => terminated.push({ requestId, status }));
  const dispatcher = new Dispatcher(requests, datasets, broker, log, {
    advertisedHostname: "app.test:8000",
    defaultScheme: "rucio",
    chunk: 100,
    retryDelayMs: 5,
  });
  const transformations = new TransformationService(
    db,
    requests,
    datasets,
    codegen,
    launcher,
    dispatcher,
    lifecycle,
    log,
    objectStore,
    {
      defaultScheme: "rucio",
      validSchemes: ["rucio", "cernopendata"],
      codeGenImages: CODEGEN_IMAGES,
      appVersion: "test",
      ...o.transformation,
    },
    idempotency,
  );
  const lookups = new LookupService(db, datasets, requests, dispatcher, lifecycle, log, {
    // ReconcileRepo.reopenLookup: counted, and left for the dispatcher's unpublished-lookups pass.
    reopenLookup: async (id) => {
      const d = db.tables.dataset(id);
      if (d) {
        d.lookup_attempts += 1;
        d.lookupPublished = false;
      }
    },
    maxAttempts: o.maxLookupAttempts ?? 3,
    wait: { retryForMs: 0 },
  });
  const fileComplete = new FileCompleteService(results, lifecycle, log, (id) => requests.resultFormat(id), {
    maxBatch: 128,
    retryForMs: 0,
  });
  const reruns = new RerunService(
    db,
    requests,
    rerunsRepo,
    codegen,
    launcher,
    dispatcher,
    lifecycle,
    objectStore,
    log,
    { codeGenImages: CODEGEN_IMAGES },
  );

  const anyone: Requester = { user: null };

  const world = {
    db,
    tables: db.tables,
    repos: { requests, datasets, results, reruns: rerunsRepo, idempotency },
    broker,
    launcher,
    codegen,
    objectStore,
    lifecycle,
    dispatcher,
    transformations,
    lookups,
    fileComplete,
    reruns,
    /** Every lifecycle.terminated() call, in order. */
    terminated,
    anyone,

    /** A submit body with every field set (override any). */
    input(over: Partial<SubmitInput> = {}): SubmitInput {
      return {
        title: null,
        did: null,
        fileList: null,
        selection: "(call ResultTTree)",
        codegen: "uproot",
        treeName: null,
        workers: 1,
        resultDestination: "object-store",
        resultFormat: "parquet",
        ...over,
      };
    },

    async submitDid(did = `rucio://user.test:${randomUUID()}`, who: Requester = anyone): Promise<string> {
      const { requestId } = await transformations.submitRequest(world.input({ did }), who);
      return requestId;
    },

    async submitFiles(n: number, who: Requester = anyone): Promise<string> {
      const paths = Array.from({ length: n }, (_, i) => `root://eos/${randomUUID()}/f${i}.root`);
      const { requestId } = await transformations.submitRequest(world.input({ fileList: paths }), who);
      return requestId;
    },

    row(requestId: string): RequestRow {
      const r = db.tables.request(requestId);
      if (!r) throw new Error(`no request ${requestId}`);
      return r;
    },

    status(requestId: string): TransformStatusName {
      return world.row(requestId).status;
    },

    /** The statuses a request went through, in order. */
    path(requestId: string): TransformStatusName[] {
      return db.tables.history.filter((h) => h.requestId === requestId).map((h) => h.status);
    },

    /** The file ids of a request's dataset, in id order. */
    fileIds(requestId: string): number[] {
      const didId = world.row(requestId).didId;
      return db.tables.files.filter((f) => f.datasetId === didId).map((f) => f.id);
    },

    /** The DID finder sends `n` new files for the dataset of `requestId`. */
    async findFiles(requestId: string, n: number): Promise<void> {
      const didId = world.row(requestId).didId;
      const files = Array.from({ length: n }, () => ({
        paths: `root://eos/${randomUUID()}.root`,
        adler32: null,
        fileSize: 10,
        fileEvents: 5,
      }));
      await lookups.addFiles(didId, files);
    },

    /** The DID finder's /complete for the dataset of `requestId` (its count defaults to what arrived). */
    async completeLookup(requestId: string, files?: number): Promise<void> {
      const didId = world.row(requestId).didId;
      const arrived = db.tables.files.filter((f) => f.datasetId === didId).length;
      await lookups.complete(didId, { files: files ?? arrived, totalEvents: 0, totalBytes: 0 });
    },

    /** One file-complete report from a transformer sidecar. */
    report(requestId: string, fileId: number, success = true, over: Partial<FileReport> = {}) {
      return fileComplete.report({
        requestId,
        fileId,
        success,
        status: success ? "success" : "failure",
        filePath: `f${fileId}.root`,
        transformTime: 1.5,
        totalEvents: success ? 100 : 0,
        totalBytes: success ? 1000 : 0,
        avgRate: 66,
        s3ObjectName: null,
        podName: "pod-1",
        info: success ? null : "segfault",
        ...over,
      });
    },

    /** Reports every file of the request's dataset, with the given ids failing. */
    async reportAll(requestId: string, failing: readonly number[] = []): Promise<ReportOutcome[]> {
      return Promise.all(
        world.fileIds(requestId).map((id) => world.report(requestId, id, !failing.includes(id))),
      );
    },

    /** Waits for the dispatcher, the file-complete batches and every shutdown in flight. */
    async settle(): Promise<void> {
      await fileComplete.idle();
      await dispatcher.idle();
      await lifecycle.idle();
    },

    close(): void {
      dispatcher.stop();
    },
  };
  return world;
}
