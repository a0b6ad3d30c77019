// The request state machine of docs/database.md ("State machine of a request"), run through the real domain
// services (submit, DID-finder callbacks, file-complete, cancel, status report, re-run) on in-memory fakes
// of their ports (test/helpers/fakes): every transition, every way to a terminal status with its single
// shutdown, terminal statuses that nothing but a re-run leaves, and cancel racing the last file report.
// No Postgres, RabbitMQ or HTTP: the whole file runs in milliseconds. The same rules are checked end to end
// over HTTP in test/integration/lifecycle.*.test.ts.
import { afterEach, describe, expect, it } from "vitest";
import { AppError } from "../../src/domain/errors.js";
import { TERMINAL_STATUSES, type TransformStatusName } from "../../src/domain/status.js";
import { type DomainWorld, domainWorld } from "../helpers/fakes/domain.js";
import { until } from "../helpers/fakes/memoryDatabase.js";

let w: DomainWorld;
const world = (o?: Parameters<typeof domainWorld>[0]) => {
  w = domainWorld(o);
  return w;
};
afterEach(() => w?.close());

/** The AppError a promise rejects with. */
async function refusal(p: Promise<unknown>): Promise<{ status: number; code: string; message: string }> {
  const err = await p.then(
    () => {
      throw new Error("expected a refusal");
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  const e = err as AppError;
  return { status: e.status, code: e.code, message: e.message };
}

/**
 * Exactly one end of the request: one lifecycle call and one launcher shutdown. Its queue is removed then
 * (and once more by the dispatcher when it had declared the queue again while publishing).
 */
function expectEndedOnce(requestId: string, status: TransformStatusName): void {
  expect(w.status(requestId)).toBe(status);
  expect(w.terminated.filter((t) => t.requestId === requestId)).toEqual([{ requestId, status }]);
  expect(w.launcher.shutdownCount(requestId)).toBe(1);
  expect(w.broker.deletedQueues).toContain(requestId);
  expect(w.row(requestId).finishTime).not.toBeNull();
}

/** A request in Lookup with `n` files found so far. */
async function inLookup(n = 0): Promise<string> {
  const id = await w.submitDid();
  if (n > 0) await w.findFiles(id, n);
  return id;
}

/** A Running request with `n` files (a DID lookup that completed). */
async function running(n = 3): Promise<string> {
  const id = await inLookup(n);
  await w.completeLookup(id);
  await w.settle();
  return id;
}

describe("submit", () => {
  it("When the DID's dataset is new, then the request is in Lookup, the lookup is sent and transformers start", async () => {
    world();
    const id = await w.submitDid("rucio://user.a:ds1");
    expect(w.path(id)).toEqual(["lookup"]);
    expect(w.broker.lookups).toMatchObject([{ scheme: "rucio", did: "user.a:ds1" }]);
    expect(w.tables.datasets[0]).toMatchObject({ lookup_status: "looking", lookupPublished: true });
    expect(w.launcher.started.map((s) => s.requestId)).toEqual([id]);
    expect(w.objectStore!.buckets.has(id)).toBe(true);
  });

  it("When the dataset is being looked up for another request, then it waits in Pending Lookup and no second lookup is sent", async () => {
    world();
    const first = await w.submitDid("rucio://user.a:ds1");
    const second = await w.submitDid("rucio://user.a:ds1");
    expect(w.path(first)).toEqual(["lookup"]);
    expect(w.path(second)).toEqual(["pending_lookup"]);
    expect(w.broker.lookups).toHaveLength(1);
    expect(w.row(second).didId).toBe(w.row(first).didId);
  });

  it("When the dataset is complete already, then the request runs at once with every file published", async () => {
    world();
    const first = await running(4);
    const again = await w.submitDid(w.row(first).did);
    await w.settle();
    expect(w.path(again)).toEqual(["running"]);
    expect(w.row(again).files).toBe(4);
    expect(w.broker.fileIds(again)).toEqual(w.fileIds(first));
    expect(w.broker.lookups).toHaveLength(1);
  });

  it("When a file list is submitted, then its dataset is complete from birth and the request runs", async () => {
    world();
    const id = await w.submitFiles(5);
    await w.settle();
    expect(w.path(id)).toEqual(["running"]);
    expect(w.row(id).files).toBe(5);
    expect(w.broker.fileIds(id)).toEqual(w.fileIds(id));
    expect(w.broker.lookups).toEqual([]);
  });

  it("When the complete dataset has no files, then the request is Complete at submit and shut down once", async () => {
    world();
    const empty = await inLookup(0);
    await w.completeLookup(empty, 0);
    const again = await w.submitDid(w.row(empty).did);
    await w.settle();
    expect(w.path(again)).toEqual(["running", "complete"]);
    expectEndedOnce(again, "complete");
    expect(w.launcher.started.map((s) => s.requestId)).not.toContain(again);
  });

  it("When the code generator is down, then nothing is written and the answer is 503", async () => {
    world();
    w.codegen.down = true;
    expect(await refusal(w.submitDid())).toMatchObject({ status: 503, code: "codegen_unavailable" });
    expect(w.tables.requests).toEqual([]);
    expect(w.tables.datasets).toEqual([]);
  });

  it("When the object store cannot create the bucket, then nothing is written", async () => {
    world();
    w.objectStore!.failCreate = "no such host";
    expect(await refusal(w.submitDid())).toMatchObject({ code: "object_store_unavailable" });
    expect(w.tables.requests).toEqual([]);
  });

  it("When the broker is down at submit, then the request is accepted in Lookup and its lookup is sent later", async () => {
    world();
    w.broker.down = true;
    const id = await w.submitDid("rucio://user.a:later");
    expect(w.status(id)).toBe("lookup");
    expect(w.tables.datasets[0]!.lookupPublished).toBe(false);
    w.broker.down = false;
    w.dispatcher.kickLookups();
    await until(() => w.broker.lookups.length === 1);
    expect(w.tables.datasets[0]!.lookupPublished).toBe(true);
  });

  it("When the transformers cannot start, then the request ends Fatal with the reason, once", async () => {
    world();
    w.launcher.failStart = "quota exceeded";
    const id = await w.submitFiles(2);
    await w.settle();
    expect(w.path(id)).toEqual(["running", "fatal"]);
    expect(w.row(id).failureDescription).toBe("Could not start transformers: quota exceeded");
    expectEndedOnce(id, "fatal");
  });
});

describe("DID-finder lookup", () => {
  it("When files arrive during the lookup, then each is published while the request is still in Lookup", async () => {
    world();
    const id = await inLookup(3);
    await w.settle();
    expect(w.status(id)).toBe("lookup");
    expect(w.row(id).files).toBe(3);
    expect(w.broker.fileIds(id)).toEqual(w.fileIds(id));
  });

  it("When the lookup completes with files, then Lookup and Pending Lookup requests run with the dataset's count", async () => {
    world();
    const looking = await inLookup(2);
    const waiting = await w.submitDid(w.row(looking).did);
    await w.findFiles(looking, 1);
    await w.completeLookup(looking);
    await w.settle();
    expect(w.path(looking)).toEqual(["lookup", "running"]);
    expect(w.path(waiting)).toEqual(["pending_lookup", "running"]);
    expect([w.row(looking).files, w.row(waiting).files]).toEqual([3, 3]);
    expect(w.broker.fileIds(waiting)).toEqual(w.fileIds(waiting));
    expect(w.tables.datasets[0]!.lookup_status).toBe("complete");
  });

  it("When the lookup completes with no files, then its requests are Complete and each is shut down once", async () => {
    world();
    const looking = await inLookup(0);
    const waiting = await w.submitDid(w.row(looking).did);
    await w.completeLookup(looking, 0);
    await w.settle();
    expect(w.path(looking)).toEqual(["lookup", "complete"]);
    expect(w.path(waiting)).toEqual(["pending_lookup", "complete"]);
    expectEndedOnce(looking, "complete");
    expectEndedOnce(waiting, "complete");
  });

  it("When every file was reported before the lookup completed, then the request is Complete at /complete, not before", async () => {
    world();
    const id = await inLookup(2);
    await w.settle();
    expect(await w.reportAll(id)).toEqual(["ok", "ok"]);
    expect(w.status(id)).toBe("lookup");
    await w.completeLookup(id);
    await w.settle();
    expect(w.path(id)).toEqual(["lookup", "complete"]);
    expectEndedOnce(id, "complete");
  });

  it("When the finder's count differs from the files that arrived, then the request stays in Lookup and the lookup is sent again", async () => {
    world();
    const id = await inLookup(2);
    await w.completeLookup(id, 3);
    expect(w.status(id)).toBe("lookup");
    expect(w.tables.datasets[0]).toMatchObject({ lookup_status: "looking", lookup_attempts: 1 });
    expect(w.broker.lookups).toHaveLength(2);
    await w.findFiles(id, 1);
    await w.completeLookup(id, 3);
    await w.settle();
    expect(w.path(id)).toEqual(["lookup", "running"]);
  });

  it("When files keep going missing past the attempts, then the lookup is abandoned and its requests end Fatal", async () => {
    world({ maxLookupAttempts: 1 });
    const id = await inLookup(1);
    const waiting = await w.submitDid(w.row(id).did);
    await w.completeLookup(id, 2);
    await w.findFiles(id, 1);
    await w.completeLookup(id, 3);
    await w.settle();
    expect(w.path(id)).toEqual(["lookup", "fatal"]);
    expect(w.path(waiting)).toEqual(["pending_lookup", "fatal"]);
    expect(w.row(id).failureDescription).toMatch(/reported 3 files but 2 arrived.*abandoned/);
    expect(w.tables.datasets[0]).toMatchObject({ lookup_status: "internal_failure", stale: true });
    expectEndedOnce(id, "fatal");
    expectEndedOnce(waiting, "fatal");
  });

  it("When the finder reports the same count again and nothing more arrived, then the lookup completes with the distinct files", async () => {
    world();
    const id = await inLookup(2);
    await w.completeLookup(id, 3);
    await w.completeLookup(id, 3);
    await w.settle();
    expect(w.path(id)).toEqual(["lookup", "running"]);
    expect(w.row(id).files).toBe(2);
  });

  it("When the DID finder reports an error, then Lookup and Pending Lookup requests end Bad Dataset and the dataset goes stale", async () => {
    world();
    const looking = await inLookup(1);
    const waiting = await w.submitDid(w.row(looking).did);
    await w.lookups.error(w.row(looking).didId, { errorType: "does_not_exist", message: "no such DID" });
    await w.settle();
    expect(w.path(looking)).toEqual(["lookup", "bad_dataset"]);
    expect(w.path(waiting)).toEqual(["pending_lookup", "bad_dataset"]);
    expect(w.row(looking).failureDescription).toBe("DID lookup failed (does_not_exist): no such DID");
    expect(w.tables.datasets[0]).toMatchObject({ lookup_status: "does_not_exist", stale: true });
    expectEndedOnce(looking, "bad_dataset");
    expectEndedOnce(waiting, "bad_dataset");
    // A resubmit of the DID gets a new, live dataset and a new lookup.
    const again = await w.submitDid(w.row(looking).did);
    expect(w.status(again)).toBe("lookup");
    expect(w.row(again).didId).not.toBe(w.row(looking).didId);
  });

  it("When /complete or /error come twice or cross, then the first decides and the second changes nothing", async () => {
    world();
    const done = await inLookup(1);
    const didDone = w.row(done).didId;
    await w.completeLookup(done);
    await w.completeLookup(done);
    expect(await refusal(w.lookups.error(didDone, { errorType: "bad_name", message: "x" }))).toMatchObject({
      status: 409,
      code: "lookup_already_ended",
    });
    const bad = await inLookup(0);
    const didBad = w.row(bad).didId;
    await w.lookups.error(didBad, { errorType: "bad_name", message: "x" });
    await w.lookups.error(didBad, { errorType: "bad_name", message: "x" });
    expect(
      await refusal(w.lookups.complete(didBad, { files: 0, totalEvents: 0, totalBytes: 0 })),
    ).toMatchObject({ status: 409, code: "lookup_already_ended" });
    await w.settle();
    expect(w.path(done)).toEqual(["lookup", "running"]);
    expect(w.path(bad)).toEqual(["lookup", "bad_dataset"]);
    expectEndedOnce(bad, "bad_dataset");
  });

  it("When files come for a dataset that is not being looked up, then they are ignored (unknown dataset: 404)", async () => {
    world();
    const id = await running(1);
    await w.findFiles(id, 2);
    expect(w.row(id).files).toBe(1);
    expect(await refusal(w.lookups.addFiles(999, []))).toMatchObject({ status: 404 });
  });
});

describe("file-complete", () => {
  it("When the last file is reported, then the request is Complete with exact counters and shut down once", async () => {
    world();
    const id = await running(3);
    const [a, b, c] = w.fileIds(id);
    expect(await w.report(id, a!, true)).toBe("ok");
    expect(await w.report(id, b!, false)).toBe("ok");
    expect(w.status(id)).toBe("running");
    expect(await w.report(id, c!, true)).toBe("ok");
    await w.settle();
    expect(w.path(id)).toEqual(["lookup", "running", "complete"]);
    expect(w.row(id)).toMatchObject({
      filesCompleted: 2,
      filesFailed: 1,
      totalEvents: 200,
      totalBytes: 2000,
    });
    expectEndedOnce(id, "complete");
  });

  it("When a file fails and then succeeds, or is reported twice, then it counts once", async () => {
    world();
    const id = await running(2);
    const [a, b] = w.fileIds(id);
    await w.report(id, a!, false);
    expect(w.row(id)).toMatchObject({ filesCompleted: 0, filesFailed: 1 });
    await w.report(id, a!, true);
    await w.report(id, a!, true);
    await w.report(id, a!, false);
    expect(w.row(id)).toMatchObject({ filesCompleted: 1, filesFailed: 0, totalBytes: 1000 });
    await w.report(id, b!, true);
    await w.settle();
    expectEndedOnce(id, "complete");
    expect(w.row(id)).toMatchObject({ filesCompleted: 2, filesFailed: 0 });
  });

  it("When reports in one batch disagree, then a success wins whatever the order", async () => {
    world();
    const id = await running(2);
    const [a] = w.fileIds(id);
    const outcomes = await Promise.all([
      w.report(id, a!, true),
      w.report(id, a!, false),
      w.report(id, a!, true),
    ]);
    expect(outcomes).toEqual(["ok", "ok", "ok"]);
    expect(w.row(id)).toMatchObject({ filesCompleted: 1, filesFailed: 0 });
  });

  it("When a report names no request, a file of another dataset, or a request without tasks, then it is refused and nothing moves", async () => {
    world();
    const id = await running(1);
    const other = await w.submitFiles(1);
    const pending = await w.submitDid(w.row(await inLookup(1)).did);
    expect(await w.report("00000000-0000-4000-8000-000000000000", 1)).toBe("request_not_found");
    expect(await w.report(id, w.fileIds(other)[0]!)).toBe("file_not_in_request");
    expect(await w.report(pending, w.fileIds(pending)[0]!)).toBe("request_not_running");
    expect(w.row(id)).toMatchObject({ filesCompleted: 0, filesFailed: 0, status: "running" });
    expect(w.status(pending)).toBe("pending_lookup");
  });

  it("When a success carries no object name, then the sidecar's name is derived from the request's format", async () => {
    world();
    const id = await w.submitFiles(1);
    const [a] = w.fileIds(id);
    await w.report(id, a!, true, { filePath: "root://eos/x/data.root" });
    expect(w.tables.results[0]!.s3ObjectName).toMatch(/data.*parquet$/);
  });
});

describe("cancel and fatal status reports", () => {
  it.each([
    ["pending_lookup", async () => w.submitDid(w.row(await inLookup(1)).did)],
    ["lookup", () => inLookup(1)],
    ["running", () => running(2)],
  ] as const)(
    "When a request in %s is canceled, then it is Canceled and shut down once",
    async (from, make) => {
      world();
      const id = await make();
      expect(w.status(id)).toBe(from);
      expect(await w.transformations.cancel(id, w.anyone)).toBe(`Canceled transformation request ${id}`);
      await w.settle();
      expect(w.path(id).slice(-2)).toEqual([from, "canceled"]);
      expectEndedOnce(id, "canceled");
    },
  );

  it("When a canceled Lookup request's dataset completes later, then the request stays Canceled and gets no tasks", async () => {
    world();
    const id = await inLookup(1);
    await w.settle();
    await w.transformations.cancel(id, w.anyone);
    const published = w.broker.fileIds(id).length;
    await w.findFiles(id, 2);
    await w.completeLookup(id);
    await w.settle();
    expect(w.status(id)).toBe("canceled");
    expect(w.broker.fileIds(id)).toHaveLength(published);
    expectEndedOnce(id, "canceled");
  });

  it("When someone else's request is canceled by a user, then 403; by an admin, then it is canceled", async () => {
    world();
    const id = await w.submitDid(undefined, { user: { id: 1, admin: false } });
    expect(await refusal(w.transformations.cancel(id, { user: { id: 2, admin: false } }))).toMatchObject({
      status: 403,
    });
    await w.transformations.cancel(id, { user: { id: 3, admin: true } });
    expect(w.status(id)).toBe("canceled");
  });

  it("When a transformer reports fatal, then the request is Fatal with its info; other severities change nothing", async () => {
    world();
    const id = await running(2);
    await w.transformations.statusReport(id, { severity: "warning", source: "t", info: "slow" });
    expect(w.status(id)).toBe("running");
    await w.transformations.statusReport(id, { severity: "fatal", source: "t", info: "out of memory" });
    await w.settle();
    expect(w.path(id)).toEqual(["lookup", "running", "fatal"]);
    expect(w.row(id).failureDescription).toBe("out of memory");
    expectEndedOnce(id, "fatal");
  });
});

describe("terminal statuses", () => {
  const ends: Record<
    Exclude<TransformStatusName, "submitted" | "pending_lookup" | "lookup" | "running">,
    () => Promise<string>
  > = {
    complete: async () => {
      const id = await running(1);
      await w.reportAll(id);
      return id;
    },
    fatal: async () => {
      const id = await running(1);
      await w.transformations.fail(id, "gave up");
      return id;
    },
    canceled: async () => {
      const id = await running(1);
      await w.transformations.cancel(id, w.anyone);
      return id;
    },
    bad_dataset: async () => {
      const id = await inLookup(1);
      await w.lookups.error(w.row(id).didId, { errorType: "bad_name", message: "no" });
      return id;
    },
  };

  it("covers every terminal status of src/domain/status.ts", () => {
    expect(Object.keys(ends).sort()).toEqual([...TERMINAL_STATUSES].sort());
  });

  it.each(Object.keys(ends) as Array<keyof typeof ends>)(
    "When a request is %s, then cancel is 400, fatal reports and late file reports change nothing, and it was shut down once",
    async (status) => {
      world();
      const id = await ends[status]();
      await w.settle();
      expect(w.status(id)).toBe(status);
      expect(await refusal(w.transformations.cancel(id, w.anyone))).toEqual({
        status: 400,
        code: "not_in_progress",
        message: `Transform request with id ${id} is not in progress.`,
      });
      expect(await w.transformations.fail(id, "late")).toBe(false);
      await w.transformations.statusReport(id, { severity: "fatal", source: "t", info: "late" });
      for (const f of w.fileIds(id)) await w.report(id, f, false);
      await w.settle();
      expect(w.status(id)).toBe(status);
      expectEndedOnce(id, status);
    },
  );

  it("When a request is deleted, then only a finished one goes, with its results", async () => {
    world();
    const active = await running(1);
    expect(await refusal(w.transformations.delete(active, w.anyone))).toMatchObject({
      status: 400,
      code: "in_progress",
    });
    await w.reportAll(active);
    await w.settle();
    await w.transformations.delete(active, w.anyone);
    expect(w.tables.request(active)).toBeUndefined();
    expect(w.tables.results).toEqual([]);
    expect(w.objectStore!.buckets.has(active)).toBe(false);
  });
});

describe("re-run of failed files (docs/decisions.md D35)", () => {
  it("When a Complete request with failed files is re-run, then it runs those files again and completes once more", async () => {
    world();
    const id = await running(3);
    const [a, b, c] = w.fileIds(id);
    await w.reportAll(id, [b!, c!]);
    await w.settle();
    expect(w.row(id)).toMatchObject({ status: "complete", filesCompleted: 1, filesFailed: 2 });
    const before = w.broker.fileIds(id).length;
    const out = await w.reruns.rerunFailed(id, w.anyone);
    await w.settle();
    expect(out).toMatchObject({ requestId: id, files: 2, rerun: 1 });
    expect(w.row(id)).toMatchObject({
      status: "running",
      filesCompleted: 1,
      filesFailed: 0,
      finishTime: null,
    });
    expect(w.broker.fileIds(id).slice(before)).toEqual([b, c]);
    expect(w.launcher.started.filter((s) => s.requestId === id)).toHaveLength(2);
    await w.report(id, b!, true);
    expect(w.status(id)).toBe("running");
    await w.report(id, c!, false);
    await w.settle();
    expect(w.path(id)).toEqual(["lookup", "running", "complete", "running", "complete"]);
    expect(w.row(id)).toMatchObject({ filesCompleted: 2, filesFailed: 1 });
    // Each of the two endings shut the request down once.
    expect(w.terminated.filter((t) => t.requestId === id).map((t) => t.status)).toEqual([
      "complete",
      "complete",
    ]);
    expect(w.launcher.shutdownCount(id)).toBe(2);
    expect(a).toBeDefined();
  });

  it.each([
    ["running", "rerun_request_active", async () => running(1)],
    [
      "fatal",
      "rerun_not_complete",
      async () => {
        const id = await running(1);
        await w.transformations.fail(id, "x");
        return id;
      },
    ],
    [
      "complete without failures",
      "rerun_no_failed_files",
      async () => {
        const id = await running(1);
        await w.reportAll(id);
        return id;
      },
    ],
  ] as const)(
    "When the request is %s, then the re-run is refused with %s and nothing changes",
    async (_what, code, make) => {
      world();
      const id = await make();
      await w.settle();
      const path = w.path(id);
      expect(await refusal(w.reruns.rerunFailed(id, w.anyone))).toMatchObject({ status: 409, code });
      expect(w.path(id)).toEqual(path);
    },
  );

  it("When the transformers cannot start for the re-run, then the request ends Fatal", async () => {
    world();
    const id = await running(1);
    await w.reportAll(id, w.fileIds(id));
    await w.settle();
    w.launcher.failStart = "no nodes";
    await w.reruns.rerunFailed(id, w.anyone);
    await w.settle();
    expect(w.path(id)).toEqual(["lookup", "running", "complete", "running", "fatal"]);
    expect(w.row(id).failureDescription).toBe("Could not start transformers: no nodes");
  });
});

describe("cancel racing complete", () => {
  /** A Running request with every file but the last reported. */
  async function lastFileLeft(): Promise<{ id: string; last: number }> {
    const id = await running(3);
    const ids = w.fileIds(id);
    for (const f of ids.slice(0, -1)) await w.report(id, f, true);
    return { id, last: ids.at(-1)! };
  }

  it("When the cancel commits first, then the request is Canceled, the last report still counts, and it ends once", async () => {
    world();
    const { id, last } = await lastFileLeft();
    await w.transformations.cancel(id, w.anyone);
    expect(await w.report(id, last, true)).toBe("ok");
    await w.settle();
    expect(w.row(id)).toMatchObject({ status: "canceled", filesCompleted: 3 });
    expectEndedOnce(id, "canceled");
  });

  it("When the last report commits between the cancel's read and its write, then the request is Complete and the cancel is 400", async () => {
    world();
    const { id, last } = await lastFileLeft();
    const release = w.db.hold();
    const report = w.report(id, last, true);
    await until(() => w.db.queued === 1);
    const cancel = refusal(w.transformations.cancel(id, w.anyone));
    await until(() => w.db.queued === 2);
    release();
    expect(await report).toBe("ok");
    expect(await cancel).toMatchObject({ status: 400, code: "not_in_progress" });
    await w.settle();
    expectEndedOnce(id, "complete");
  });

  it("When the cancel's write is queued before the last report, then the request is Canceled and the report is still recorded", async () => {
    world();
    const { id, last } = await lastFileLeft();
    const release = w.db.hold();
    const cancel = w.transformations.cancel(id, w.anyone);
    await until(() => w.db.queued === 1);
    const report = w.report(id, last, true);
    await until(() => w.db.queued === 2);
    release();
    await cancel;
    expect(await report).toBe("ok");
    await w.settle();
    expect(w.row(id)).toMatchObject({ status: "canceled", filesCompleted: 3 });
    expectEndedOnce(id, "canceled");
  });

  it("When many cancels and the last report race, then exactly one of them ends the request", async () => {
    world();
    for (let round = 0; round < 20; round++) {
      const { id, last } = await lastFileLeft();
      const settled = await Promise.allSettled([
        w.transformations.cancel(id, w.anyone),
        w.report(id, last, true),
        w.transformations.cancel(id, w.anyone),
      ]);
      await w.settle();
      const status = w.status(id);
      expect(["canceled", "complete"]).toContain(status);
      expectEndedOnce(id, status);
      const cancelsWon = [settled[0], settled[2]].filter((s) => s.status === "fulfilled").length;
      expect(cancelsWon).toBe(status === "canceled" ? 1 : 0);
      expect(settled[1]).toEqual({ status: "fulfilled", value: "ok" });
    }
  });
});
