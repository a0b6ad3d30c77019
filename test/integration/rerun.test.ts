// Re-running the failed files of a request (issue 13 item 7; docs/decisions.md D35), against the real
// Postgres and RabbitMQ with transformer sidecars speaking the real wire format: only the failed files get
// new tasks (the same messages as at submit), results and counters merge exactly into the same request and
// bucket, a poller never sees an inconsistent answer, the request ends Complete again; the 409 refusals;
// double clicks and two replicas start one re-run; who may re-run (API and the request page's form).
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryObjectStore } from "../../src/adapters/objectStore/memory.store.js";
import { newSession } from "../../src/http/middleware/session.js";
import { type Outcome, putJson, startSidecars } from "../helpers/fakeWorkers.js";
import { type Answer, httpCall } from "../helpers/http.js";
import { type TestApp, eventually, startTestApp } from "../helpers/testApp.js";

type Json = Record<string, unknown>;

const api = (app: TestApp, method: string, path: string, o: { token?: string; body?: unknown } = {}) =>
  httpCall(`${app.url}${path}`, method, o);
const rerun = (app: TestApp, id: string, token?: string) =>
  api(app, "POST", `/servicex/transformation/${id}/rerun-failed`, token ? { token } : {});
const status = async (app: TestApp, id: string, token?: string) =>
  (await api(app, "GET", `/servicex/transformation/${id}`, token ? { token } : {})).json as Json;
const codeOf = (a: Answer) => (a.json as Json | undefined)?.code;

/** Submits a file-list request of `n` files of its own dataset; its ids and its files' ids in id order. */
async function submit(app: TestApp, n: number, token?: string) {
  const tag = randomBytes(4).toString("hex");
  const r = await api(app, "POST", "/servicex/transformation", {
    ...(token ? { token } : {}),
    body: {
      title: `rerun ${tag}`,
      "file-list": Array.from({ length: n }, (_, i) => `root://eos//rerun/${tag}/f${i}.root`),
      selection: "(Select lambda e: e.Jets)",
      codegen: "passthrough",
      "result-destination": "object-store",
    },
  });
  expect(r.status, r.text).toBe(200);
  const requestId = (r.json as Json).request_id as string;
  const rec = (await app.deps.repos.requests.find(requestId))!;
  const files = await app.deps.repos.datasets.files(rec.didId);
  return { requestId, didId: rec.didId, fileIds: files.map((f) => f.id) };
}

/** One file-complete report as the sidecar sends it (fakeWorkers.fileCompleteBody's shape). */
const report = (app: TestApp, requestId: string, fileId: number, outcome: Outcome) =>
  putJson(`${app.url}/servicex/internal/transformation/${requestId}/file-complete`, {
    requestId,
    "file-path": `root://eos//f${fileId}.root`,
    "file-id": fileId,
    status: outcome,
    "total-time": 1.5,
    "total-events": outcome === "success" ? 100 : 0,
    "total-bytes": outcome === "success" ? 1000 + fileId : 0,
    "avg-rate": 66.6,
    place: { host_name: `transformer-${requestId}-pod-1`, site: "test" },
  });

const waitStatus = (app: TestApp, id: string, want: string, token?: string) =>
  eventually(
    async () => {
      const s = await status(app, id, token);
      return s.status === want ? s : undefined;
    },
    30_000,
    `request ${id} to be ${want}`,
  );

/** A request that finished Complete with the given outcome per file (reported over HTTP). */
async function finished(app: TestApp, outcomes: Outcome[], token?: string) {
  const s = await submit(app, outcomes.length, token);
  for (const [i, o] of outcomes.entries()) {
    expect((await report(app, s.requestId, s.fileIds[i]!, o)).status).toBe(200);
  }
  await waitStatus(app, s.requestId, "Complete", token);
  return s;
}

async function sql<T>(app: TestApp, text: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: app.db!.url });
  await c.connect();
  try {
    return (await c.query(text, params)).rows as T[];
  } finally {
    await c.end();
  }
}

/** Polls the client's status call until stopped, keeping every answer. */
function poller(app: TestApp, id: string) {
  const samples: Json[] = [];
  let stop = false;
  const done = (async () => {
    while (!stop) {
      samples.push(await status(app, id));
      await new Promise((r) => setTimeout(r, 10)); // a client's polling interval, shortened
    }
  })();
  return {
    samples,
    async stop() {
      stop = true;
      await done;
    },
  };
}

const dedup = (xs: string[]) => xs.filter((x, i) => i === 0 || xs[i - 1] !== x);

describe("When the failed files of a Complete request are re-run (auth off)", () => {
  let app: TestApp;
  const store = new MemoryObjectStore();

  beforeAll(async () => {
    app = await startTestApp({ objectStore: store, env: { PROGRESS_INTERVAL_MS: "200" } });
  });
  afterAll(async () => {
    await app?.close();
  });

  it("then only they get new tasks, as at submit; results, bucket and counters merge exactly; the client sees Complete → Running → Complete, never an inconsistent count; transformers start again", async () => {
    const s = await submit(app, 6);
    const id = s.requestId;
    const failing = s.fileIds.slice(3); // fail in the first run
    const stillFailing = failing[2]!; // fails again in the re-run
    // A sidecar uploads its output to the request's bucket before it reports (docs/decisions.md D28).
    const sidecar = (fails: (fileId: number) => boolean) =>
      startSidecars({
        requestId: id,
        decide: (t) => {
          if (fails(t.file_id)) return ["failure"];
          void store.putObject(id, `${t.paths[0]!.replaceAll("/", ":")}.parquet`, `out ${t.file_id}`);
          return ["success"];
        },
      });

    const first = await sidecar((f) => failing.includes(f));
    let firstRun: Json;
    try {
      firstRun = await waitStatus(app, id, "Complete");
    } finally {
      await first.stop();
    }
    expect(firstRun).toMatchObject({
      files: 6,
      "files-completed": 3,
      "files-failed": 3,
      "files-remaining": 0,
    });
    await app.deps.lifecycle.idle();
    expect(app.launcher.shutdownCount(id)).toBe(1);
    expect(store.keys(id)).toHaveLength(3);

    const poll = poller(app, id);
    const started = await rerun(app, id);
    expect(started.status, started.text).toBe(200);
    expect(started.json).toEqual({
      message: `Re-running 3 failed files of transformation request ${id}`,
      request_id: id,
      files: 3,
      rerun: 1,
    });
    // Running again before any report: the re-run files are the remaining ones, nothing is counted twice.
    expect(await status(app, id)).toMatchObject({
      status: "Running",
      files: 6,
      "files-completed": 3,
      "files-failed": 0,
      "files-remaining": 3,
      "finish-time": "None",
    });
    const launches = app.launcher.started.filter((l) => l.requestId === id);
    expect(launches).toHaveLength(2);
    expect(launches[1]).toMatchObject({ image: launches[0]!.image, workers: launches[0]!.workers, files: 3 });

    const second = await sidecar((f) => f === stillFailing);
    let secondRun: Json;
    try {
      secondRun = await waitStatus(app, id, "Complete");
      await poll.stop();
      // exactly the failed files, each once, with the message the first run got for it
      expect(second.messages.map((m) => m.kwargs.file_id).sort()).toEqual([...failing].sort());
      for (const m of second.messages) {
        const before = first.messages.find((x) => x.kwargs.file_id === m.kwargs.file_id)!;
        expect(m.kwargs).toEqual(before.kwargs);
        expect(m.args).toEqual(before.args);
        expect(m.headers.task).toBe(before.headers.task);
      }
    } finally {
      await second.stop();
      await poll.stop();
    }
    expect(secondRun).toMatchObject({
      files: 6,
      "files-completed": 5,
      "files-failed": 1,
      "files-remaining": 0,
    });
    expect(secondRun["finish-time"]).toMatch(/Z$/);

    // What a polling client saw, in order.
    let lastCompleted = 0;
    for (const x of poll.samples) {
      const c = x["files-completed"] as number;
      const f = x["files-failed"] as number;
      expect(c + f).toBeLessThanOrEqual(6);
      expect(x["files-remaining"]).toBe(6 - c - f);
      expect(c).toBeGreaterThanOrEqual(lastCompleted);
      lastCompleted = c;
      if (x.status === "Complete") expect(c + f).toBe(6);
    }
    expect(dedup(poll.samples.map((x) => x.status as string))).toEqual(["Complete", "Running", "Complete"]);

    // Results and output merged into the same request and bucket.
    const results = (await api(app, "GET", `/servicex/transformation/${id}/results`)).json as {
      results: Json[];
    };
    expect(results.results).toHaveLength(6);
    const byFile = new Map(results.results.map((r) => [r["file-id"], r.transform_status]));
    expect([...byFile.values()].filter((v) => v === "success")).toHaveLength(5);
    expect(byFile.get(stillFailing)).toBe("failure");
    expect(store.keys(id)).toHaveLength(5);
    const legacy = (await api(app, "GET", `/servicex/transformation/${id}/status`)).json as Json;
    const succeeded = s.fileIds.filter((f) => f !== stillFailing);
    expect((legacy.stats as Json)["total-bytes"]).toBe(succeeded.reduce((a, f) => a + 1000 + f, 0));
    expect((legacy.stats as Json)["total-events"]).toBe(500);
    const [row] = await sql<{ files_completed: number; files_failed: number; total_bytes: string }>(
      app,
      "SELECT files_completed, files_failed, total_bytes::text FROM requests WHERE request_id = $1",
      [id],
    );
    expect(row).toEqual({
      files_completed: 5,
      files_failed: 1,
      total_bytes: String(succeeded.reduce((a, f) => a + 1000 + f, 0)),
    });
    // Every failure report stays in the per-file event log (3 in the first run, 1 in the re-run).
    const errors = (await api(app, "GET", `/servicex/transformation/${id}/errors`)).json as {
      errors: Json[];
    };
    expect(errors.errors).toHaveLength(4);

    // The history shows the second run: Running again with the failures cleared, then Complete.
    const history = (await api(app, "GET", `/servicex/transformation/${id}/history`)).json as {
      history: Json[];
    };
    const changes = history.history.filter((p, i, all) => i === 0 || all[i - 1]!.status !== p.status);
    expect(changes.map((p) => p.status)).toEqual(["Running", "Complete", "Running", "Complete"]);
    expect(changes[2]).toMatchObject({ "files-completed": 3, "files-failed": 0 });
    expect(changes[3]).toMatchObject({ "files-completed": 5, "files-failed": 1 });

    // The second completion shut the transformers down again; the audit row names no user (auth off).
    await app.deps.lifecycle.idle();
    expect(app.launcher.shutdownCount(id)).toBe(2);
    const audit = await sql<{ user_id: number | null; files: number }>(
      app,
      "SELECT user_id, files FROM request_reruns WHERE request_id = $1",
      [id],
    );
    expect(audit).toEqual([{ user_id: null, files: 3 }]);

    // It can be re-run again for the file still failing: the second re-run is numbered 2.
    const again = await rerun(app, id);
    expect(again.status, again.text).toBe(200);
    expect(again.json).toMatchObject({ files: 1, rerun: 2 });
    expect((await report(app, id, stillFailing, "success")).status).toBe(200);
    expect(await waitStatus(app, id, "Complete")).toMatchObject({ "files-completed": 6, "files-failed": 0 });

    // The audit goes with the request when it is deleted.
    await app.deps.lifecycle.idle();
    expect((await api(app, "DELETE", `/servicex/transformation/${id}`)).status).toBe(200);
    expect(await sql(app, "SELECT 1 FROM request_reruns WHERE request_id = $1", [id])).toEqual([]);
  });

  it("When the request is still running, has no failed files, ended otherwise or its dataset went stale, then 409 with a reason and nothing changes", async () => {
    const running = await submit(app, 2);
    const active = await rerun(app, running.requestId);
    expect(active.status).toBe(409);
    expect(codeOf(active)).toBe("rerun_request_active");
    expect((active.json as Json).message).toBe(
      `Transform request ${running.requestId} is Running: its failed files can be re-run once it has finished.`,
    );

    const allGood = await finished(app, ["success", "success"]);
    const none = await rerun(app, allGood.requestId);
    expect(none.status).toBe(409);
    expect(codeOf(none)).toBe("rerun_no_failed_files");
    expect((none.json as Json).message).toBe(
      `Transform request ${allGood.requestId} has no failed files to re-run.`,
    );

    const canceled = await api(app, "GET", `/servicex/transformation/${running.requestId}/cancel`);
    expect(canceled.status).toBe(200);
    const afterCancel = await rerun(app, running.requestId);
    expect(afterCancel.status).toBe(409);
    expect(codeOf(afterCancel)).toBe("rerun_not_complete");
    expect((afterCancel.json as Json).message).toContain("ended Canceled");

    const stale = await finished(app, ["success", "failure"]);
    expect((await api(app, "DELETE", `/servicex/datasets/${stale.didId}`)).status).toBe(200);
    const refused = await rerun(app, stale.requestId);
    expect(refused.status).toBe(409);
    expect(codeOf(refused)).toBe("rerun_dataset_stale");
    expect((refused.json as Json).message).toContain("marked stale");
    expect(await status(app, stale.requestId)).toMatchObject({
      status: "Complete",
      "files-completed": 1,
      "files-failed": 1,
    });

    const unknown = await rerun(app, "00000000-0000-4000-8000-000000000000");
    expect(unknown.status).toBe(404);
    expect((unknown.json as Json).message).toBe(
      "Transformation request not found with id: 00000000-0000-4000-8000-000000000000",
    );
    expect((await rerun(app, "not%20an%20id")).status).toBe(404);
    // GET is not the re-run (the route is POST only)
    expect((await api(app, "GET", `/servicex/transformation/${stale.requestId}/rerun-failed`)).status).toBe(
      404,
    );

    const audit = await sql<{ n: number }>(
      app,
      "SELECT count(*)::int AS n FROM request_reruns WHERE request_id = ANY($1)",
      [[running.requestId, allGood.requestId, stale.requestId]],
    );
    expect(audit[0]!.n).toBe(0);
  });

  it("When the re-run is posted many times at once on two replicas, then one re-run starts, the others get 409, and each failed file gets one task", async () => {
    const replica = await startTestApp({ databaseUrl: app.db!.url, objectStore: store });
    try {
      const s = await finished(app, ["failure", "success", "failure"]);
      const calls = await Promise.all(
        [app, replica, app, replica, app, replica].map((a) => rerun(a, s.requestId)),
      );
      const ok = calls.filter((c) => c.status === 200);
      expect(ok).toHaveLength(1);
      expect(ok[0]!.json).toMatchObject({ files: 2, rerun: 1 });
      const refused = calls.filter((c) => c.status !== 200);
      expect(refused.map((c) => [c.status, codeOf(c)])).toEqual(
        Array.from({ length: 5 }, () => [409, "rerun_request_active"]),
      );
      const starts = [app, replica].flatMap((a) =>
        a.launcher.started.filter((l) => l.requestId === s.requestId),
      );
      expect(starts).toHaveLength(2); // the submit's and the one re-run's
      expect(await status(app, s.requestId)).toMatchObject({
        status: "Running",
        "files-completed": 1,
        "files-failed": 0,
        "files-remaining": 2,
      });

      const sidecars = await startSidecars({ requestId: s.requestId });
      try {
        expect(await waitStatus(app, s.requestId, "Complete")).toMatchObject({
          "files-completed": 3,
          "files-failed": 0,
        });
        expect(sidecars.messages.map((m) => m.kwargs.file_id).sort()).toEqual(
          [s.fileIds[0], s.fileIds[2]].sort(),
        );
      } finally {
        await sidecars.stop();
      }
      const audit = await sql<{ n: number }>(
        app,
        "SELECT count(*)::int AS n FROM request_reruns WHERE request_id = $1",
        [s.requestId],
      );
      expect(audit[0]!.n).toBe(1);
    } finally {
      await replica.close();
    }
  });
});

describe("When authentication is on (ENABLE_AUTH=true)", () => {
  let app: TestApp;
  const ids: Record<string, number> = {};
  const tokens: Record<string, string> = {};
  const cookies: Record<string, string> = {};
  const csrfs: Record<string, string> = {};
  const secret = `rerun-${randomBytes(8).toString("hex")}-0123456789abcdef0123456789`;

  const page = async (path: string, cookie?: string) => {
    const res = await fetch(`${app.url}${path}`, { redirect: "manual", headers: cookie ? { cookie } : {} });
    return { status: res.status, text: await res.text(), location: res.headers.get("location") };
  };
  const postForm = async (path: string, form: Record<string, string>, cookie: string) => {
    const res = await fetch(`${app.url}${path}`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie },
      body: new URLSearchParams(form).toString(),
    });
    const set = res.headers.get("set-cookie");
    return {
      status: res.status,
      text: await res.text(),
      location: res.headers.get("location"),
      cookie: set ? set.split(";")[0]! : cookie,
    };
  };

  beforeAll(async () => {
    app = await startTestApp({ env: { ENABLE_AUTH: "true", JWT_SECRET_KEY: secret, SECRET_KEY: secret } });
    for (const [name, admin] of [
      ["root", true],
      ["alice", false],
      ["bob", false],
    ] as const) {
      const u = await app.deps.users.repo.insert({
        sub: `${name}-sub`,
        email: `${name}@rerun.example`,
        name: `${name} tester`,
        institution: "Uni",
        experiment: "ATLAS",
        admin,
        pending: false,
        refreshToken: null,
      });
      ids[name] = u.id;
      const refresh = await app.deps.users.rotateApiToken(u.id);
      const t = await api(app, "POST", "/token/refresh", { token: refresh });
      tokens[name] = (t.json as Json).access_token as string;
      const session = {
        ...newSession(),
        isAuthenticated: true,
        sub: `${name}-sub`,
        email: `${name}@rerun.example`,
        userId: u.id,
        admin,
      };
      await app.deps.users.startSession(session.sid, {
        userId: u.id,
        iss: "https://issuer.rerun.example",
        sub: `${name}-sub`,
      });
      cookies[name] = `sx_session=${app.deps.sessions.encode(session)}`;
      csrfs[name] = session.csrf;
    }
  });
  afterAll(async () => {
    await app?.close();
  });

  it("When someone else re-runs a user's request, then 401 without a token, 403 for another user, 200 for the owner and for an admin; the audit names each", async () => {
    const s = await finished(app, ["success", "failure", "failure"], tokens.alice);
    const id = s.requestId;
    const anonymous = await rerun(app, id);
    expect(anonymous.status).toBe(401);
    const other = await rerun(app, id, tokens.bob);
    expect(other.status).toBe(403);
    expect((other.json as Json).message).toBe("You are not authorized to re-run this request");
    expect((await rerun(app, "00000000-0000-4000-8000-000000000001", tokens.bob)).status).toBe(404);
    // a browser session authenticates safe reads only (docs/api.md)
    const byCookie = await httpCall(`${app.url}/servicex/transformation/${id}/rerun-failed`, "POST", {
      cookie: cookies.alice,
    });
    expect(byCookie.status).toBe(401);
    expect((await status(app, id, tokens.alice)).status).toBe("Complete");

    const owner = await rerun(app, id, tokens.alice);
    expect(owner.status, owner.text).toBe(200);
    expect(owner.json).toMatchObject({ files: 2, rerun: 1 });
    for (const f of s.fileIds.slice(1)) expect((await report(app, id, f, "failure")).status).toBe(200);
    await waitStatus(app, id, "Complete", tokens.alice);
    const admin = await rerun(app, id, tokens.root);
    expect(admin.status, admin.text).toBe(200);
    expect(admin.json).toMatchObject({ files: 2, rerun: 2 });
    for (const f of s.fileIds.slice(1)) expect((await report(app, id, f, "success")).status).toBe(200);
    expect(await waitStatus(app, id, "Complete", tokens.alice)).toMatchObject({
      "files-completed": 3,
      "files-failed": 0,
    });
    const audit = await sql<{ user_id: number; user_email: string; files: number }>(
      app,
      "SELECT user_id, user_email, files FROM request_reruns WHERE request_id = $1 ORDER BY id",
      [id],
    );
    expect(audit).toEqual([
      { user_id: ids.alice, user_email: "alice@rerun.example", files: 2 },
      { user_id: ids.root, user_email: "root@rerun.example", files: 2 },
    ]);
  });

  it("When the owner uses the request page's button, then a confirmation page asks first, its CSRF-checked form re-runs, a double click is told it already runs, and the page shows who re-ran it", async () => {
    const s = await finished(app, ["failure", "success", "failure"], tokens.alice);
    const id = s.requestId;
    const base = `/transformation-request/${id}`;

    const mine = await page(base, cookies.alice);
    expect(mine.status).toBe(200);
    expect(mine.text).toContain(`id="rerun" href="${base}/rerun-failed"`);
    expect(mine.text).toContain("Re-run 2 failed files");
    expect((await page(base, cookies.root)).text).toContain('id="rerun"'); // an admin may too
    expect((await page(base, cookies.bob)).status).toBe(403);

    expect((await page(`${base}/rerun-failed`)).status).toBe(302); // to sign-in
    const refusedPage = await page(`${base}/rerun-failed`, cookies.bob);
    expect(refusedPage.status).toBe(403);
    expect(refusedPage.text).not.toContain(`action="${base}/rerun-failed"`);
    const confirm = await page(`${base}/rerun-failed`, cookies.alice);
    expect(confirm.status).toBe(200);
    expect(confirm.text).toContain("Re-run 2 failed files");
    expect(confirm.text).toContain(`action="${base}/rerun-failed"`);
    expect(confirm.text).toContain(`href="${base}/results?status=failure"`);
    expect(confirm.text).toContain(`name="_csrf" value="${csrfs.alice}"`);
    expect((await status(app, id, tokens.alice)).status).toBe("Complete"); // asking changed nothing

    const noToken = await postForm(`${base}/rerun-failed`, {}, cookies.alice!);
    expect(noToken.status).toBe(403);
    const bobs = await postForm(`${base}/rerun-failed`, { _csrf: csrfs.bob! }, cookies.bob!);
    expect(bobs.status).toBe(403);
    expect((await status(app, id, tokens.alice)).status).toBe("Complete");

    const [click, doubleClick] = await Promise.all([
      postForm(`${base}/rerun-failed`, { _csrf: csrfs.alice! }, cookies.alice!),
      postForm(`${base}/rerun-failed`, { _csrf: csrfs.alice! }, cookies.alice!),
    ]);
    for (const c of [click, doubleClick]) {
      expect(c.status).toBe(303);
      expect(c.location).toBe(base);
    }
    const shown = await Promise.all([click, doubleClick].map((c) => page(base, c.cookie)));
    const texts = shown.map((p) => p.text);
    expect(
      texts.filter((t) => t.includes("Re-running 2 failed files: the request is running again.")),
    ).toHaveLength(1);
    expect(texts.filter((t) => t.includes(`Transform request ${id} is Running`))).toHaveLength(1);
    expect(await status(app, id, tokens.alice)).toMatchObject({ status: "Running", "files-remaining": 2 });
    expect(texts[0]).not.toContain('id="rerun"'); // running: no button
    expect(texts[0]).toMatch(
      /id="rerun-audit">Failed files re-run once; last on <time[^>]*>[^<]+<\/time>\s+by alice@rerun\.example \(2 files\)/,
    );

    for (const f of [s.fileIds[0]!, s.fileIds[2]!])
      expect((await report(app, id, f, "success")).status).toBe(200);
    await waitStatus(app, id, "Complete", tokens.alice);
    const after = await page(base, cookies.alice);
    expect(after.text).not.toContain('id="rerun"'); // nothing failed any more
    expect(after.text).toContain('id="rerun-audit"');
    // the plot marks both runs
    expect(after.text.match(/Running at \+/g)).toHaveLength(2);
    const noFailures = await page(`${base}/rerun-failed`, cookies.alice);
    expect(noFailures.status).toBe(409);
    expect(noFailures.text).toContain("has no failed files to re-run");
    expect(noFailures.text).not.toContain(`action="${base}/rerun-failed"`);
    expect(noFailures.text).toContain("alice@rerun.example"); // the earlier re-runs are listed
  });
});
