// The request and results pages as the place a physicist checks and fetches their work (issue 13, items 1,
// 2, 4 and 6), over HTTP against the real App on Postgres: where the output is (local results: the
// directory and the App's read-only S3 endpoint; an object store: endpoint and bucket), totals in human
// units, a download link per file that really downloads, per-file time with its fraction and rate, each
// failed file's error, the client snippet, decoded Python selections, errors grouped by message, the
// confirmation pages of Cancel and Delete (GET asks, POST does it), and bad query values answered with a
// message instead of an error.
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryObjectStore } from "../../src/adapters/objectStore/memory.store.js";
import { PagesRepo } from "../../src/adapters/repositories/pages.repo.js";
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
    headers: { accept: "text/html", ...(cookie ? { cookie } : {}) },
  });
  const set = res.headers.get("set-cookie");
  return {
    status: res.status,
    text: await res.text(),
    location: res.headers.get("location"),
    cookie: set ? set.split(";")[0]! : null,
  };
}

async function postForm(app: TestApp, path: string, form: Record<string, string>, cookie?: string) {
  const res = await fetch(`${app.url}${path}`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", ...(cookie ? { cookie } : {}) },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, location: res.headers.get("location"), text: await res.text() };
}

/** GET with the path exactly as given (no URL normalisation), as a browser asking for HTML. */
function rawGet(app: TestApp, path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: "127.0.0.1", port: app.port, path, headers: { accept: "text/html" } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          text += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
/** The text of an HTML fragment without tags and with entities decoded, whitespace collapsed. */
const textOf = (html: string) =>
  html
    .replace(/<[^>]+>/g, " ")
    .replace(/&#39;/g, "'")
    .replace(/&#34;/g, '"')
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&")
    .replace(/\s+/g, " ");

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

async function submit(
  app: TestApp,
  n: number,
  o: { title?: string; selection?: string; token?: string; destination?: string } = {},
) {
  const tag = randomBytes(4).toString("hex");
  const r = await api(
    app,
    "POST",
    "/servicex/transformation",
    {
      title: o.title,
      "file-list": Array.from({ length: n }, (_, i) => `root://eos.example//atlas/${tag}/DAOD.${i}.root`),
      selection: o.selection ?? "(call Select (call EventDataset) (lambda (list e) (attr e 'Jets')))",
      codegen: "passthrough",
      "result-destination": o.destination ?? "object-store",
      "result-format": "root-file",
    },
    o.token,
  );
  expect(r.status, r.text).toBe(200);
  const requestId = r.json.request_id as string;
  const rec = (await app.deps.repos.requests.find(requestId))!;
  const files = await app.deps.repos.datasets.files(rec.didId);
  return { requestId, id: rec.id, didId: rec.didId, files };
}

interface Report {
  ok?: boolean;
  seconds?: number;
  bytes?: number;
  events?: number;
  error?: string;
  pod?: string;
  object?: string;
}

function fileComplete(app: TestApp, requestId: string, file: { id: number; paths: string }, o: Report = {}) {
  const ok = o.ok ?? true;
  const path = file.paths.split(",")[0]!;
  return api(app, "PUT", `/servicex/internal/transformation/${requestId}/file-complete`, {
    requestId,
    "file-path": path,
    "file-id": file.id,
    status: ok ? "success" : "failure",
    "total-time": o.seconds ?? 0.25,
    "total-events": o.events ?? 0,
    "total-bytes": o.bytes ?? 0,
    "avg-rate": 0,
    place: { host_name: o.pod ?? "transformer-pod-0", site: "test" },
    ...(ok
      ? { "s3-object-name": o.object ?? path.replace(/^root:\/\//, "").replace(/\//g, ":") }
      : { error: o.error ?? "OSError: could not read" }),
  });
}

describe("When results are local files (the embedded default: local transformers, no object store)", () => {
  let app: TestApp;
  let results: string;

  beforeAll(async () => {
    results = mkdtempSync(join(tmpdir(), "sx-request-page-"));
    app = await startTestApp({
      broker: "memory",
      env: { RESULTS_DIR: results, PROGRESS_INTERVAL_MS: "300" },
    });
  });
  afterAll(async () => {
    await app?.close();
    rmSync(results, { recursive: true, force: true });
  });

  it("When a request finished, then its page says where the output is, its totals in human units, and how to fetch it", async () => {
    const s = await submit(app, 3, { title: "Jet pT <ttbar> & co" });
    await fileComplete(app, s.requestId, s.files[0]!, { seconds: 0.25, bytes: 1_536_000, events: 1200 });
    await fileComplete(app, s.requestId, s.files[1]!, { seconds: 2.5, bytes: 4_000_000, events: 3000 });
    await fileComplete(app, s.requestId, s.files[2]!, { ok: false, error: "OSError: XRootD <timeout>" });
    await eventually(async () => (await app.deps.repos.requests.find(s.requestId))!.status === "complete");
    const p = await get(app, `/transformation-request/${s.requestId}`);
    expect(p.status).toBe(200);
    const text = textOf(p.text);
    // Escaped title; where the output is: the directory and the read-only S3 endpoint with its bucket.
    expect(p.text).toContain("Jet pT &lt;ttbar&gt; &amp; co");
    expect(text).toContain(`Directory ${join(results, s.requestId)}`);
    expect(text).toContain(`S3 endpoint ${app.url}/s3 (read-only)`);
    expect(text).toContain(`Bucket ${s.requestId}`);
    expect(text).toContain("Size 5.54 MB");
    expect(text).toContain("Events 4,200");
    expect(text).toContain("Files 2 files, root-file");
    expect(text).toMatch(/Dataset lookup none needed \(the files were known\)/);
    expect(text).toMatch(/Average rate [\d.]+ files\/s · [\d.]+ [kMG]?B\/s/);
    // The client snippet: visible without JavaScript, with this request's id and this server's URL.
    const snippet = /<pre class="snippet" id="snippet"[^>]*>([\s\S]*?)<\/pre>/.exec(p.text)![1]!;
    expect(textOf(snippet)).toContain(`sx = ServiceXClient(url="${app.url}")`);
    expect(textOf(snippet)).toContain(`status = sx.get_transform_status("${s.requestId}")`);
    expect(textOf(snippet)).toContain("MinioAdapter.for_transform(status)");
    // The finished request's primary button is Results; Delete is a link to its confirmation page.
    expect(p.text).toMatch(/<a class="button " id="results-button" href="[^"]+\/results">Results<\/a>/);
    expect(p.text).toMatch(
      /<a class="button quiet-danger" id="delete" href="\/transformation-request\/[^"]+\/delete" data-confirm>/,
    );
    expect(p.text).not.toContain('id="cancel"');
    // "1 failed" links to the failed files.
    expect(p.text).toContain(`href="/transformation-request/${s.requestId}/results?status=failure"`);
    expect(text).toContain("1 failed file");
    // The zone is named (UTC without JavaScript); the plot counts from the submission.
    expect(text).toContain("Times are in UTC.");
    expect(text).toMatch(/\d+ points: one per status change/);
    expect(text).not.toMatch(/\b1 points\b/);
  });

  it("When the results page is opened, then each file shows its path, time with its fraction, rate, size, and a download link that downloads it", async () => {
    const s = await submit(app, 4, { title: "downloads" });
    const objects: string[] = [];
    for (let i = 0; i < 3; i++) {
      const object = `out.${i}.root`;
      objects.push(object);
      mkdirSync(join(results, s.requestId), { recursive: true });
      writeFileSync(join(results, s.requestId, object), `result ${i} of ${s.requestId}`);
      await fileComplete(app, s.requestId, s.files[i]!, {
        seconds: [0.25, 1.5, 12.75][i]!,
        bytes: [2_000_000, 3_000_000, 5_000][i]!,
        events: 1000,
        object,
      });
    }
    await fileComplete(app, s.requestId, s.files[3]!, {
      ok: false,
      error: "Traceback (most recent call last):\n  ...\nOSError: file <3> is broken",
      pod: "transformer-abc-pod-7",
    });
    const page = await get(app, `/transformation-request/${s.requestId}/results`);
    expect(page.status).toBe(200);
    const rows = [...page.text.matchAll(/<tr class="[^"]*">([\s\S]*?)<\/tr>/g)].map((m) => m[1]!);
    expect(rows).toHaveLength(4);
    const firstPath = s.files[0]!.paths.split(",")[0]!;
    expect(rows[0]).toContain(firstPath); // the path, not only the flattened object name
    expect(textOf(rows[0]!)).toMatch(/0\.25 s\s+8 MB\/s\s+4,000 events\/s\s+1,000\s+2 MB/);
    expect(textOf(rows[1]!)).toContain("1.5 s");
    expect(textOf(rows[2]!)).toMatch(/12\.8 s\s+392 B\/s/);
    expect(rows[2]).toContain('title="5,000 bytes"');
    // Failed: its error and pod, no link.
    expect(rows[3]).toContain("OSError: file &lt;3&gt; is broken");
    expect(rows[3]).toContain("transformer-abc-pod-7");
    expect(rows[3]).not.toContain('class="download"');
    // Each download link downloads the file (the route of docs/local-results.md).
    for (const [i, row] of rows.slice(0, 3).entries()) {
      const href = /<a class="download" href="([^"]+)"/.exec(row)![1]!;
      expect(href).toBe(`/transformation-request/${s.requestId}/results/${objects[i]}`);
      const res = await fetch(`${app.url}${href}`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(`result ${i} of ${s.requestId}`);
    }
    // Totals at the top, and the snippet (folded, still in the page without JavaScript).
    const top = textOf(page.text);
    expect(top).toContain("Files 3 transformed, 1 failed of 4 files");
    expect(top).toContain("Size 5 MB (root-file)"); // 5,005,000 bytes: three significant digits
    expect(page.text).toContain(`get_transform_status(&#34;${s.requestId}&#34;)`);
    // The API keeps upstream's integer seconds, rounded as Postgres rounds (0.25 → 0, 1.5 → 2, 12.75 → 13).
    const api1 = await api(app, "GET", `/servicex/transformation/${s.requestId}/results`);
    const times = (api1.json.results as Array<Record<string, unknown>>)
      .filter((r) => r.transform_status === "success")
      .map((r) => r.transform_time)
      .sort((a, b) => Number(a) - Number(b));
    expect(times).toEqual([0, 2, 13]);
    // Filtered to the failures: only the failed file, with its error.
    const failures = await get(app, `/transformation-request/${s.requestId}/results?status=failure`);
    expect([...failures.text.matchAll(/<tr class="failed">/g)]).toHaveLength(1);
    expect(failures.text).toContain("is broken");
    const ok = await get(app, `/transformation-request/${s.requestId}/results?status=success`);
    expect([...ok.text.matchAll(/<a class="download"/g)]).toHaveLength(3);
  });

  it("When the results page gets unknown query values, then it answers 200 with a message and the default view", async () => {
    const s = await submit(app, 2, { title: "bad queries" });
    await fileComplete(app, s.requestId, s.files[0]!);
    for (const [query, message] of [
      ["status=evil%27%3B--", "There is no status filter “evil';--”"],
      ["status=%3Cscript%3E", "There is no status filter “<script>”"],
      ["page=-3", "“-3” is not a page number"],
      ["page=abc&status=success", "“abc” is not a page number"],
      ["page=999", "Page 999 is past the end (1 page): showing the last page."],
      ["page=9999999", "“9999999” is not a page number"],
      ["status=success&status=failure", "There is no status filter"],
      ["page=1&page=2", "“1,2” is not a page number"],
    ] as const) {
      const p = await get(app, `/transformation-request/${s.requestId}/results?${query}`);
      expect(p.status, query).toBe(200);
      expect(textOf(p.text), query).toContain(message);
      expect(p.text).not.toContain("<script>");
      expect([...p.text.matchAll(/<tr class="[^"]*">/g)].length, query).toBeGreaterThanOrEqual(1);
    }
  });

  it("When a selection is base64 (the python code generator), then the page shows it decoded and escaped", async () => {
    const src = "def run_query(input_filenames=None):\n    return {'pt': '<b>jets</b>'}\n";
    const s = await submit(app, 1, { selection: Buffer.from(src).toString("base64") });
    const p = await get(app, `/transformation-request/${s.requestId}`);
    expect(p.text).toContain("decoded from base64");
    expect(p.text).toContain(
      "def run_query(input_filenames=None):\n    return {&#39;pt&#39;: &#39;&lt;b&gt;jets&lt;/b&gt;&#39;}",
    );
    expect(p.text).toContain(Buffer.from(src).toString("base64")); // the original, folded
  });

  it("When many files fail with a few messages, then the errors are grouped by message with counts and pods summarised", async () => {
    const s = await submit(app, 60, { title: "many failures" });
    for (let i = 0; i < 45; i++) {
      await fileComplete(app, s.requestId, s.files[i]!, {
        ok: false,
        error: i % 3 === 0 ? "OSError: XRootD timeout" : "KeyError: 'AnalysisJets'",
        pod: `transformer-${s.requestId.slice(0, 8)}-pod-${i % 4}`,
      });
    }
    const p = await get(app, `/transformation-request/${s.requestId}`);
    const groups = [...p.text.matchAll(/<table class="list errors">[\s\S]*?<\/table>/g)][0]![0];
    const rows = [...groups.matchAll(/<tr>\s*<td data-label="Reports"[^>]*>([^<]+)<\/td>([\s\S]*?)<\/tr>/g)];
    expect(rows.map((r) => r[1])).toEqual(["30", "15"]);
    expect(rows[0]![2]).toContain("KeyError: &#39;AnalysisJets&#39;");
    expect(textOf(rows[0]![2]!)).toContain(
      `4 pods: transformer-${s.requestId.slice(0, 8)}-pod-0 … transformer-${s.requestId.slice(0, 8)}-pod-3`,
    );
    expect(textOf(p.text)).toContain("45 failed files · 45 failure reports with 2 distinct messages.");
    expect(p.text.length).toBeLessThan(60_000);
    // Past the sample (5,000 on the page), the groups are those of the latest reports.
    const sampled = await new PagesRepo(app.deps.db).errorGroups(s.requestId, 20, 9);
    expect(sampled.reports).toBe(9);
    expect(sampled.groups.reduce((n, g) => n + g.reports, 0)).toBe(9);
    // The latest 9 reports are files 36–44: 3 (i % 3 === 0) timeouts and 6 KeyErrors.
    expect(sampled.groups.map((g) => [g.reports, g.message])).toEqual([
      [6, "KeyError: 'AnalysisJets'"],
      [3, "OSError: XRootD timeout"],
    ]);
    // The running request: its rate and time-left estimate are on the page, the Cancel link asks first.
    expect(textOf(p.text)).toMatch(/Rate [\d.,]+ files\/s/);
    expect(textOf(p.text)).toMatch(/Time left about /);
    expect(p.text).toContain(
      `<a class="button danger" id="cancel" href="/transformation-request/${s.requestId}/cancel" data-confirm>`,
    );
  });

  it("When Cancel and Delete are clicked, then a confirmation page says what is lost, and only its POST acts", async () => {
    const s = await submit(app, 5, { title: "to cancel" });
    await fileComplete(app, s.requestId, s.files[0]!, { bytes: 2_000_000 });
    // Delete of a running request: no confirmation, a message.
    const early = await get(app, `/transformation-request/${s.requestId}/delete`);
    expect(early.status).toBe(303);
    // Cancel: the page asks and names what happens; nothing changed yet.
    const ask = await get(app, `/transformation-request/${s.requestId}/cancel`);
    expect(ask.status).toBe(200);
    expect(textOf(ask.text)).toContain("4 files not transformed yet will not be transformed.");
    expect(textOf(ask.text)).toContain("The 1 file already transformed stay available");
    expect(ask.text).toContain(`action="/transformation-request/${s.requestId}/cancel"`);
    expect((await app.deps.repos.requests.find(s.requestId))!.status).toBe("running");
    const cookie = ask.cookie!;
    expect(cookie).toBeTruthy();
    expect((await postForm(app, `/transformation-request/${s.requestId}/cancel`, {}, cookie)).status).toBe(
      403,
    );
    const done = await postForm(
      app,
      `/transformation-request/${s.requestId}/cancel`,
      { _csrf: csrfOf(ask.text)! },
      cookie,
    );
    expect(done.status).toBe(303);
    expect((await app.deps.repos.requests.find(s.requestId))!.status).toBe("canceled");
    // Cancel again: nothing to cancel, said so.
    const again = await get(app, `/transformation-request/${s.requestId}/cancel`, cookie);
    expect(again.status).toBe(303);
    expect((await get(app, again.location!, again.cookie ?? cookie)).text).toContain("nothing to cancel");
    // Delete: results, files and history are named.
    const del = await get(app, `/transformation-request/${s.requestId}/delete`, cookie);
    expect(del.status).toBe(200);
    const words = textOf(del.text);
    expect(words).toContain("Its 1 result file (2 MB) are no longer served");
    expect(words).toContain(join(results, s.requestId));
    expect(words).toContain("its progress history are deleted");
    expect(await app.deps.repos.requests.find(s.requestId)).not.toBeNull();
    const gone = await postForm(
      app,
      `/transformation-request/${s.requestId}/delete`,
      { _csrf: csrfOf(del.text)! },
      cookie,
    );
    expect(gone.status).toBe(303);
    expect(gone.location).toBe("/dashboard");
    expect(await app.deps.repos.requests.find(s.requestId)).toBeNull();
  });

  it("When reports carry sub-second times, then transform_seconds keeps the fraction and transform_time the rounded seconds", async () => {
    const s = await submit(app, 2);
    await fileComplete(app, s.requestId, s.files[0]!, { seconds: 0.042 });
    await fileComplete(app, s.requestId, s.files[1]!, { seconds: 2.6 });
    const c = new pg.Client({ connectionString: app.db!.url });
    await c.connect();
    try {
      const r = await c.query<{ transform_time: number; transform_seconds: number }>(
        "SELECT transform_time, transform_seconds FROM transform_result WHERE request_id = $1 ORDER BY file_id",
        [s.requestId],
      );
      expect(r.rows).toEqual([
        { transform_time: 0, transform_seconds: 0.042 },
        { transform_time: 3, transform_seconds: 2.6 },
      ]);
    } finally {
      await c.end();
    }
  });

  it("When the download route is given paths that leave the results directory, then 404 and nothing is read", async () => {
    const s = await submit(app, 1);
    const dir = join(results, s.requestId);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(results, "secret.txt"), "top secret");
    symlinkSync(join(results, "secret.txt"), join(dir, "link-out.root"));
    symlinkSync(results, join(dir, "dir-link"));
    writeFileSync(join(dir, "ok.root"), "fine");
    expect((await get(app, `/transformation-request/${s.requestId}/results/ok.root`)).text).toBe("fine");
    for (const bad of [
      "..",
      "%2E%2E",
      "..%2Fsecret.txt",
      "%2E%2E%2Fsecret.txt",
      "%2Fetc%2Fpasswd",
      `%2F${encodeURIComponent(join(results, "secret.txt").slice(1))}`,
      "link-out.root",
      "dir-link%2Fsecret.txt",
      "ok.root%00",
      "%5C..%5Csecret.txt",
    ]) {
      // Sent as written (fetch would resolve a literal "..").
      const r = await rawGet(app, `/transformation-request/${s.requestId}/results/${bad}`);
      expect(r.status, bad).toBe(404);
      expect(r.text, bad).not.toContain("top secret");
    }
  });
});

describe("When results are in an object store", () => {
  let app: TestApp;
  const store = new MemoryObjectStore({ publicEndpoint: "minio.example:9000", publicSecure: true });

  beforeAll(async () => {
    app = await startTestApp({
      broker: "memory",
      objectStore: store,
      env: { OBJECT_STORE_ENABLED: "true", MINIO_URL: "minio.example:9000", MINIO_ENCRYPT: "true" },
    });
  });
  afterAll(async () => {
    await app?.close();
  });

  it("then the pages name the endpoint and the bucket, and each download link redirects to a presigned URL", async () => {
    const s = await submit(app, 2, { title: "in minio" });
    await store.createBucket(s.requestId);
    await store.putObject(s.requestId, "a.root", "aaaa");
    await fileComplete(app, s.requestId, s.files[0]!, { object: "a.root", bytes: 4 });
    await fileComplete(app, s.requestId, s.files[1]!, { ok: false });
    const p = await get(app, `/transformation-request/${s.requestId}`);
    const text = textOf(p.text);
    expect(text).toContain("Object store https://minio.example:9000");
    expect(text).toContain(`Bucket ${s.requestId}`);
    expect(text).not.toContain("Directory");
    const rs = await get(app, `/transformation-request/${s.requestId}/results`);
    const href = /<a class="download" href="([^"]+)"/.exec(rs.text)![1]!;
    const res = await fetch(`${app.url}${href}`, { redirect: "manual" });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toMatch(
      new RegExp(
        `^https://minio\\.example:9000/${s.requestId}/a\\.root\\?X-Amz-Expires=\\d+&X-Amz-Signature=`,
      ),
    );
    // Delete's confirmation says the bucket goes with it.
    await api(app, "GET", `/servicex/transformation/${s.requestId}/cancel`);
    const del = await get(app, `/transformation-request/${s.requestId}/delete`);
    expect(textOf(del.text)).toContain(`are deleted with the bucket ${s.requestId} of the object store`);
  });
});

describe("When sign-in is on (ENABLE_AUTH=true)", () => {
  let app: TestApp;
  let results: string;
  const cookies: Record<string, string> = {};
  const csrfs: Record<string, string> = {};
  const ids: Record<string, number> = {};
  const tokens: Record<string, string> = {};
  const secret = `reqpage-${randomBytes(8).toString("hex")}-0123456789abcdef0123456789`;

  beforeAll(async () => {
    results = mkdtempSync(join(tmpdir(), "sx-request-page-auth-"));
    app = await startTestApp({
      broker: "memory",
      env: { ENABLE_AUTH: "true", JWT_SECRET_KEY: secret, SECRET_KEY: secret, RESULTS_DIR: results },
    });
    for (const [name, admin] of [
      ["root", true],
      ["alice", false],
      ["bob", false],
    ] as const) {
      const u = await app.deps.users.repo.insert({
        sub: `${name}-sub`,
        email: `${name}@reqpage.example`,
        name,
        institution: "Uni",
        experiment: "ATLAS",
        admin,
        pending: false,
        refreshToken: null,
      });
      ids[name] = u.id;
      const s = {
        ...newSession(),
        isAuthenticated: true,
        sub: `${name}-sub`,
        email: `${name}@reqpage.example`,
        userId: u.id,
        admin,
      };
      await app.deps.users.startSession(s.sid, {
        userId: u.id,
        iss: "https://issuer.reqpage.example",
        sub: `${name}-sub`,
      });
      cookies[name] = `sx_session=${app.deps.sessions.encode(s)}`;
      csrfs[name] = s.csrf;
      const refresh = await app.deps.users.rotateApiToken(u.id);
      tokens[name] = (await api(app, "POST", "/token/refresh", undefined, refresh)).json
        .access_token as string;
    }
  });
  afterAll(async () => {
    await app?.close();
    rmSync(results, { recursive: true, force: true });
  });

  it("then another user's confirmation pages, results and downloads are refused, the owner's and an admin's are not", async () => {
    const s = await submit(app, 1, { title: "alice's", token: tokens.alice });
    mkdirSync(join(results, s.requestId), { recursive: true });
    writeFileSync(join(results, s.requestId, "out.root"), "alice's bytes");
    await fileComplete(app, s.requestId, s.files[0]!, { object: "out.root" });
    for (const path of ["delete", "cancel", "results", ""]) {
      const p = await get(
        app,
        `/transformation-request/${s.requestId}${path ? `/${path}` : ""}`,
        cookies.bob,
      );
      expect(p.status, path).toBe(403);
    }
    const theirs = await get(app, `/transformation-request/${s.requestId}/results/out.root`, cookies.bob);
    expect(theirs.status).toBe(404);
    expect(theirs.text).not.toContain("alice's bytes");
    expect(
      (await get(app, `/transformation-request/${s.requestId}/results/out.root`, cookies.alice)).text,
    ).toBe("alice's bytes");
    expect(
      (await get(app, `/transformation-request/${s.requestId}/results/out.root`, cookies.root)).text,
    ).toBe("alice's bytes");
    // The owner's page: the snippet names the servicex.yaml backend, not a bare URL.
    const own = await get(app, `/transformation-request/${s.requestId}`, cookies.alice);
    expect(own.text).toContain("ServiceXClient(backend=&#34;");
    // An admin gets the confirmation page of someone else's request.
    const ask = await get(app, `/transformation-request/${s.requestId}/delete`, cookies.root);
    expect(ask.status).toBe(200);
    expect(ask.text).toContain(`action="/transformation-request/${s.requestId}/delete"`);
    // Bob's POST with his own valid token is refused too.
    const refused = await postForm(
      app,
      `/transformation-request/${s.requestId}/delete`,
      { _csrf: csrfs.bob! },
      cookies.bob,
    );
    expect(refused.status).toBe(403);
    expect(await app.deps.repos.requests.find(s.requestId)).not.toBeNull();
  });
});
