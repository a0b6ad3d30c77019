// The dashboards as a monitor (issue 13, item 3; docs/api.md "Pages", docs/decisions.md D38), over HTTP
// against the real App on Postgres (and one search on the embedded PGlite): requests are brought into each
// state through the real routes (submit, file-complete, DID-finder /error, cancel, a fatal status report),
// then the page's badges and Files column, the default order, the status filters and their counts, the
// search (words, prefixes, a request id, hostile text), the status order, the page past the end, unknown
// parameters, the empty state, /dashboard/live, who sees what with sign-in on, and the indexes the
// queries use.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newSession } from "../../src/http/middleware/session.js";
import { type TestApp, eventually, startTestApp } from "../helpers/testApp.js";

interface Page {
  status: number;
  text: string;
  type: string | null;
}

async function get(app: TestApp, path: string, cookie?: string): Promise<Page> {
  const res = await fetch(`${app.url}${path}`, { redirect: "manual", headers: cookie ? { cookie } : {} });
  return { status: res.status, text: await res.text(), type: res.headers.get("content-type") };
}

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
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {}
  return { status: res.status, json, text };
}

/** Submits a request (a file list of n files, or a DID); returns its ids. */
async function submit(app: TestApp, o: { title: string; files?: number; did?: string; token?: string }) {
  const tag = randomBytes(4).toString("hex");
  const r = await api(
    app,
    "POST",
    "/servicex/transformation",
    {
      title: o.title,
      ...(o.did
        ? { did: o.did }
        : {
            "file-list": Array.from({ length: o.files ?? 1 }, (_, i) => `root://eos//dash/${tag}/f${i}.root`),
          }),
      selection: "(Select lambda e: e.Jets)",
      codegen: "passthrough",
      "result-destination": "object-store",
    },
    o.token,
  );
  expect(r.status, r.text).toBe(200);
  const requestId = r.json.request_id as string;
  const rec = (await app.deps.repos.requests.find(requestId))!;
  const files = await app.deps.repos.datasets.files(rec.didId);
  return { requestId, id: rec.id, didId: rec.didId, fileIds: files.map((f) => f.id) };
}

async function fileComplete(app: TestApp, requestId: string, fileId: number, ok: boolean) {
  const r = await api(app, "PUT", `/servicex/internal/transformation/${requestId}/file-complete`, {
    requestId,
    "file-path": `root://eos//f${fileId}.root`,
    "file-id": fileId,
    status: ok ? "success" : "failure",
    "total-time": 1.5,
    "total-events": 100,
    "total-bytes": 2048,
    "avg-rate": 66.6,
    place: { host_name: `transformer-${requestId.slice(0, 8)}-pod`, site: "test" },
    ...(ok ? { "s3-object-name": `f${fileId}.parquet` } : { error: `file ${fileId} is broken` }),
  });
  expect(r.status, r.text).toBe(200);
}

/** The dashboard's rows: title, badge and Files text, in page order. */
function rowsOf(html: string) {
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(html)?.[1] ?? "";
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) => {
    const tr = m[1]!;
    return {
      title: /<td data-label="Title"><a [^>]*>([^<]*)</.exec(tr)?.[1] ?? "",
      badge: /<span class="status ([^"]*)">([^<]*)</.exec(tr)?.[2] ?? "",
      badgeClass: /<span class="status ([^"]*)">/.exec(tr)?.[1] ?? "",
      files:
        /<td data-label="Files">([\s\S]*?)<\/td>/
          .exec(tr)?.[1]
          ?.replace(/<[^>]+>/g, " ")
          .replace(/\s+/g, " ")
          .trim() ?? "",
      live: /data-live-id="(\d+)"/.exec(tr)?.[1] ?? null,
      bar: [...tr.matchAll(/class="(done|failed)" data-pct="([\d.]+)"/g)].map((b) => [b[1], Number(b[2])]),
      striped: tr.includes('class="minibar lookup"'),
    };
  });
}

const countsOf = (html: string) =>
  Object.fromEntries(
    [
      ...html.matchAll(
        /<a href="([^"]*)" data-filter="\w+"(?: aria-current="page")?>(\w+) <span class="count">([\d,]+)<\/span><\/a>/g,
      ),
    ].map((m) => [m[2]!, { href: m[1]!.replaceAll("&amp;", "&"), n: Number(m[3]!.replaceAll(",", "")) }]),
  ) as Record<string, { href: string; n: number }>;

const notesOf = (html: string) =>
  [...html.matchAll(/<div class="flash warning" role="status">([^<]*)<\/div>/g)].map((m) => m[1]!);

async function sql<T = Record<string, unknown>>(app: TestApp, text: string, params: unknown[] = []) {
  const c = new pg.Client({ connectionString: app.db!.url });
  await c.connect();
  try {
    return (await c.query(text, params)).rows as T[];
  } finally {
    await c.end();
  }
}

describe("When sign-in is off (every request on /dashboard)", () => {
  let app: TestApp;
  const tag = randomBytes(3).toString("hex");
  const t = (name: string) => `${name} ${tag}`;
  const made: Record<string, Awaited<ReturnType<typeof submit>>> = {};

  beforeAll(async () => {
    app = await startTestApp({ broker: "memory" });
  });
  afterAll(async () => {
    await app?.close();
  });

  it("When nothing was submitted yet, then the dashboard says how to submit a first request instead of an empty table", async () => {
    const p = await get(app, "/dashboard");
    expect(p.status).toBe(200);
    expect(p.text).toContain("No transform requests yet");
    expect(p.text).toContain("pip install servicex");
    expect(p.text).toMatch(/endpoint: http:\/\/127\.0\.0\.1:\d+/);
    expect(p.text).toContain("from servicex import deliver, dataset");
    expect(p.text).toContain("print(deliver(spec))");
    expect(p.text).not.toContain("<table");
    expect(p.text).not.toContain("dashboard-live.js");
    // with sign-in off, /dashboard lists everything: the nav has no second "All requests" entry
    expect(p.text).not.toContain('href="/global-dashboard"');
    expect(p.text).toContain('href="/dashboard"');
    // a page past the end of nothing still says how to start, not "Page 3 of 1"
    expect((await get(app, "/dashboard?page=3")).text).toContain("No transform requests yet");
  });

  it("When requests are in every state, then each row's badge, Files text and bar say what happened", async () => {
    // Complete with 3 of 23 files failed: its own badge, and the bar shows the failed share.
    made.partial = await submit(app, { title: t("Partial ttbar"), files: 23 });
    for (const [i, f] of made.partial.fileIds.entries())
      await fileComplete(app, made.partial.requestId, f, i >= 3);
    // Complete with every file done.
    made.clean = await submit(app, { title: t("Clean Zmumu"), files: 2 });
    for (const f of made.clean.fileIds) await fileComplete(app, made.clean.requestId, f, true);
    // Running, 1 of 4 done.
    made.running = await submit(app, { title: t("Running MET"), files: 4 });
    await fileComplete(app, made.running.requestId, made.running.fileIds[0]!, true);
    // Looking up a DID (nobody answers it), and a second request on the same DID waiting for that lookup.
    const did = `rucio://mc23_13p6TeV:mc23_13p6TeV.601229.PhPy8EG_ttbar_${tag}.deriv.DAOD_PHYS.e8514_p5855`;
    made.lookup = await submit(app, { title: t("Lookup Higgs"), did });
    made.pending = await submit(app, { title: t("Pending Higgs"), did });
    // A DID whose lookup fails: Bad Dataset with the finder's message.
    made.bad = await submit(app, { title: t("Bad dijet"), did: `rucio://user.nobody:missing_${tag}` });
    const e = await api(app, "PUT", `/servicex/internal/transformation/${made.bad.didId}/error`, {
      "error-type": "does_not_exist",
      message: "DID not found in Rucio",
    });
    expect(e.status, e.text).toBe(200);
    // Fatal (a transformer's fatal report) and Canceled (the owner).
    made.fatal = await submit(app, { title: t("Fatal photon"), files: 2 });
    const f = await api(app, "POST", `/servicex/internal/transformation/${made.fatal.requestId}/status`, {
      severity: "fatal",
      source: "transformer",
      info: "Out of memory while reading the first file",
    });
    expect(f.status, f.text).toBe(200);
    made.canceled = await submit(app, { title: t("Canceled tau"), files: 2 });
    expect((await api(app, "GET", `/servicex/transformation/${made.canceled.requestId}/cancel`)).status).toBe(
      200,
    );
    await eventually(
      async () => {
        const s = await Promise.all(
          ["partial", "clean", "bad", "fatal", "canceled"].map(
            async (k) => (await app.deps.repos.requests.find(made[k]!.requestId))!.status,
          ),
        );
        return s.join() === "complete,complete,bad_dataset,fatal,canceled";
      },
      20_000,
      "the requests to reach their states",
    );

    const rows = rowsOf((await get(app, `/dashboard?q=${tag}`)).text);
    const by = Object.fromEntries(rows.map((r) => [r.title, r]));
    expect(by[t("Partial ttbar")]).toMatchObject({
      badge: "Complete with failures",
      badgeClass: "s-complete-with-failures",
      files: "20 of 23 completed 3 failed (13%)",
      live: null,
    });
    expect(by[t("Partial ttbar")]!.bar).toEqual([
      ["done", 87],
      ["failed", 13],
    ]);
    expect(by[t("Clean Zmumu")]).toMatchObject({ badge: "Complete", files: "2 of 2 completed", live: null });
    expect(by[t("Clean Zmumu")]!.bar).toEqual([
      ["done", 100],
      ["failed", 0],
    ]);
    expect(by[t("Running MET")]).toMatchObject({ badge: "Running", files: "1 of 4 completed" });
    expect(by[t("Running MET")]!.live).toBe(String(made.running.id));
    // Lookup rows say what is happening instead of "0 / 0".
    expect(by[t("Lookup Higgs")]).toMatchObject({ badge: "Lookup", files: "Finding files…", striped: true });
    expect(by[t("Lookup Higgs")]!.live).toBe(String(made.lookup.id));
    expect(by[t("Pending Higgs")]!.badge).toMatch(/^(Pending Lookup|Lookup)$/);
    expect(by[t("Pending Higgs")]!.files).not.toContain("0 / 0");
    expect(by[t("Bad dijet")]).toMatchObject({ badge: "Bad Dataset", live: null });
    expect(by[t("Bad dijet")]!.files).toContain("Dataset lookup failed");
    expect(by[t("Bad dijet")]!.files).toContain("DID not found in Rucio");
    expect(by[t("Fatal photon")]).toMatchObject({ badge: "Fatal", live: null });
    expect(by[t("Fatal photon")]!.files).toContain("Out of memory");
    expect(by[t("Canceled tau")]).toMatchObject({ badge: "Canceled", live: null });
    for (const r of rows) expect(r.files).not.toMatch(/\b0 \/ 0\b/);
  });

  it("When the dashboard opens without parameters, then the newest submitted request comes first", async () => {
    const rows = rowsOf((await get(app, `/dashboard?q=${tag}`)).text).map((r) => r.title);
    expect(rows).toEqual(
      [
        "Canceled tau",
        "Fatal photon",
        "Bad dijet",
        "Pending Higgs",
        "Lookup Higgs",
        "Running MET",
        "Clean Zmumu",
        "Partial ttbar",
      ].map(t),
    );
    const page = (await get(app, "/dashboard")).text;
    expect(page).toMatch(/<th scope="col" aria-sort="descending"><a href="[^"]*">Started/);
  });

  it("When a status filter is chosen, then only its requests are listed, and each count links to its filtered list", async () => {
    const page = (await get(app, `/dashboard?q=${tag}`)).text;
    const counts = countsOf(page);
    expect(Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v.n]))).toEqual({
      Active: 3,
      Failed: 3,
      Complete: 1,
      Canceled: 1,
      All: 8,
    });
    const expected: Record<string, string[]> = {
      Active: ["Pending Higgs", "Lookup Higgs", "Running MET"],
      Failed: ["Fatal photon", "Bad dijet", "Partial ttbar"],
      Complete: ["Clean Zmumu"],
      Canceled: ["Canceled tau"],
    };
    for (const [label, titles] of Object.entries(expected)) {
      const href = counts[label]!.href;
      expect(href).toContain(`q=${tag}`);
      const filtered = await get(app, href);
      expect(filtered.status).toBe(200);
      expect(
        rowsOf(filtered.text).map((r) => r.title),
        label,
      ).toEqual(titles.map(t));
      expect(filtered.text).toMatch(new RegExp(`aria-current="page">${label} `));
    }
    // the filter survives a new search (hidden field) and a sort click
    const active = (await get(app, `/dashboard?status=active&q=${tag}`)).text;
    expect(active).toContain('<input type="hidden" name="status" value="active">');
    expect(active).toMatch(/href="\/dashboard\?status=active&amp;q=[^"]*&amp;sort=status&amp;order=asc"/);
  });

  it("When searching, then words match the starts of title and dataset words in any case, all of them required; a request id finds its request", async () => {
    const titles = async (q: string) =>
      rowsOf((await get(app, `/dashboard?q=${encodeURIComponent(q)}`)).text).map((r) => r.title);
    // a dataset word prefix ("phpy8" of PhPy8EG), with the tag from the title
    expect(await titles(`PHPY8 ${tag}`)).toEqual([t("Pending Higgs"), t("Lookup Higgs")]);
    // DAOD_PHYS is two words, both in the dataset name
    expect(await titles(`daod_phys ${tag}`)).toEqual([t("Pending Higgs"), t("Lookup Higgs")]);
    expect(await titles(`zmu ${tag}`)).toEqual([t("Clean Zmumu")]);
    expect(await titles(`zmumu ttbar ${tag}`)).toEqual([]);
    expect(await titles(made.partial!.requestId)).toEqual([t("Partial ttbar")]);
    expect(await titles(made.partial!.requestId.toUpperCase())).toEqual([t("Partial ttbar")]);
    // text that means something to SQL, LIKE or tsquery is only text
    for (const hostile of [
      `'); DROP TABLE requests; -- ${tag}`,
      `${tag} & !ttbar:* |`,
      `%${tag}%`,
      `${tag}\\`,
      `${tag} '' ""`,
    ]) {
      const p = await get(app, `/dashboard?q=${encodeURIComponent(hostile)}`);
      expect(p.status, hostile).toBe(200);
    }
    // (ttbar is a word of the Higgs requests' dataset name too)
    expect(await titles(`${tag} & !ttbar:* |`)).toEqual([
      t("Pending Higgs"),
      t("Lookup Higgs"),
      t("Partial ttbar"),
    ]);
    expect(await titles(`%${tag}%`)).toHaveLength(8);
    expect((await sql(app, "SELECT count(*)::int AS n FROM requests"))[0]!.n).toBeGreaterThanOrEqual(8);
    // no match: says so, with a way back
    const none = (await get(app, `/dashboard?status=canceled&q=${encodeURIComponent(`zmumu ${tag}`)}`)).text;
    expect(none).toContain("No requests in “Canceled” match “zmumu");
    expect(none).toContain("Show all statuses");
    expect(none).toContain("Clear the search");
    expect(none).not.toContain("No transform requests yet");
  });

  it("When sorted by status, then moving requests come first, then failures, then Complete, then Canceled (and the reverse)", async () => {
    const order = async (o: string) =>
      rowsOf((await get(app, `/dashboard?q=${tag}&sort=status&order=${o}`)).text).map((r) => r.badge);
    const asc = await order("asc");
    const rank = [
      "Running",
      "Lookup",
      "Pending Lookup",
      "Submitted",
      "Fatal",
      "Bad Dataset",
      "Complete with failures",
      "Complete",
      "Canceled",
    ];
    expect(asc.map((b) => rank.indexOf(b))).toEqual(asc.map((b) => rank.indexOf(b)).sort((a, b) => a - b));
    expect(asc[0]).toBe("Running");
    expect(asc.at(-1)).toBe("Canceled");
    const desc = await order("desc");
    expect(desc[0]).toBe("Canceled");
    expect(desc.at(-1)).toBe("Running");
    const p = (await get(app, `/dashboard?q=${tag}&sort=status&order=asc`)).text;
    expect(p).toMatch(/<th scope="col" aria-sort="ascending"><a href="[^"]*">Status/);
    // aria-sort belongs to the header cell, never to the link
    expect(p).not.toMatch(/<a [^>]*aria-sort/);
    // Without a search the page is cut from the status groups' counts: every request once, in order.
    for (const o of ["asc", "desc"]) {
      const seen: Array<{ id: string; rank: number }> = [];
      const first = (await get(app, `/dashboard?sort=status&order=${o}`)).text;
      const all = countsOf(first).All!.n;
      for (let page = 1; page <= Math.ceil(all / 15); page++) {
        const html =
          page === 1 ? first : (await get(app, `/dashboard?sort=status&order=${o}&page=${page}`)).text;
        const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(html)![1]!;
        for (const m of body.matchAll(
          /href="\/transformation-request\/([^"]+)"[\s\S]*?<span class="status [^"]*">([^<]*)</g,
        ))
          seen.push({ id: m[1]!, rank: rank.indexOf(m[2]!) });
      }
      expect(seen, o).toHaveLength(all);
      expect(new Set(seen.map((x) => x.id)).size, o).toBe(all);
      const ranks = seen.map((x) => x.rank);
      expect(ranks, o).toEqual([...ranks].sort((a, b) => (o === "asc" ? a - b : b - a)));
    }
  });

  it("When a page past the end is asked for, then the page says so and links to the last page", async () => {
    const p = await get(app, `/dashboard?q=${tag}&page=999`);
    expect(p.status).toBe(200);
    expect(p.text).toContain("Page 999 is past the end: there is 1 page (8 in total).");
    expect(p.text).toMatch(/<a href="\/dashboard\?q=[^"]*">Go to the first page<\/a>/);
    expect(p.text).not.toContain("No transform requests yet");
    expect(p.text).not.toContain("<table");
    for (let i = 0; i < 16; i++) await submit(app, { title: t(`Filler ${i}`), files: 1 });
    const deep = await get(app, `/dashboard?q=${tag}&page=999`);
    expect(deep.text).toContain("there are 2 pages (24 in total)");
    expect(deep.text).toMatch(/<a href="\/dashboard\?q=[^"]*&amp;page=2">Go to the last page \(2\)<\/a>/);
    expect(rowsOf((await get(app, `/dashboard?q=${tag}&page=2`)).text)).toHaveLength(9);
    // A full page may show counts read a few seconds ago; the short last page counts afresh.
    expect((await get(app, `/dashboard?q=${tag}`)).text).toContain("Page 1 of 2 (24)");
    await submit(app, { title: t("Filler 16"), files: 1 });
    const last = await get(app, `/dashboard?q=${tag}&page=2`);
    expect(rowsOf(last.text)).toHaveLength(10);
    expect(last.text).toContain("Page 2 of 2 (25)");
    expect(countsOf(last.text).All!.n).toBe(25);
  });

  it("When parameters are unknown or malformed, then the page (200) says what it used instead, never a 500", async () => {
    const cases: Array<[string, RegExp]> = [
      ["status=broken", /There is no status filter “broken”: showing all requests/],
      ["sort=evil;drop", /cannot be sorted by “evil;drop”/],
      ["order=sideways", /The order “sideways” is neither asc nor desc/],
      ["page=-3", /“-3” is not a page number/],
      ["page=abc", /“abc” is not a page number/],
      ["page=0", /“0” is not a page number/],
      ["page=99999999999999999999", /is not a page number/],
      ["page=1e3", /“1e3” is not a page number/],
      ["q=%00%01***", /has no letters or digits/],
      ["q=a&q=b", /Only the first search text is used/],
      [`q=${"x".repeat(5000)}`, /cut to its first 200 characters/],
      [`q=${Array.from({ length: 12 }, (_, i) => `w${i}`).join("+")}`, /first 8 words/],
    ];
    for (const [query, note] of cases) {
      const p = await get(app, `/dashboard?${query}`);
      expect(p.status, query).toBe(200);
      expect(p.type, query).toContain("text/html");
      expect(notesOf(p.text).join(" "), query).toMatch(note);
    }
    // the values shown back are escaped
    const xss = await get(app, `/dashboard?status=${encodeURIComponent("<script>alert(1)</script>")}`);
    expect(xss.text).not.toContain("<script>alert(1)");
    expect(xss.text).toContain("&lt;script&gt;alert(1)");
    // a long search is echoed cut, and still searched
    const long = await get(app, `/dashboard?q=${tag}+${"y".repeat(400)}`);
    expect(/name="q" type="search" value="([^"]*)"/.exec(long.text)![1]!.length).toBe(200);
    // nonsense everywhere at once still renders the defaults
    const all = await get(app, "/dashboard?status=1&sort=2&order=3&page=4x&q[x]=1&__proto__=1");
    expect(all.status).toBe(200);
    expect(all.text).toContain('aria-sort="descending"');
  });

  it("When /dashboard/live is asked for rows, then it answers each row's current cells and marks the finished ones", async () => {
    const s = await submit(app, { title: t("Live jets"), files: 2 });
    const before = (await get(app, `/dashboard?q=${encodeURIComponent(`live ${tag}`)}`)).text;
    expect(before).toContain('data-live="/dashboard/live"');
    expect(before).toContain("/static/js/dashboard-live.js");
    const ask = () => api(app, "GET", `/dashboard/live?ids=${s.id},${made.clean!.id}`);
    let r = await ask();
    expect(r.status).toBe(200);
    const rows = r.json.rows as Array<{ id: number; active: boolean; status: string; html: string }>;
    expect(rows.find((x) => x.id === s.id)).toMatchObject({ active: true, status: "Running" });
    expect(rows.find((x) => x.id === s.id)!.html).toContain(`data-live-id="${s.id}"`);
    expect(rows.find((x) => x.id === made.clean!.id)).toMatchObject({ active: false, status: "Complete" });
    expect(r.json.interval).toBe(3000);
    // Asked with the version the page shows, an unchanged row comes back without cells to render.
    const version = (rows.find((x) => x.id === s.id) as unknown as { version: string }).version;
    expect(version).toBe("running.2.0.0");
    expect(rows.find((x) => x.id === s.id)!.html).toContain(`data-live-v="${version}"`);
    const same = await api(app, "GET", `/dashboard/live?ids=${s.id}:${version}`);
    expect(same.json.rows).toEqual([
      { id: s.id, active: true, status: "Running", title: t("Live jets"), version, same: true },
    ]);
    for (const f of s.fileIds) await fileComplete(app, s.requestId, f, f !== s.fileIds[0]);
    await eventually(async () => (await app.deps.repos.requests.find(s.requestId))!.status === "complete");
    r = await api(app, "GET", `/dashboard/live?ids=${s.id}:${version},${made.clean!.id}`);
    const done = (r.json.rows as Array<{ id: number; active: boolean; status: string; html: string }>).find(
      (x) => x.id === s.id,
    )!;
    expect(done).toMatchObject({ active: false, status: "Complete with failures" });
    expect(done.html).not.toContain("data-live-id");
    expect(done.html).toContain("1 of 2 completed");
    // bad ids: 400 JSON, never a 500
    for (const q of [
      "ids=abc",
      "ids=1,,2",
      "ids=-1",
      `ids=${Array.from({ length: 51 }, (_, i) => i + 1).join(",")}`,
      "ids=99999999999",
      "ids=0",
      `ids=${s.id}:running`,
      `ids=${s.id}:running.1.2.3;`,
    ]) {
      const bad = await api(app, "GET", `/dashboard/live?${q}`);
      expect(bad.status, q).toBe(400);
      expect(bad.json.message, q).toMatch(/ids must be/);
    }
    expect((await api(app, "GET", "/dashboard/live?ids=")).json.rows).toEqual([]);
    expect((await api(app, "GET", "/dashboard/live?ids=999999")).json.rows).toEqual([]);
  });

  it("When requests come and go, then the search table follows them (trigger), and the queries use the dashboard indexes", async () => {
    const s = await submit(app, { title: t("Indexed gluon"), files: 1 });
    const words = await sql<{ words: string }>(
      app,
      "SELECT words::text AS words FROM request_search WHERE id = $1",
      [s.id],
    );
    expect(words[0]!.words).toContain("'gluon'");
    expect(words[0]!.words).toContain(`'${tag}'`);
    expect((await api(app, "GET", `/servicex/transformation/${s.requestId}/cancel`)).status).toBe(200);
    await eventually(async () => (await app.deps.repos.requests.find(s.requestId))!.status === "canceled");
    const del = await api(app, "DELETE", `/servicex/transformation/${s.requestId}`);
    expect(del.status, del.text).toBe(200);
    expect(await sql(app, "SELECT 1 FROM request_search WHERE id = $1", [s.id])).toHaveLength(0);
    // Every request has its words (none missing, none left over).
    const orphans = await sql<{ n: number }>(
      app,
      `SELECT (SELECT count(*) FROM requests r WHERE NOT EXISTS (SELECT 1 FROM request_search s WHERE s.id = r.id))
            + (SELECT count(*) FROM request_search s WHERE NOT EXISTS (SELECT 1 FROM requests r WHERE r.id = s.id)) AS n`,
    );
    expect(Number(orphans[0]!.n)).toBe(0);
    // With sequential scans off the planner shows which index serves each query (the test data is small).
    const plan = async (q: string, params: unknown[] = []) => {
      const c = new pg.Client({ connectionString: app.db!.url });
      await c.connect();
      try {
        await c.query("SET enable_seqscan = off");
        return ((await c.query(`EXPLAIN ${q}`, params)).rows as Array<{ "QUERY PLAN": string }>)
          .map((r) => r["QUERY PLAN"])
          .join("\n");
      } finally {
        await c.end();
      }
    };
    expect(
      await plan("SELECT s.id FROM request_search s WHERE s.words @@ to_tsquery('simple', $1)", [
        "'ttbar':*",
      ]),
    ).toContain("ix_request_search_words");
    expect(
      await plan(
        "SELECT r.id FROM requests r WHERE r.status IN ('submitted', 'pending_lookup', 'lookup', 'running') ORDER BY r.id DESC LIMIT 15",
      ),
    ).toContain("ix_requests_active");
    expect(
      await plan(
        "SELECT count(*) FILTER (WHERE r.status = 'complete' AND r.files_failed = 0) FROM requests r WHERE r.submitted_by = 1",
      ),
    ).toContain("ix_requests_owner_status");
  });
});

describe("When sign-in is on", () => {
  let app: TestApp;
  const secret = `dash-${randomBytes(8).toString("hex")}-0123456789abcdef0123456789`;
  const cookies: Record<string, string> = {};
  const tokens: Record<string, string> = {};
  const ids: Record<string, number> = {};
  const tag = randomBytes(3).toString("hex");

  beforeAll(async () => {
    app = await startTestApp({
      broker: "memory",
      env: { ENABLE_AUTH: "true", JWT_SECRET_KEY: secret, SECRET_KEY: secret },
    });
    for (const [name, admin] of [
      ["root", true],
      ["alice", false],
      ["bob", false],
      ["newbie", false],
    ] as const) {
      const u = await app.deps.users.repo.insert({
        sub: `${name}-sub`,
        email: `${name}@dash.example`,
        name: `${name[0]!.toUpperCase()}${name.slice(1)} Tester`,
        institution: "Uni",
        experiment: "ATLAS",
        admin,
        pending: false,
        refreshToken: null,
      });
      ids[name] = u.id;
      const s = { ...newSession(), isAuthenticated: true, sub: `${name}-sub`, userId: u.id, admin };
      await app.deps.users.startSession(s.sid, {
        userId: u.id,
        iss: "https://issuer.dash.example",
        sub: `${name}-sub`,
      });
      cookies[name] = `sx_session=${app.deps.sessions.encode(s)}`;
      const refresh = await app.deps.users.rotateApiToken(u.id);
      const r = await api(app, "POST", "/token/refresh", undefined, refresh);
      tokens[name] = r.json.access_token as string;
    }
  });
  afterAll(async () => {
    await app?.close();
  });

  it("When users have requests, then each dashboard counts and lists only its owner's; the admin's global one everyone's", async () => {
    const a = await submit(app, { title: `Alice ttbar ${tag}`, files: 2, token: tokens.alice });
    await submit(app, { title: `Alice Zee ${tag}`, files: 1, token: tokens.alice });
    const b = await submit(app, { title: `Bob ttbar ${tag}`, files: 2, token: tokens.bob });
    const mine = await get(app, "/dashboard", cookies.alice);
    expect(mine.status).toBe(200);
    expect(rowsOf(mine.text).map((r) => r.title)).toEqual([`Alice Zee ${tag}`, `Alice ttbar ${tag}`]);
    expect(countsOf(mine.text).All!.n).toBe(2);
    expect(rowsOf((await get(app, `/dashboard?q=ttbar`, cookies.alice)).text).map((r) => r.title)).toEqual([
      `Alice ttbar ${tag}`,
    ]);
    // A user without requests gets the first-request help, with their token pointed to.
    const fresh = await get(app, "/dashboard", cookies.newbie);
    expect(fresh.text).toContain("No transform requests yet");
    expect(fresh.text).toContain("token: &lt;your API token, from your profile page&gt;");
    const global = await get(app, `/global-dashboard?q=ttbar+${tag}`, cookies.root);
    expect(rowsOf(global.text).map((r) => r.title)).toEqual([`Bob ttbar ${tag}`, `Alice ttbar ${tag}`]);
    expect(global.text).toContain("Bob Tester");
    expect(global.text).toContain('data-live="/dashboard/live?global=1"');
    // with sign-in on, an admin's nav has both dashboards
    expect(global.text).toContain('href="/global-dashboard"');
    expect((await get(app, "/global-dashboard", cookies.alice)).status).toBe(403);

    // The live endpoint: a user gets their own rows only; an admin any; nobody signed in: 401 JSON.
    const live = async (cookie?: string) =>
      (
        await fetch(`${app.url}/dashboard/live?ids=${a.id},${b.id}&global=1`, {
          headers: cookie ? { cookie } : {},
        })
      ).json() as Promise<{ rows?: Array<{ id: number; html: string }>; message?: string }>;
    const alice = await live(cookies.alice);
    expect(alice.rows!.map((r) => r.id)).toEqual([a.id]);
    expect(alice.rows![0]!.html).not.toContain('data-label="User"');
    const root = await live(cookies.root);
    expect(root.rows!.map((r) => r.id).sort()).toEqual([a.id, b.id].sort());
    expect(root.rows![0]!.html).toContain('data-label="User"');
    const anon = await fetch(`${app.url}/dashboard/live?ids=${a.id}`);
    expect(anon.status).toBe(401);
    expect(((await anon.json()) as { message: string }).message).toMatch(/Sign in/);
  });
});

describe("When the App runs on the embedded PGlite", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ backend: "pglite", broker: "memory" });
  });
  afterAll(async () => {
    await app?.close();
  });

  it("then the filters, counts and search work the same (the migration needs no extension)", async () => {
    const s = await submit(app, { title: "Embedded ttbar skim", files: 2 });
    await submit(app, { title: "Embedded Zee", files: 1 });
    await fileComplete(app, s.requestId, s.fileIds[0]!, false);
    await fileComplete(app, s.requestId, s.fileIds[1]!, true);
    await eventually(async () => (await app.deps.repos.requests.find(s.requestId))!.status === "complete");
    const p = (await get(app, "/dashboard?q=TTB")).text;
    expect(rowsOf(p).map((r) => [r.title, r.badge])).toEqual([
      ["Embedded ttbar skim", "Complete with failures"],
    ]);
    expect(countsOf(p).Failed!.n).toBe(1);
    expect(countsOf((await get(app, "/dashboard")).text).Active!.n).toBe(1);
  });
});
