// Request, dataset and admin pages and the progress history (issue 5), over HTTP against the real App on
// Postgres: every page renders, pagination and sort parameters, 404 pages, cancel/delete and admin actions
// as CSRF-checked form POSTs, who may see what with ENABLE_AUTH=true, and the history's rate bound.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newSession } from "../../src/http/middleware/session.js";
import { type TestApp, eventually, startTestApp } from "../helpers/testApp.js";

interface Page {
  status: number;
  text: string;
  location: string | null;
  cookie: string | null;
}

async function get(app: TestApp, path: string, cookie?: string): Promise<Page> {
  const res = await fetch(`${app.url}${path}`, {
    redirect: "manual",
    headers: cookie ? { cookie } : {},
  });
  const set = res.headers.get("set-cookie");
  return {
    status: res.status,
    text: await res.text(),
    location: res.headers.get("location"),
    cookie: set ? set.split(";")[0]! : null,
  };
}

async function postForm(
  app: TestApp,
  path: string,
  form: Record<string, string>,
  cookie?: string,
): Promise<Page> {
  const res = await fetch(`${app.url}${path}`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", ...(cookie ? { cookie } : {}) },
    body: new URLSearchParams(form).toString(),
  });
  const set = res.headers.get("set-cookie");
  return {
    status: res.status,
    text: await res.text(),
    location: res.headers.get("location"),
    cookie: set ? set.split(";")[0]! : null,
  };
}

const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1];

async function api(app: TestApp, method: string, path: string, body?: unknown, token?: string) {
  const res = await fetch(`${app.url}${path}`, {
    method,
    headers: {
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, json: json as Record<string, unknown>, text };
}

/** Submits a file-list request through the API; returns its ids and the files' ids. */
async function submit(app: TestApp, n: number, title?: string, token?: string) {
  const tag = randomBytes(4).toString("hex");
  const r = await api(
    app,
    "POST",
    "/servicex/transformation",
    {
      title,
      "file-list": Array.from({ length: n }, (_, i) => `root://eos//pages/${tag}/f${i}.root`),
      selection: "(Select lambda e: e.Jets)",
      codegen: "passthrough",
      "result-destination": "object-store",
    },
    token,
  );
  expect(r.status, r.text).toBe(200);
  const requestId = r.json.request_id as string;
  const rec = (await app.deps.repos.requests.find(requestId))!;
  const files = await app.deps.repos.datasets.files(rec.didId);
  return { requestId, id: rec.id, didId: rec.didId, fileIds: files.map((f) => f.id) };
}

function report(requestId: string, fileId: number, ok = true) {
  return {
    requestId,
    "file-path": `root://eos//f${fileId}.root`,
    "file-id": fileId,
    status: ok ? "success" : "failure",
    "total-time": 1.5,
    "total-events": 100,
    "total-bytes": 2048,
    "avg-rate": 66.6,
    place: { host_name: `transformer-${requestId.slice(0, 8)}-pod-${fileId % 3}`, site: "test" },
    ...(ok ? { "s3-object-name": `f${fileId}.parquet` } : { error: `Traceback: file ${fileId} is broken` }),
  };
}

const fileComplete = (app: TestApp, requestId: string, fileId: number, ok = true) =>
  api(
    app,
    "PUT",
    `/servicex/internal/transformation/${requestId}/file-complete`,
    report(requestId, fileId, ok),
  );

async function progressRows(app: TestApp, requestId: string) {
  const c = new pg.Client({ connectionString: app.db!.url });
  await c.connect();
  try {
    const r = await c.query<{ status: string; t: Date; files_completed: number }>(
      "SELECT status, recorded_at AS t, files_completed FROM request_progress WHERE request_id = $1 ORDER BY id",
      [requestId],
    );
    return r.rows;
  } finally {
    await c.end();
  }
}

describe("When authentication is disabled (ENABLE_AUTH=false)", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ broker: "memory", env: { PROGRESS_INTERVAL_MS: "400" } });
  });
  afterAll(async () => {
    await app?.close();
  });

  it("When each page is requested, then it renders (200, the one layout and stylesheet)", async () => {
    const s = await submit(app, 3, "render me");
    await fileComplete(app, s.requestId, s.fileIds[0]!);
    await fileComplete(app, s.requestId, s.fileIds[1]!, false);
    for (const path of [
      "/dashboard",
      "/global-dashboard",
      `/transformation-request/${s.requestId}`,
      `/transformation-request/${s.id}`,
      `/transformation-request/${s.requestId}/results`,
      `/transformation-request/${s.requestId}/results?status=failure&page=1`,
      "/datasets",
      "/datasets?sort=size&order=asc&show_deleted=yes",
      `/datasets/${s.didId}`,
      "/admin/users",
    ]) {
      const p = await get(app, path);
      expect(p.status, path).toBe(200);
      expect(p.text, path).toContain('<link rel="stylesheet" href="/static/style.css">');
      expect(p.text, path).not.toMatch(/https?:\/\/cdn/i);
    }
    const page = await get(app, `/transformation-request/${s.requestId}`);
    expect(page.text).toContain("render me");
    expect(page.text).toContain('role="progressbar"');
    expect(page.text).toContain('aria-valuenow="2"');
    expect(page.text).toContain("<svg");
    expect(page.text).toMatch(/transformer-[0-9a-f]{8}-pod-\d/); // the failure's pod
    expect(page.text).toContain(`Traceback: file ${s.fileIds[1]} is broken`);
    expect(page.text).toContain(`href="/datasets/${s.didId}"`);
    expect(page.text).toMatch(/<time datetime="\d{4}-\d\d-\d\dT/);
    expect(page.text).toContain('id="cancel"');
    const svg = await get(app, `/transformation-request/${s.requestId}/history.svg`);
    expect(svg.status).toBe(200);
    expect(svg.text).toMatch(/^<svg[^>]*role="img"/);
  });

  it("When ids are unknown or malformed, then the pages answer 404", async () => {
    for (const path of [
      "/transformation-request/00000000-0000-4000-8000-000000000000",
      "/transformation-request/999999999",
      "/transformation-request/not-an-id",
      "/transformation-request/00000000-0000-4000-8000-000000000000/results",
      "/datasets/999999999",
      "/datasets/abc",
    ]) {
      const p = await get(app, path);
      expect(p.status, path).toBe(404);
      expect(p.text, path).toContain("not found");
    }
    const h = await api(app, "GET", "/servicex/transformation/00000000-0000-4000-8000-000000000000/history");
    expect(h.status).toBe(404);
  });

  it("When the dashboard is paged and sorted, then 15 rows per page in the requested order", async () => {
    const titles: string[] = [];
    const tag = randomBytes(3).toString("hex");
    for (let i = 0; i < 17; i++) {
      titles.push(`${tag}-${String(i).padStart(2, "0")}`);
      await submit(app, 1, titles[i]);
    }
    const rows = (html: string) =>
      [...html.matchAll(/<tr>\s*<td data-label="Title"><a [^>]*>([^<]*)</g)].map((m) => m[1]);
    const desc = rows((await get(app, "/global-dashboard?sort=start&order=desc")).text);
    expect(desc).toHaveLength(15);
    expect(desc.slice(0, 17)).toEqual(titles.slice().reverse().slice(0, 15));
    const asc = await get(app, "/global-dashboard?sort=start&order=asc&page=1");
    expect(rows(asc.text)[0]).not.toBe(titles[16]);
    const total = await app.deps.repos.requests.count({});
    const lastPage = Math.ceil(total / 15);
    const last = await get(app, `/global-dashboard?sort=start&order=asc&page=${lastPage}`);
    expect(rows(last.text).at(-1)).toBe(titles[16]);
    expect(last.text).toContain(`Page ${lastPage} of ${lastPage}`);
    // nonsense parameters fall back to the defaults (finish, desc, page 1)
    const bad = await get(app, "/global-dashboard?sort=evil;drop&order=sideways&page=-3");
    expect(bad.status).toBe(200);
    expect(bad.text).toContain('aria-sort="descending"');
    expect(rows(bad.text)).toHaveLength(15);
    const byStatus = await get(app, "/global-dashboard?sort=status&order=asc");
    expect(byStatus.status).toBe(200);
  });

  it("When cancel and delete are posted without the CSRF token, then 403; with it, then they happen", async () => {
    const s = await submit(app, 2, "to cancel");
    const noToken = await postForm(app, `/transformation-request/${s.requestId}/cancel`, {});
    expect(noToken.status).toBe(403);
    // The request page's Cancel link opens a confirmation page whose form carries the token.
    const page = await get(app, `/transformation-request/${s.requestId}/cancel`);
    expect(page.cookie).toBeTruthy();
    const csrf = csrfOf(page.text)!;
    const wrong = await postForm(
      app,
      `/transformation-request/${s.requestId}/cancel`,
      { _csrf: "x".repeat(csrf.length) },
      page.cookie!,
    );
    expect(wrong.status).toBe(403);
    expect((await app.deps.repos.requests.find(s.requestId))!.status).toBe("running");
    const ok = await postForm(
      app,
      `/transformation-request/${s.requestId}/cancel`,
      { _csrf: csrf },
      page.cookie!,
    );
    expect(ok.status).toBe(303);
    expect(ok.location).toBe(`/transformation-request/${s.requestId}`);
    expect((await app.deps.repos.requests.find(s.requestId))!.status).toBe("canceled");
    const after = await get(app, ok.location!, ok.cookie ?? page.cookie!);
    expect(after.text).toContain("The request has been canceled.");
    expect(after.text).toContain('id="delete"');
    // history: the cancel is a recorded state
    expect((await progressRows(app, s.requestId)).map((r) => r.status)).toEqual(["running", "canceled"]);

    const delNoToken = await postForm(app, `/transformation-request/${s.requestId}/delete`, {}, page.cookie!);
    expect(delNoToken.status).toBe(403);
    const del = await postForm(
      app,
      `/transformation-request/${s.requestId}/delete`,
      { _csrf: csrf },
      page.cookie!,
    );
    expect(del.status).toBe(303);
    expect(del.location).toBe("/dashboard");
    expect(await app.deps.repos.requests.find(s.requestId)).toBeNull();
    expect(await progressRows(app, s.requestId)).toEqual([]); // deleted with the request
    expect((await get(app, `/transformation-request/${s.requestId}`)).status).toBe(404);
  });

  it("When a running request is deleted from its page, then it is refused with a message", async () => {
    const s = await submit(app, 1, "still running");
    const page = await get(app, `/transformation-request/${s.requestId}/cancel`);
    const r = await postForm(
      app,
      `/transformation-request/${s.requestId}/delete`,
      { _csrf: csrfOf(page.text)! },
      page.cookie!,
    );
    expect(r.status).toBe(303);
    const back = await get(app, r.location!, r.cookie ?? page.cookie!);
    expect(back.text).toContain("is still in progress");
    expect(await app.deps.repos.requests.find(s.requestId)).not.toBeNull();
  });

  it("When file-complete reports arrive in a burst, then the history grows by at most one row per interval and records the terminal state", async () => {
    const N = 60;
    const s = await submit(app, N, "burst");
    const t0 = Date.now();
    // ~2 s of reports, a few at a time
    for (let i = 0; i < N - 1; i++) {
      await Promise.all([fileComplete(app, s.requestId, s.fileIds[i]!, i % 10 !== 3)]);
      await new Promise((r) => setTimeout(r, 30));
    }
    const midway = await api(app, "GET", `/servicex/transformation/${s.requestId}/history`);
    expect(midway.status).toBe(200);
    const rows = await progressRows(app, s.requestId);
    // Measured once the rows are read: every row counted was written by then (on a loaded machine a
    // snapshot can fall between the reports' end and the read).
    const elapsed = Date.now() - t0;
    const running = rows.filter((r) => r.status === "running");
    expect(running.length).toBeGreaterThanOrEqual(2); // the status change + at least one snapshot
    expect(running.length).toBeLessThanOrEqual(1 + Math.ceil(elapsed / 400) + 1);
    for (let i = 2; i < running.length; i++) {
      // snapshots (after the status-change row) are at least ~one interval apart
      expect(running[i]!.t.getTime() - running[i - 1]!.t.getTime()).toBeGreaterThanOrEqual(300);
    }
    await fileComplete(app, s.requestId, s.fileIds[N - 1]!);
    await eventually(async () => (await app.deps.repos.requests.find(s.requestId))!.status === "complete");
    const h = await api(app, "GET", `/servicex/transformation/${s.requestId}/history`);
    const history = h.json.history as Array<Record<string, unknown>>;
    expect(Object.keys(history[0]!).sort()).toEqual(
      ["bytes", "events", "files-completed", "files-failed", "status", "time"].sort(),
    );
    expect(history[0]!.status).toBe("Running");
    const last = history.at(-1)!;
    expect(last).toMatchObject({ status: "Complete", "files-completed": 54, "files-failed": 6 });
    expect(last.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(h.json.current).toMatchObject({ status: "Complete", terminal: true, "files-remaining": 0 });
    // no more snapshots once complete
    await new Promise((r) => setTimeout(r, 900));
    expect((await progressRows(app, s.requestId)).length).toBe(history.length);
  });

  it("When the OpenAPI document is read, then it describes the history route", async () => {
    const doc = await api(app, "GET", "/openapi.json");
    expect(Object.keys((doc.json.paths as object) ?? {})).toContain(
      "/servicex/transformation/{request_id}/history",
    );
  });
});

describe("When authentication is enabled (ENABLE_AUTH=true)", () => {
  let app: TestApp;
  const cookies: Record<string, string> = {};
  const ids: Record<string, number> = {};
  const tokens: Record<string, string> = {};
  const secret = `pages-${randomBytes(8).toString("hex")}-0123456789abcdef0123456789`;

  const sessionFor = (name: string, admin: boolean) => {
    const s = {
      ...newSession(),
      isAuthenticated: true,
      sub: `${name}-sub`,
      email: `${name}@pages.example`,
      userId: ids[name]!,
      admin,
    };
    return { cookie: `sx_session=${app.deps.sessions.encode(s)}`, csrf: s.csrf, sid: s.sid };
  };
  const csrfs: Record<string, string> = {};

  beforeAll(async () => {
    app = await startTestApp({
      broker: "memory",
      env: { ENABLE_AUTH: "true", JWT_SECRET_KEY: secret, SECRET_KEY: secret, PROGRESS_INTERVAL_MS: "400" },
    });
    for (const [name, admin, pending] of [
      ["root", true, false],
      ["alice", false, false],
      ["bob", false, false],
      ["pat", false, true],
    ] as const) {
      const u = await app.deps.users.repo.insert({
        sub: `${name}-sub`,
        email: `${name}@pages.example`,
        name: `${name[0]!.toUpperCase()}${name.slice(1)} Tester`,
        institution: "Uni",
        experiment: "ATLAS",
        admin,
        pending,
        refreshToken: null,
      });
      ids[name] = u.id;
      const s = sessionFor(name, admin);
      // A signed-in cookie counts only with its server-side session record (made at sign-in).
      await app.deps.users.startSession(s.sid, {
        userId: u.id,
        iss: "https://issuer.pages.example",
        sub: `${name}-sub`,
      });
      cookies[name] = s.cookie;
      csrfs[name] = s.csrf;
      if (!pending) {
        const refresh = await app.deps.users.rotateApiToken(u.id);
        const r = await api(app, "POST", "/token/refresh", undefined, refresh);
        tokens[name] = r.json.access_token as string;
      }
    }
  });
  afterAll(async () => {
    await app?.close();
  });

  it("When nobody is signed in, then pages redirect to sign-in", async () => {
    for (const path of ["/dashboard", "/global-dashboard", "/admin/users", "/datasets"]) {
      const p = await get(app, path);
      expect(p.status, path).toBe(302);
      expect(p.location, path).toBe(`/sign-in?next=${encodeURIComponent(path)}`);
    }
  });

  it("When a non-admin opens admin pages or posts admin actions, then 403", async () => {
    for (const path of ["/global-dashboard", "/admin/users"]) {
      const p = await get(app, path, cookies.alice);
      expect(p.status, path).toBe(403);
      expect(p.text).toContain("restricted to administrators");
    }
    const r = await postForm(app, `/admin/users/${ids.pat}/approve`, { _csrf: csrfs.alice! }, cookies.alice);
    expect(r.status).toBe(403);
    expect((await app.deps.users.repo.byId(ids.pat!))!.pending).toBe(true);
    expect((await get(app, "/global-dashboard", cookies.root)).status).toBe(200);
  });

  it("When users see requests, then each sees their own; another user's page is refused", async () => {
    const mine = await submit(app, 2, "alice's request", tokens.alice);
    const theirs = await submit(app, 1, "bob's request", tokens.bob);
    const dash = await get(app, "/dashboard", cookies.alice);
    expect(dash.text).toContain("alice&#39;s request");
    expect(dash.text).not.toContain("bob&#39;s request");
    expect((await get(app, `/transformation-request/${mine.requestId}`, cookies.alice)).status).toBe(200);
    expect((await get(app, `/transformation-request/${theirs.requestId}`, cookies.alice)).status).toBe(403);
    expect(
      (await get(app, `/transformation-request/${theirs.requestId}/results`, cookies.alice)).status,
    ).toBe(403);
    const h = await fetch(`${app.url}/servicex/transformation/${theirs.requestId}/history`, {
      headers: { cookie: cookies.alice! },
    });
    expect(h.status).toBe(403);
    const own = await fetch(`${app.url}/servicex/transformation/${mine.requestId}/history`, {
      headers: { cookie: cookies.alice! },
    });
    expect(own.status).toBe(200);
    // the admin sees both, with the submitter's name on the global dashboard
    const global = await get(app, "/global-dashboard", cookies.root);
    expect(global.text).toContain("Alice Tester");
    expect(global.text).toContain("bob&#39;s request");
    // bob cannot cancel alice's request, even with his own valid CSRF token
    const refused = await postForm(
      app,
      `/transformation-request/${mine.requestId}/cancel`,
      { _csrf: csrfs.bob! },
      cookies.bob,
    );
    expect(refused.status).toBe(403);
    expect((await app.deps.repos.requests.find(mine.requestId))!.status).toBe("running");
    // the owner can; the admin can delete it afterwards
    const ok = await postForm(
      app,
      `/transformation-request/${mine.requestId}/cancel`,
      { _csrf: csrfs.alice! },
      cookies.alice,
    );
    expect(ok.status).toBe(303);
    const del = await postForm(
      app,
      `/transformation-request/${mine.requestId}/delete`,
      { _csrf: csrfs.root! },
      cookies.root,
    );
    expect(del.status).toBe(303);
    expect(await app.deps.repos.requests.find(mine.requestId)).toBeNull();
  });

  it("When a non-admin opens a dataset page, then Recent requests lists only their own requests; an admin sees all", async () => {
    const did = `rucio://mc23:pages.shared.${randomBytes(4).toString("hex")}`;
    const submitDid = async (token: string | undefined, title: string) => {
      const r = await api(
        app,
        "POST",
        "/servicex/transformation",
        {
          title,
          did,
          selection: "(Select lambda e: e.Jets)",
          codegen: "passthrough",
          "result-destination": "object-store",
        },
        token,
      );
      expect(r.status, r.text).toBe(200);
      return (await app.deps.repos.requests.find(r.json.request_id as string))!;
    };
    const a = await submitDid(tokens.alice, "alice on the shared dataset");
    const b = await submitDid(tokens.bob, "bob on the shared dataset");
    expect(b.didId).toBe(a.didId);
    const seen = async (who: string) => {
      const p = await get(app, `/datasets/${a.didId}`, cookies[who]);
      expect(p.status, who).toBe(200);
      return {
        alice: p.text.includes("alice on the shared dataset") || p.text.includes(a.requestId),
        bob: p.text.includes("bob on the shared dataset") || p.text.includes(b.requestId),
      };
    };
    expect(await seen("alice")).toEqual({ alice: true, bob: false });
    expect(await seen("bob")).toEqual({ alice: false, bob: true });
    expect(await seen("root")).toEqual({ alice: true, bob: true });
  });

  it("When an admin uses the users page, then pending users come first and actions go through UserService", async () => {
    const page = await get(app, "/admin/users", cookies.root);
    expect(page.status).toBe(200);
    const order = [...page.text.matchAll(/<tr id="user-(\d+)"/g)].map((m) => Number(m[1]));
    expect(order[0]).toBe(ids.pat);
    const noCsrf = await postForm(app, `/admin/users/${ids.pat}/approve`, {}, cookies.root);
    expect(noCsrf.status).toBe(403);
    const ok = await postForm(app, `/admin/users/${ids.pat}/approve`, { _csrf: csrfs.root! }, cookies.root);
    expect(ok.status).toBe(303);
    expect((await app.deps.users.repo.byId(ids.pat!))!.pending).toBe(false);
    await postForm(app, `/admin/users/${ids.bob}/make-admin`, { _csrf: csrfs.root! }, cookies.root);
    expect((await app.deps.users.repo.byId(ids.bob!))!.admin).toBe(true);
    await postForm(app, `/admin/users/${ids.bob}/revoke-admin`, { _csrf: csrfs.root! }, cookies.root);
    expect((await app.deps.users.repo.byId(ids.bob!))!.admin).toBe(false);
    // an administrator cannot delete or demote themselves from the page
    await postForm(app, `/admin/users/${ids.root}/revoke-admin`, { _csrf: csrfs.root! }, cookies.root);
    expect((await app.deps.users.repo.byId(ids.root!))!.admin).toBe(true);
    const del = await postForm(app, `/admin/users/${ids.pat}/delete`, { _csrf: csrfs.root! }, cookies.root);
    expect(del.status).toBe(303);
    expect(await app.deps.users.repo.byId(ids.pat!)).toBeNull();
    expect(
      (await postForm(app, "/admin/users/99999999/approve", { _csrf: csrfs.root! }, cookies.root)).status,
    ).toBe(404);
  });

  it("When an admin deletes a dataset from its page, then it becomes stale; a non-admin is refused", async () => {
    const s = await submit(app, 1, "ds", tokens.alice);
    const refused = await postForm(
      app,
      `/datasets/${s.didId}/delete`,
      { _csrf: csrfs.alice! },
      cookies.alice,
    );
    expect(refused.status).toBe(403);
    const alicePage = await get(app, `/datasets/${s.didId}`, cookies.alice);
    expect(alicePage.status).toBe(200);
    expect(alicePage.text).not.toContain('id="delete-dataset"');
    const ok = await postForm(app, `/datasets/${s.didId}/delete`, { _csrf: csrfs.root! }, cookies.root);
    expect(ok.status).toBe(303);
    expect((await app.deps.repos.datasets.get(s.didId))!.stale).toBe(true);
    const list = await get(app, "/datasets", cookies.alice);
    expect(list.text).not.toContain(`href="/datasets/${s.didId}"`);
    const all = await get(app, "/datasets?show_deleted=on", cookies.alice);
    expect(all.text).toContain(`href="/datasets/${s.didId}"`);
  });
});
