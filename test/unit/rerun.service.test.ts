// RerunService (docs/decisions.md D35) with small fakes of its ports: who may re-run, which state is refused
// with which 409, that nothing is written when the code generator is down or a concurrent re-run won under
// the lock, and the order of what follows the transition (the previous shutdown first, then the tasks and
// the transformers; Fatal when they cannot start).
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { Database } from "../../src/adapters/db/database.js";
import type { RequestRecord, RequestsRepo } from "../../src/adapters/repositories/requests.repo.js";
import type { RerunsRepo } from "../../src/adapters/repositories/reruns.repo.js";
import type { Dispatcher } from "../../src/domain/dispatcher.js";
import { AppError } from "../../src/domain/errors.js";
import type { Lifecycle } from "../../src/domain/lifecycle.js";
import type { CodeGenerator, LaunchSpec, TransformerLauncher } from "../../src/domain/ports.js";
import { RerunService } from "../../src/domain/rerun.service.js";
import type { TransformStatusName } from "../../src/domain/status.js";

const ID = "0b7c1c2e-5d0a-4f43-9a55-3c1e1a8f0d11";

function record(over: Partial<RequestRecord> = {}): RequestRecord {
  return {
    id: 7,
    requestId: ID,
    title: "t",
    submitTime: new Date(0),
    finishTime: new Date(1),
    did: "d",
    didId: 3,
    selection: "(sel)",
    treeName: null,
    image: "img:1",
    workers: 4,
    resultDestination: "object-store",
    resultFormat: "parquet",
    submittedBy: 11,
    files: 10,
    filesCompleted: 7,
    filesFailed: 3,
    totalEvents: 0,
    totalBytes: 0,
    generatedCodeCm: null,
    status: "complete",
    failureDescription: null,
    appVersion: null,
    codeGenImage: "gen:1",
    transformerLanguage: null,
    transformerCommand: null,
    ...over,
  };
}

interface World {
  calls: string[];
  launched: LaunchSpec[];
  finished: Array<{ status: TransformStatusName; from: readonly TransformStatusName[] | null }>;
  terminated: string[];
}

function service(o: {
  rec?: RequestRecord | null;
  stale?: boolean;
  locked?: { status: TransformStatusName; filesFailed: number; stale: boolean } | null;
  cleared?: number;
  codegenDown?: boolean;
  launchFails?: boolean;
}) {
  const w: World = { calls: [], launched: [], finished: [], terminated: [] };
  const rec = o.rec === undefined ? record() : o.rec;
  const db = {
    sql: {
      transaction: async <R>(fn: (tx: unknown) => Promise<R>) => {
        w.calls.push("transaction");
        return fn({});
      },
    },
  } as unknown as Database;
  const requests = {
    find: async () => rec,
    finish: async (
      _tx: unknown,
      _id: string,
      status: TransformStatusName,
      _why: string | null,
      from: readonly TransformStatusName[] | null,
    ) => {
      w.finished.push({ status, from });
      return true;
    },
  } as unknown as RequestsRepo;
  const reruns = {
    datasetStale: async () => o.stale ?? false,
    lock: async () =>
      o.locked === undefined
        ? { status: rec!.status, filesFailed: rec!.filesFailed, stale: false }
        : o.locked,
    start: async () => {
      w.calls.push("start");
      const n = o.cleared ?? rec!.filesFailed;
      return n === 0 ? null : { files: n, rerun: 1, at: new Date(5) };
    },
    list: async () => [],
  } as unknown as RerunsRepo;
  const codegen: CodeGenerator = {
    names: () => ["gen"],
    generate: async () => {
      if (o.codegenDown) throw new Error("connection refused");
      w.calls.push("generate");
      return { image: "img:2", language: "python", command: "run.py", zip: Buffer.from("z") };
    },
  };
  const launcher: TransformerLauncher = {
    kind: "fake",
    start: async (spec) => {
      w.calls.push("launch");
      if (o.launchFails) throw new Error("quota exceeded");
      w.launched.push(spec);
    },
    shutdown: async () => {},
  };
  const dispatcher = { redrive: () => w.calls.push("redrive") } as unknown as Dispatcher;
  const lifecycle = {
    idle: async () => {
      await new Promise((r) => setTimeout(r, 5));
      w.calls.push("previous shutdown done");
    },
    terminated: (id: string) => w.terminated.push(id),
  } as unknown as Lifecycle;
  const svc = new RerunService(
    db,
    requests,
    reruns,
    codegen,
    launcher,
    dispatcher,
    lifecycle,
    null,
    pino({ level: "silent" }),
    { codeGenImages: { gen: "gen:1" } },
  );
  return { svc, w };
}

const owner = { user: { id: 11, admin: false } };
const other = { user: { id: 12, admin: false } };
const admin = { user: { id: 1, admin: true } };

async function refused(p: Promise<unknown>): Promise<{ status: number; code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    const a = e as AppError;
    return { status: a.status, code: a.code, message: a.message };
  }
  throw new Error("expected a refusal");
}

describe("RerunService", () => {
  it("When the request is in each state, then refusal() names the 409 a re-run gets (null: it may run)", () => {
    const { svc } = service({});
    const code = (status: TransformStatusName, filesFailed: number, stale = false) =>
      svc.refusal(record({ status, filesFailed }), stale)?.code ?? null;
    for (const s of ["submitted", "pending_lookup", "lookup", "running"] as const) {
      expect(code(s, 3)).toBe("rerun_request_active");
    }
    for (const s of ["fatal", "canceled", "bad_dataset"] as const)
      expect(code(s, 3)).toBe("rerun_not_complete");
    expect(code("complete", 0)).toBe("rerun_no_failed_files");
    expect(code("complete", 3, true)).toBe("rerun_dataset_stale");
    expect(code("complete", 3)).toBeNull();
    expect(svc.refusal(record({ status: "running" }), false)?.status).toBe(409);
  });

  it("When another user asks, then 403 and nothing is written; an unknown id is 404", async () => {
    const { svc, w } = service({});
    expect(await refused(svc.rerunFailed(ID, other))).toMatchObject({
      status: 403,
      message: "You are not authorized to re-run this request",
    });
    expect(w.calls).toEqual([]);
    const gone = service({ rec: null });
    expect(await refused(gone.svc.rerunFailed(ID, admin))).toMatchObject({ status: 404 });
  });

  it("When the code generator does not answer, then 503 before any database write", async () => {
    const { svc, w } = service({ codegenDown: true });
    expect(await refused(svc.rerunFailed(ID, owner))).toMatchObject({
      status: 503,
      code: "codegen_unavailable",
    });
    expect(w.calls).toEqual([]);
  });

  it("When the image's generator is no longer configured, then 409 rerun_codegen_gone", async () => {
    const { svc, w } = service({ rec: record({ codeGenImage: "retired:0" }) });
    expect(await refused(svc.rerunFailed(ID, owner))).toMatchObject({
      status: 409,
      code: "rerun_codegen_gone",
    });
    expect(w.calls).toEqual([]);
  });

  it("When a concurrent re-run won the row lock, then 409 rerun_request_active and nothing is published or launched", async () => {
    const { svc, w } = service({ locked: { status: "running", filesFailed: 0, stale: false } });
    expect(await refused(svc.rerunFailed(ID, owner))).toMatchObject({
      status: 409,
      code: "rerun_request_active",
    });
    expect(w.calls).toEqual(["generate", "transaction"]);
  });

  it("When the failed results are gone by the time of the lock, then 409 rerun_no_failed_files", async () => {
    const { svc, w } = service({ cleared: 0 });
    expect(await refused(svc.rerunFailed(ID, admin))).toMatchObject({ code: "rerun_no_failed_files" });
    expect(w.calls).toEqual(["generate", "transaction", "start"]);
  });

  it("When it starts, then the previous run's shutdown is awaited, then the tasks are re-driven and the transformers started for the re-run files", async () => {
    const { svc, w } = service({});
    const out = await svc.rerunFailed(ID, owner);
    expect(out).toEqual({ requestId: ID, files: 3, rerun: 1, at: new Date(5) });
    expect(w.calls).toEqual([
      "generate",
      "transaction",
      "start",
      "previous shutdown done",
      "redrive",
      "launch",
    ]);
    expect(w.launched).toEqual([
      expect.objectContaining({
        requestId: ID,
        image: "img:2",
        workers: 4,
        files: 3,
        resultFormat: "parquet",
      }),
    ]);
    expect(w.finished).toEqual([]);
  });

  it("When the transformers cannot start, then the request ends Fatal (only from Running) and is shut down once", async () => {
    const { svc, w } = service({ launchFails: true });
    await svc.rerunFailed(ID, admin);
    expect(w.finished).toEqual([{ status: "fatal", from: ["running"] }]);
    expect(w.terminated).toEqual([ID]);
  });
});
