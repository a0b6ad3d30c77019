import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Options } from "amqplib";
import { describe, expect, it } from "vitest";
import {
  buildLookupMessage,
  buildTaskMessage,
  buildTransformMessage,
  defaultOrigin,
  lookupQueueName,
  pyNumber,
  saferepr,
  transformQueueName,
} from "../../src/adapters/broker/celery.js";

// The golden capture: one lookup and one transform message as upstream's router + Celery 5.6 put them on RabbitMQ.
const golden = JSON.parse(
  readFileSync(new URL("../fixtures/golden-celery-messages.json", import.meta.url), "utf8"),
) as Record<string, GoldenMessage>;

interface GoldenMessage {
  exchange: string;
  routing_key: string;
  properties: Record<string, unknown> & { application_headers: Record<string, unknown> };
  body: unknown;
}

const LOOKUP_KEY = "did_finder_harnesscapture";
const TRANSFORM_KEY = "transformer-capture-7cfcc66b-4119-44aa-9c31-66e428a95999";
const REQUEST_ID = "capture-7cfcc66b-4119-44aa-9c31-66e428a95999";
const ENDPOINT = "http://127.0.0.1:5000/servicex/internal/transformation/";

const lookupTask = {
  scheme: "harnesscapture",
  did: "mc16_13TeV:some.dataset?files=3",
  datasetId: 42,
  endpoint: ENDPOINT,
};
const transformTask = {
  request_id: REQUEST_ID,
  file_id: 7,
  paths: ["root://a//f1.root", "root://b//f1.root"],
  service_endpoint: ENDPOINT + REQUEST_ID,
  result_destination: "object-store",
  result_format: "parquet",
};

/** Our {content, options} in the golden file's shape (pika/kombu property names). */
function asGolden(msg: { content: Buffer; options: Options.Publish }) {
  const o = msg.options;
  const properties: Record<string, unknown> = {
    content_type: o.contentType,
    content_encoding: o.contentEncoding,
    application_headers: o.headers,
    delivery_mode: o.deliveryMode,
    priority: o.priority,
    correlation_id: o.correlationId,
  };
  if (o.replyTo !== undefined) properties.reply_to = o.replyTo;
  return { properties, body: JSON.parse(msg.content.toString("utf8")) as unknown };
}

/** Blanks the per-message fields: task id (id, root_id, correlation_id), origin, reply_to. */
function normalise(p: Record<string, unknown> & { application_headers: Record<string, unknown> }) {
  const headers = { ...p.application_headers, id: "<id>", root_id: "<id>", origin: "<origin>" };
  const { reply_to: _replyTo, ...rest } = p;
  return { ...rest, application_headers: headers, correlation_id: "<id>" };
}

describe("Celery protocol v2 messages against the golden capture", () => {
  for (const [key, build] of [
    [LOOKUP_KEY, (opts: { origin: string; id?: string }) => buildLookupMessage(lookupTask, opts)],
    [TRANSFORM_KEY, (opts: { origin: string; id?: string }) => buildTransformMessage(transformTask, opts)],
  ] as const) {
    it(`${key.split("-")[0]}: properties, headers (keys, order, values) and body equal the golden message`, () => {
      const g = golden[key]!;
      const ours = asGolden(build({ origin: defaultOrigin() }));
      // Header keys in the golden order, and nothing else.
      expect(Object.keys(ours.properties.application_headers as object)).toEqual(
        Object.keys(g.properties.application_headers),
      );
      expect(normalise(ours.properties as GoldenMessage["properties"])).toEqual(normalise(g.properties));
      expect(ours.body).toEqual(g.body);
      // Per-message fields have the right shape.
      const h = ours.properties.application_headers as Record<string, unknown>;
      expect(h.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(h.root_id).toBe(h.id);
      expect(ours.properties.correlation_id).toBe(h.id);
      expect(h.origin).toMatch(/^gen\d+@.+$/);
      expect(ours.properties).not.toHaveProperty("reply_to");
    });

    it(`${key.split("-")[0]}: with the golden id and origin, everything but reply_to is identical`, () => {
      const g = golden[key]!;
      const h = g.properties.application_headers;
      const ours = asGolden(build({ origin: h.origin as string, id: h.id as string }));
      const { reply_to: _r, ...expected } = g.properties;
      expect(ours.properties).toEqual(expected);
      expect(ours.body).toEqual(g.body);
    });
  }

  it("routes like upstream: queue names and the default exchange", () => {
    expect(lookupQueueName("harnesscapture")).toBe(golden[LOOKUP_KEY]!.routing_key);
    expect(transformQueueName(REQUEST_ID)).toBe(golden[TRANSFORM_KEY]!.routing_key);
    expect(golden[LOOKUP_KEY]!.exchange).toBe("");
    expect(golden[TRANSFORM_KEY]!.exchange).toBe("");
  });

  it("argsrepr/kwargsrepr are Celery's exact strings", () => {
    const t = buildTransformMessage(transformTask, { origin: "x" }).options.headers;
    expect(t.argsrepr).toBe("()");
    expect(t.kwargsrepr).toBe(golden[TRANSFORM_KEY]!.properties.application_headers.kwargsrepr);
    const l = buildLookupMessage(lookupTask, { origin: "x" }).options.headers;
    expect(l.argsrepr).toBe(golden[LOOKUP_KEY]!.properties.application_headers.argsrepr);
    expect(l.kwargsrepr).toBe("{}");
  });

  it("the body is compact JSON of [args, kwargs, embed] and content is utf-8", () => {
    const m = buildTaskMessage("t.x", ["é", 1], { k: [true, null] }, { origin: "o", id: "i" });
    expect(m.content.toString("utf8")).toBe(
      '[["é",1],{"k":[true,null]},{"callbacks":null,"errbacks":null,"chain":null,"chord":null}]',
    );
    expect(m.options.headers.argsrepr).toBe("['é', 1]");
    expect(m.options.headers.kwargsrepr).toBe("{'k': [True, None]}");
    expect(m.options.mandatory).toBeUndefined();
    expect(buildTaskMessage("t.x", [], {}, { origin: "o", mandatory: true }).options.mandatory).toBe(true);
  });

  it("kwargs are in upstream's order whatever the order of the task object", () => {
    const shuffled = {
      result_format: "root-file",
      paths: ["p"],
      file_id: 1,
      service_endpoint: "s",
      request_id: "r",
      result_destination: "volume",
      extra: "dropped",
    };
    const m = buildTransformMessage(shuffled, { origin: "o" });
    const body = JSON.parse(m.content.toString("utf8")) as [unknown, Record<string, unknown>];
    expect(Object.keys(body[1])).toEqual([
      "request_id",
      "file_id",
      "paths",
      "service_endpoint",
      "result_destination",
      "result_format",
    ]);
    expect(m.options.headers.kwargsrepr).toBe(
      "{'request_id': 'r', 'file_id': 1, 'paths': ['p'], 'service_endpoint': 's', 'result_destination': 'volume', 'result_format': 'root-file'}",
    );
  });

  it("ids are fresh per message", () => {
    const a = buildTransformMessage(transformTask, { origin: "o" });
    const b = buildTransformMessage(transformTask, { origin: "o" });
    expect(a.options.correlationId).not.toBe(b.options.correlationId);
  });

  it("builds 100,000 transform messages quickly", () => {
    const origin = defaultOrigin();
    const t0 = performance.now();
    let bytes = 0;
    for (let i = 0; i < 100_000; i++) {
      bytes += buildTransformMessage({ ...transformTask, file_id: i }, { origin }).content.length;
    }
    const ms = performance.now() - t0;
    console.log(`built 100,000 transform messages in ${ms.toFixed(0)} ms (${bytes} body bytes)`);
    expect(ms).toBeLessThan(3000);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// saferepr: expected values produced by Celery's own celery.utils.saferepr.saferepr (Celery 5.2.6, the same
// algorithm as 5.6), for inputs built identically here and in Python. Long outputs are given as sha256 + length.
// The values are in test/fixtures/golden-celery-saferepr.json.
const { recipes: RECIPES, random: RANDOM } = JSON.parse(
  readFileSync(new URL("../fixtures/golden-celery-saferepr.json", import.meta.url), "utf8"),
) as { recipes: unknown; random: unknown };

type Expected = string | { sha256: string; len: number; tail?: string };

function expectRepr(got: string, expected: Expected, label: string) {
  if (typeof expected === "string") {
    expect(got, label).toBe(expected);
    return;
  }
  if (expected.tail !== undefined)
    expect(got.endsWith(expected.tail), `${label}: ends with ${expected.tail}`).toBe(true);
  expect([...got].length, `${label}: length`).toBe(expected.len);
  expect(createHash("sha256").update(got, "utf8").digest("hex"), `${label}: ${got}`).toBe(expected.sha256);
}

const RID = "7cfcc66b-4119-44aa-9c31-66e428a95999";
const kw = (paths: string[]) => ({
  request_id: RID,
  file_id: 7,
  paths,
  service_endpoint: "http://127.0.0.1:5000/servicex/internal/transformation/" + RID,
  result_destination: "object-store",
  result_format: "parquet",
});

describe("saferepr matches Celery", () => {
  it("simple values, quoting and Python spellings", () => {
    expect(saferepr({ a: "it's", b: 'say "hi"', c: "back\\slash\nnewline\ttab", d: "héllo 世界 😀" })).toBe(
      `{'a': 'it\\'s', 'b': 'say "hi"', 'c': 'back\\slash\nnewline\ttab', 'd': 'héllo 世界 😀'}`,
    );
    expect(saferepr({ t: true, f: false, n: null, i: -12, x: 1.5, y: 1e-7, w: 123456789.125 })).toBe(
      "{'t': True, 'f': False, 'n': None, 'i': -12, 'x': 1.5, 'y': 1e-07, 'w': 123456789.125}",
    );
    expect(saferepr([[[[1, 2]], { a: [1] }], { k: { k2: { k3: { k4: 1 } } } }])).toBe(
      "[[[[...]], {'a': [...]}], {'k': {'k2': {...}}}]",
    );
    expect(saferepr([[], {}, [[]], "x"])).toBe("[[], {}, [[]], 'x']");
    expect(saferepr({})).toBe("{}");
    expect(saferepr({ skipped: undefined, kept: 1 })).toBe("{'kept': 1}");
  });

  it("Python float spellings", () => {
    expect(pyNumber(0.1)).toBe("0.1");
    expect(pyNumber(1e-5)).toBe("1e-05");
    expect(pyNumber(-0.0001)).toBe("-0.0001");
    expect(pyNumber(1.5e-12)).toBe("1.5e-12");
    expect(pyNumber(2.5e-300)).toBe("2.5e-300");
    expect(pyNumber(123.25)).toBe("123.25");
    expect(pyNumber(-2.5e-20)).toBe("-2.5e-20");
    expect(pyNumber(1234567890123456.8)).toBe("1234567890123456.8");
    // JSON numbers without a fraction are Python ints (JS cannot tell 42 from 42.0).
    expect(pyNumber(42)).toBe("42");
    expect(pyNumber(1e21)).toBe("1000000000000000000000");
  });

  const recipes = RECIPES as {
    paths: Record<string, Expected>;
    long: Record<string, Expected[]>;
    small: Record<string, string[]>;
  };

  it("long kwargs are cut at 1,024 characters exactly like Celery (many paths)", () => {
    for (const [n, expected] of Object.entries(recipes.paths)) {
      const paths = Array.from(
        { length: Number(n) },
        (_, i) =>
          `root://eosatlas.cern.ch//eos/atlas/atlasdatadisk/rucio/mc16_13TeV/DAOD_PHYS.${String(i).padStart(8, "0")}.pool.root.1`,
      );
      expectRepr(saferepr(kw(paths)), expected, `${n} paths`);
      // What the message carries is the same string.
      expectRepr(
        buildTaskMessage("t", [], kw(paths), { origin: "o" }).options.headers.kwargsrepr,
        expected,
        `msg ${n}`,
      );
    }
  });

  it("truncation boundaries around 1,024 characters", () => {
    for (const [L, expected] of Object.entries(recipes.long)) {
      const n = Number(L);
      const values = [
        kw(["x".repeat(n)]),
        kw(["word ".repeat(Math.floor(n / 5))]),
        ["a".repeat(n)],
        ["a".repeat(n - 300), "b".repeat(300), 5, [1, 2, 3]],
      ];
      values.forEach((v, i) => {
        expectRepr(saferepr(v), expected[i]!, `L=${L} #${i}`);
      });
    }
  });

  it("small limits, including Celery's quirks (lost separators and brackets)", () => {
    for (const [m, expected] of Object.entries(recipes.small)) {
      const maxlen = Number(m);
      expect(
        saferepr(
          {
            request_id: RID,
            paths: ["p one", "p two"],
            n: 12345,
            l: [
              [1, 2],
              [3, 4],
            ],
          },
          maxlen,
        ),
        `maxlen ${m} #0`,
      ).toBe(expected[0]);
      expect(saferepr(["abc def ghi jkl", [1, [2, [3, [4]]]], { q: "it's" }], maxlen), `maxlen ${m} #1`).toBe(
        expected[1],
      );
    }
  });

  it("200 pseudo-random nested values (same generator in Python)", () => {
    let state = 20261123;
    const rnd = (n: number) => {
      state = (Math.imul(state, 1103515245) + 12345) & 0x7fffffff;
      return state % n;
    };
    const ALPHA = ["a", "b", " ", "c", "'", "d", '"', "e", "\\", "f", "é", "😀", "\n"];
    // biome-ignore lint/suspicious/noApproximativeNumericConstant: must equal the Python generator's list
    const FLOATS = [0.1, 2.5, 1e-5, 3.14159, -0.0001, 1.5e-12, 123.25, 2.5e-300];
    const rv = (d: number): unknown => {
      const r = rnd(100);
      if (d < 4 && r < 25) {
        const n = rnd(7);
        const out: unknown[] = [];
        for (let i = 0; i < n; i++) out.push(rv(d + 1));
        return out;
      }
      if (d < 4 && r < 45) {
        const n = rnd(7);
        const out: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          const k = `k${rnd(100)}` + ["", "'", " s"][rnd(3)];
          out[k] = rv(d + 1);
        }
        return out;
      }
      if (r < 75) {
        const n = rnd([5, 50, 400][rnd(3)]! + 1);
        let s = "";
        for (let i = 0; i < n; i++) s += ALPHA[rnd(ALPHA.length)];
        return s;
      }
      if (r < 85) return rnd(2000001) - 1000000;
      if (r < 90) return [true, false, null][rnd(3)];
      return FLOATS[rnd(8)];
    };
    const cases = RANDOM as [number, Expected][];
    expect(cases).toHaveLength(200);
    cases.forEach(([maxlen, expected], i) => {
      const ml = [1024, 1024, 200, 60][rnd(4)]!;
      expect(ml).toBe(maxlen);
      expectRepr(saferepr(rv(0), maxlen), expected, `random #${i}`);
    });
  });
});
