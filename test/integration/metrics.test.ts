// GET /metrics (contract A.15, §2.8): scraped from a running App on a real Postgres, parsed with a strict
// text-format parser, and compared with the database.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileReport, reportFile, submit, submitFileList } from "../helpers/factories.js";
import { httpCall } from "../helpers/http.js";
import { type Family, parsePrometheusText, sampleValue, samplesOf } from "../helpers/promParse.js";
import { createTestDatabase } from "../helpers/pg.js";
import { type TestApp, eventually, startTestApp } from "../helpers/testApp.js";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ backend: "postgres", broker: "memory", env: { INSTANCE_NAME: "metrics-test" } });
});
afterAll(async () => {
  await app?.close();
});

const q = <T = Record<string, unknown>>(text: string, params?: unknown[]) =>
  app.deps.db.sql.query<T>(text, params);

async function scrape(
  base = app.url,
): Promise<{ status: number; type: string | null; families: Map<string, Family> }> {
  const res = await httpCall(`${base}/metrics`, "GET");
  const text = res.text;
  return {
    status: res.status,
    type: res.headers.get("content-type"),
    families: res.status === 200 ? parsePrometheusText(text) : new Map(),
  };
}

/** A file-list request of `n` files; `outcomes` are reported for its first files. */
async function withReports(n: number, outcomes: Array<"success" | "failure">): Promise<string> {
  const { requestId: id, fileIds, paths } = await submitFileList(app, n);
  // The dispatcher publishes in the background; reports that finish the request before its tasks are
  // published would leave tasks unpublished (correctly) and the broker counters short. Wait for every task.
  const last = fileIds.at(-1)!;
  await eventually(
    async () =>
      (
        await q<{ t: number }>("SELECT tasks_published_through AS t FROM requests WHERE request_id = $1", [
          id,
        ])
      )[0]!.t >= last,
    30_000,
    `every task of ${id} published`,
  );
  // Concurrent reports, so the file-complete group commit sees batches.
  const answers = await Promise.all(
    outcomes.map((o, i) => reportFile(app, id, fileIds[i]!, o, fileReport(id, fileIds[i]!, o, paths[i]))),
  );
  for (const a of answers) expect(a.status).toBe(200);
  return id;
}

describe("GET /metrics", () => {
  let ids: string[] = [];
  let families: Map<string, Family>;

  beforeAll(async () => {
    ids = [
      await withReports(3, ["success", "success", "success"]), // complete
      await withReports(4, ["success", "failure"]), // running
      await withReports(2, []), // running, nothing reported
    ];
    // A DID request: its lookup is published (no DID finder runs here), the dataset stays `looking`.
    ids.push(await submit(app, { did: `${app.scheme}://mc:ds.${randomBytes(3).toString("hex")}` }));
    // Status polls: the fast path (GET …/<id>) and an Express route with the id in its path.
    for (const id of ids) {
      expect((await httpCall(`${app.url}/servicex/transformation/${id}`, "GET")).status).toBe(200);
      expect((await httpCall(`${app.url}/servicex/transformation/${id}/status`, "GET")).status).toBe(200);
    }
    expect((await httpCall(`${app.url}/no/such/page/${randomBytes(4).toString("hex")}`, "GET")).status).toBe(
      404,
    );
    // An unknown id on a routed path: a 404 answered by the error handler, still labelled by its route.
    const unknown = `${app.url}/servicex/transformation/00000000-0000-4000-8000-${randomBytes(6).toString("hex")}/status`;
    expect((await httpCall(unknown, "GET")).status).toBe(404);

    const tag = randomBytes(4).toString("hex");
    for (const who of ["a", "b", "c"]) {
      await app.deps.users.provision({
        sub: `sub-${who}-${tag}`,
        email: `${who}-${tag}@example.org`,
        name: who,
        institution: null,
      });
    }
    await app.deps.users.accept(`a-${tag}@example.org`);

    await app.deps.dispatcher.idle();
    await app.deps.fileComplete.idle();
    const s = await scrape();
    expect(s.status).toBe(200);
    expect(s.type).toMatch(/^text\/plain; version=0\.0\.4/);
    families = s.families;
  });

  it("When scraped, then requests by status equal the database's, every status present", async () => {
    const rows = await q<{ status: string; n: number }>(
      "SELECT status::text AS status, count(*)::int AS n FROM requests GROUP BY status",
    );
    expect(rows.find((r) => r.status === "complete")?.n).toBe(1);
    for (const r of rows) {
      expect(sampleValue(families, "servicex_transform_requests", { status: r.status })).toBe(r.n);
    }
    const statuses = samplesOf(families, "servicex_transform_requests").map((s) => s.labels.status);
    expect(statuses.sort()).toEqual(
      [
        "submitted",
        "pending_lookup",
        "lookup",
        "running",
        "complete",
        "fatal",
        "canceled",
        "bad_dataset",
      ].sort(),
    );
    const total = samplesOf(families, "servicex_transform_requests").reduce((a, s) => a + s.value, 0);
    expect(total).toBe((await q<{ n: number }>("SELECT count(*)::int AS n FROM requests"))[0]!.n);
  });

  it("When scraped, then files completed and failed are the sums of the requests' counters", async () => {
    const [sums] = await q<{ completed: number; failed: number }>(
      "SELECT sum(files_completed)::int AS completed, sum(files_failed)::int AS failed FROM requests",
    );
    expect(sums).toEqual({ completed: 4, failed: 1 });
    expect(sampleValue(families, "servicex_transform_files", { outcome: "completed" })).toBe(sums!.completed);
    expect(sampleValue(families, "servicex_transform_files", { outcome: "failed" })).toBe(sums!.failed);
  });

  it("When scraped, then datasets by lookup status and users pending/approved equal the database's", async () => {
    const datasets = await q<{ lookup_status: string; n: number }>(
      "SELECT lookup_status, count(*)::int AS n FROM datasets WHERE NOT stale GROUP BY lookup_status",
    );
    expect(datasets.find((d) => d.lookup_status === "complete")?.n).toBe(3);
    for (const d of datasets) {
      expect(sampleValue(families, "servicex_datasets", { lookup_status: d.lookup_status })).toBe(d.n);
    }
    expect(sampleValue(families, "servicex_datasets", { lookup_status: "bad_name" })).toBe(0);

    const [users] = await q<{ pending: number; approved: number }>(
      "SELECT count(*) FILTER (WHERE pending)::int AS pending, count(*) FILTER (WHERE NOT pending)::int AS approved FROM users",
    );
    expect(users).toEqual({ pending: 2, approved: 1 });
    expect(sampleValue(families, "servicex_users", { state: "pending" })).toBe(users!.pending);
    expect(sampleValue(families, "servicex_users", { state: "approved" })).toBe(users!.approved);
  });

  it("When scraped, then HTTP series carry route templates, never raw ids, fast path included", () => {
    const durations = samplesOf(families, "servicex_app_http_request_duration_seconds_count");
    const rules = new Set(durations.map((s) => s.labels.url_rule));
    for (const id of ids) {
      for (const rule of rules) expect(rule).not.toContain(id);
    }
    const count = (method: string, url_rule: string) =>
      durations
        .filter((s) => s.labels.method === method && s.labels.url_rule === url_rule)
        .reduce((a, s) => a + s.value, 0);
    // Answered by the fast path (fastPath.ts) for both.
    expect(count("GET", "/servicex/transformation/:request_id")).toBe(ids.length);
    expect(count("PUT", "/servicex/internal/transformation/:request_id/file-complete")).toBe(5);
    // Answered by Express routes.
    expect(count("GET", "/servicex/transformation/:request_id/status")).toBe(ids.length + 1);
    expect(count("POST", "/servicex/transformation")).toBe(4);
    expect(count("GET", "unmatched")).toBeGreaterThanOrEqual(1);
    expect(
      sampleValue(families, "servicex_app_http_request_duration_seconds_count", {
        method: "GET",
        status: "404",
        url_rule: "/servicex/transformation/:request_id/status",
      }),
    ).toBe(1);

    expect(sampleValue(families, "servicex_app_http_request_total", { method: "PUT", status: "200" })).toBe(
      5,
    );
    expect(
      sampleValue(families, "servicex_app_http_request_total", { method: "GET", status: "404" }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      samplesOf(families, "servicex_app_http_request_total").every((s) => !("url_rule" in s.labels)),
    ).toBe(true);
  });

  it("When scraped, then app info, broker and file-complete batch series are there and moved", () => {
    expect(
      sampleValue(families, "servicex_app_info", {
        version: app.deps.config.appVersion,
        instance: "metrics-test",
      }),
    ).toBe(1);
    // 3 + 4 + 2 transform tasks of the file-list requests, confirmed by the (in-process) broker.
    expect(sampleValue(families, "servicex_broker_published_total", { kind: "transform" })).toBe(9);
    expect(sampleValue(families, "servicex_broker_confirmed_total", { kind: "transform" })).toBe(9);
    expect(sampleValue(families, "servicex_broker_published_total", { kind: "lookup" })).toBe(1);
    expect(sampleValue(families, "servicex_broker_confirmed_total", { kind: "lookup" })).toBe(1);
    expect(sampleValue(families, "servicex_broker_publish_errors_total", { kind: "transform" })).toBe(0);
    // Every report went through exactly one committed batch.
    expect(sampleValue(families, "servicex_file_complete_batch_size_sum")).toBe(5);
    expect(sampleValue(families, "servicex_file_complete_batch_size_count")).toBeGreaterThanOrEqual(1);
    expect(families.get("servicex_reconciler_actions_total")?.type).toBe("counter");
    expect(sampleValue(families, "servicex_metrics_scrape_errors_total")).toBe(0);
  });

  it("When scraped twice, then the second scrape counts the first one", async () => {
    const before = sampleValue(families, "servicex_app_http_request_total", {
      method: "GET",
      status: "200",
    })!;
    const again = await scrape();
    const after = sampleValue(again.families, "servicex_app_http_request_total", {
      method: "GET",
      status: "200",
    })!;
    expect(after).toBeGreaterThan(before);
    const metricsRule = samplesOf(again.families, "servicex_app_http_request_duration_seconds_count", {
      url_rule: "/metrics",
    });
    expect(metricsRule.length).toBe(1);
  });
});

describe("ENABLE_METRICS=false", () => {
  it("When metrics are disabled, then /metrics is 404 and nothing is measured", async () => {
    const off = await startTestApp({
      backend: "postgres",
      broker: "memory",
      env: { ENABLE_METRICS: "false" },
    });
    try {
      expect(off.deps.metrics).toBeNull();
      const res = await httpCall(`${off.url}/metrics`, "GET");
      expect(res.status).toBe(404);
      expect(res.json).toHaveProperty("message");
    } finally {
      await off.close();
    }
  });
});

describe("GET /metrics while the database is unreachable", () => {
  it("When the database is gone, then the scrape answers 200, the gauges keep their values and the error is counted", async () => {
    const db = await createTestDatabase();
    const other = await startTestApp({ backend: "postgres", broker: "memory", databaseUrl: db.url });
    try {
      await other.deps.users.provision({
        sub: "gone-1",
        email: "gone-1@example.org",
        name: "g",
        institution: null,
      });
      const first = await scrape(other.url);
      expect(sampleValue(first.families, "servicex_users", { state: "pending" })).toBe(1);
      expect(sampleValue(first.families, "servicex_metrics_scrape_errors_total")).toBe(0);

      await db.drop(); // terminates the App's connections (WITH (FORCE)) and removes the database

      const second = await scrape(other.url);
      expect(second.status).toBe(200);
      expect(sampleValue(second.families, "servicex_metrics_scrape_errors_total")).toBe(1);
      expect(sampleValue(second.families, "servicex_users", { state: "pending" })).toBe(1);
      expect(sampleValue(second.families, "servicex_app_info", { instance: "servicex" })).toBe(1);
    } finally {
      await other.close().catch(() => {});
      await db.drop().catch(() => {});
    }
  });
});
