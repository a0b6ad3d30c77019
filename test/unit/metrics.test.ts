// The Metrics registry on its own: valid text format, the series of contract §2.8, the broker observer
// and the scrape-error path, without a database.
import { EventEmitter } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import { describe, expect, it } from "vitest";
import { MemoryBroker } from "../../src/adapters/broker/memory.broker.js";
import { Metrics, type MetricsSource } from "../../src/observability/metrics.js";
import { observeBroker } from "../../src/observability/observedBroker.js";
import { parsePrometheusText, sampleValue } from "../helpers/promParse.js";

const source = (over: Partial<MetricsSource> = {}): MetricsSource => ({
  requests: async () => ({ byStatus: { running: 2, complete: 3 }, filesCompleted: 40, filesFailed: 2 }),
  datasets: async () => ({ complete: 4, looking: 1 }),
  users: async () => ({ pending: 1, approved: 5 }),
  ...over,
});

function fakeExchange(method: string, status: number): { req: IncomingMessage; res: ServerResponse } {
  const res = Object.assign(new EventEmitter(), { statusCode: status }) as unknown as ServerResponse;
  return { req: { method } as IncomingMessage, res };
}

describe("Metrics", () => {
  it("When scraped, then every line is valid text format and every family has HELP and TYPE", async () => {
    const m = new Metrics({ version: "1.2.3", instance: "test", source: source() });
    const { req, res } = fakeExchange("GET", 200);
    m.track(req, res, () => "/servicex/transformation/:request_id");
    res.emit("finish");
    m.observeFileCompleteBatch(7);
    m.reconcilerAction("republish");
    const { body, contentType } = await m.render();

    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parsePrometheusText(body);
    for (const f of families.values()) {
      expect(f.help, f.name).toBeTruthy();
      expect(f.type, f.name).not.toBe("untyped");
    }
    // Every non-comment line is a sample of a declared family.
    for (const line of body.split("\n").filter((l) => l && !l.startsWith("#"))) {
      expect(line).toMatch(/^servicex_\w+(\{[^}]*\})? \S+$/);
    }
    expect(families.get("servicex_app_http_request_duration_seconds")?.type).toBe("histogram");
    expect(families.get("servicex_transform_requests")?.type).toBe("gauge");
    expect(families.get("servicex_app_http_request_total")?.type).toBe("counter");
    expect(sampleValue(families, "servicex_app_info", { version: "1.2.3", instance: "test" })).toBe(1);
    expect(
      sampleValue(families, "servicex_app_http_request_duration_seconds_count", {
        method: "GET",
        status: "200",
        url_rule: "/servicex/transformation/:request_id",
      }),
    ).toBe(1);
    expect(sampleValue(families, "servicex_app_http_request_total", { method: "GET", status: "200" })).toBe(
      1,
    );
    expect(sampleValue(families, "servicex_transform_requests", { status: "running" })).toBe(2);
    expect(sampleValue(families, "servicex_transform_requests", { status: "fatal" })).toBe(0);
    expect(sampleValue(families, "servicex_transform_files", { outcome: "completed" })).toBe(40);
    expect(sampleValue(families, "servicex_transform_files", { outcome: "failed" })).toBe(2);
    expect(sampleValue(families, "servicex_datasets", { lookup_status: "complete" })).toBe(4);
    expect(sampleValue(families, "servicex_datasets", { lookup_status: "bad_name" })).toBe(0);
    expect(sampleValue(families, "servicex_users", { state: "approved" })).toBe(5);
    expect(sampleValue(families, "servicex_file_complete_batch_size_sum")).toBe(7);
    expect(sampleValue(families, "servicex_reconciler_actions_total", { action: "republish" })).toBe(1);
    expect(sampleValue(families, "servicex_metrics_scrape_errors_total")).toBe(0);
  });

  it("When the database fails during a scrape, then the gauges keep their last values and the error is counted in that scrape", async () => {
    let fail = false;
    const m = new Metrics({
      version: "v",
      instance: "i",
      source: source({
        users: async () => {
          if (fail) throw new Error("connection refused");
          return { pending: 1, approved: 5 };
        },
      }),
    });
    await m.render();
    fail = true;
    const families = parsePrometheusText((await m.render()).body);
    expect(sampleValue(families, "servicex_metrics_scrape_errors_total")).toBe(1);
    expect(sampleValue(families, "servicex_users", { state: "approved" })).toBe(5);
    expect(sampleValue(families, "servicex_transform_requests", { status: "running" })).toBe(2);
  });

  it("When the database never answers, then the scrape gives up after dbTimeoutMs", async () => {
    const m = new Metrics({
      version: "v",
      instance: "i",
      dbTimeoutMs: 50,
      source: source({ requests: () => new Promise(() => {}) }),
    });
    const families = parsePrometheusText((await m.render()).body);
    expect(sampleValue(families, "servicex_metrics_scrape_errors_total")).toBe(1);
    // Never read successfully: the database series are omitted rather than invented.
    expect(sampleValue(families, "servicex_users", { state: "pending" })).toBeUndefined();
  });

  it("When tasks and lookups go through the observed broker, then published and confirmed count messages", async () => {
    const m = new Metrics({ version: "v", instance: "i" });
    const inner = new MemoryBroker();
    const broker = observeBroker(inner, m.brokerObserver());
    const task = (i: number) => ({
      request_id: "r",
      file_id: i,
      paths: [`root://x//f${i}`],
      service_endpoint: "http://h/",
      result_destination: "object-store",
      result_format: "parquet",
    });
    await broker.publishTransformTasks("r", [task(1), task(2), task(3)]);
    await broker.publishLookup({ scheme: "rucio", did: "a:b", datasetId: 1, endpoint: "http://h/" });
    // Adapter-specific members still reach the adapter.
    expect(await broker.queueDepth("transformer-r")).toBe(3);
    await inner.close();
    await expect(
      broker.publishLookup({ scheme: "rucio", did: "a:b", datasetId: 1, endpoint: "e" }),
    ).rejects.toThrow();
    await new Promise((r) => setImmediate(r));

    const families = parsePrometheusText((await m.render()).body);
    expect(sampleValue(families, "servicex_broker_published_total", { kind: "transform" })).toBe(3);
    expect(sampleValue(families, "servicex_broker_confirmed_total", { kind: "transform" })).toBe(3);
    expect(sampleValue(families, "servicex_broker_published_total", { kind: "lookup" })).toBe(2);
    expect(sampleValue(families, "servicex_broker_confirmed_total", { kind: "lookup" })).toBe(1);
    expect(sampleValue(families, "servicex_broker_publish_errors_total", { kind: "lookup" })).toBe(1);
  });

  it("When two Apps run in one process, then their registries are separate", async () => {
    const a = new Metrics({ version: "a", instance: "a" });
    const b = new Metrics({ version: "b", instance: "b" });
    a.reconcilerAction("fail");
    const fb = parsePrometheusText((await b.render()).body);
    expect(sampleValue(fb, "servicex_reconciler_actions_total", { action: "fail" })).toBeUndefined();
    expect(sampleValue(fb, "servicex_app_info", { version: "a" })).toBeUndefined();
  });
});

describe("parsePrometheusText (test helper)", () => {
  it.each([
    ["a TYPE line after its samples", "x 1\n# TYPE x gauge\n"],
    ["a bad escape", '# TYPE x gauge\nx{a="\\q"} 1\n'],
    ["an unquoted label value", "# TYPE x gauge\nx{a=b} 1\n"],
    ["a duplicate series", '# TYPE x gauge\nx{a="1"} 1\nx{a="1"} 2\n'],
    ["a split family", "# TYPE x gauge\nx 1\n# TYPE y gauge\ny 1\nx 2\n"],
    ["a bad value", "# TYPE x gauge\nx one\n"],
    [
      "non-cumulative buckets",
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    ],
  ])("When given %s, then it throws", (_what, text) => {
    expect(() => parsePrometheusText(text)).toThrow();
  });
});
