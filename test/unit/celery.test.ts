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

// Generated with Celery 5.2.6 (python3-celery) — see the comments above.
const RECIPES: unknown = {
  paths: {
    "8": {
      sha256: "eab6fb2253df851543fa4645ff281f82869461f2fe643a1e3a031f537570632c",
      len: 1035,
      tail: "9c31-66e428a95999', 'result_destination': 'object-...', ...}",
    },
    "9": {
      sha256: "0f05cfe35c8624f8ee7e8be2370c0fab8c6b5493d96723a7b856594837674f67",
      len: 1035,
      tail: "1'], 'service_endpoint': 'http://127.0.0.1:5000/se...', ...}",
    },
    "10": {
      sha256: "fae59efb2c7b6dec9f517c7852a059c4467be0724ee0d4a09b8672923db554a2",
      len: 1035,
      tail: "1', 'root://eosatlas.cern.ch//eos/atlas/atlasdatad...', ...}",
    },
    "30": {
      sha256: "7b4065da4ff076fe51eb78127cd4b957ae5af6aab5cde0e21318765ad47ebd56",
      len: 1036,
      tail: "', 'root://eosatlas.cern.ch//eos/atlas/atlasdatad...', ...]}",
    },
    "100": {
      sha256: "7b4065da4ff076fe51eb78127cd4b957ae5af6aab5cde0e21318765ad47ebd56",
      len: 1036,
      tail: "', 'root://eosatlas.cern.ch//eos/atlas/atlasdatad...', ...]}",
    },
  },
  long: {
    "1000": [
      {
        sha256: "fe6502472e6ca826ddf6df3df3a3dba9a004a740242d062730417606cabf1384",
        len: 1035,
        tail: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...', ...}",
      },
      {
        sha256: "64da3b4cc942037727d7e737e84857daf18067a9e4d229a53913355f5c197c5a",
        len: 1034,
        tail: " word word word word word word word word word word...', ...}",
      },
      {
        sha256: "9a87e2bf8d2d4ead851766d027bec4e4bed2171c88e531ae4ad2acf2de968459",
        len: 1004,
        tail: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa']",
      },
      {
        sha256: "67301f30031d186752ec8a6f427a45ea28ceb2f6c673d29d06f893068ebb08d3",
        len: 1022,
        tail: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 5, [1, 2, 3]]",
      },
    ],
    "1017": [
      {
        sha256: "fe6502472e6ca826ddf6df3df3a3dba9a004a740242d062730417606cabf1384",
        len: 1035,
        tail: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...', ...}",
      },
      {
        sha256: "64da3b4cc942037727d7e737e84857daf18067a9e4d229a53913355f5c197c5a",
        len: 1034,
        tail: " word word word word word word word word word word...', ...}",
      },
      {
        sha256: "1ca5e8bd6311b9be64f470212adba8d8cbcbadf0fa2e9443bc48c2b506a5b185",
        len: 1021,
        tail: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa']",
      },
      {
        sha256: "214a2f434bb7b99637673ee2f0502281ea50f5c0e495fad637c338161d7b079d",
        len: 1030,
        tail: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', ...]",
      },
    ],
    "1018": [
      {
        sha256: "fe6502472e6ca826ddf6df3df3a3dba9a004a740242d062730417606cabf1384",
        len: 1035,
        tail: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...', ...}",
      },
      {
        sha256: "64da3b4cc942037727d7e737e84857daf18067a9e4d229a53913355f5c197c5a",
        len: 1034,
        tail: " word word word word word word word word word word...', ...}",
      },
      {
        sha256: "65ab091c4d22f9a254bb1171900aaeb276c05ff427f82d5fd8a57a2c1755c682",
        len: 1022,
        tail: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa']",
      },
      {
        sha256: "d339c76f990769df391d295e299d7f070ec464cf7ae6f30cf5374d853bea6b6c",
        len: 1031,
        tail: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', ...]",
      },
    ],
    "1019": [
      {
        sha256: "fe6502472e6ca826ddf6df3df3a3dba9a004a740242d062730417606cabf1384",
        len: 1035,
        tail: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...', ...}",
      },
      {
        sha256: "64da3b4cc942037727d7e737e84857daf18067a9e4d229a53913355f5c197c5a",
        len: 1034,
        tail: " word word word word word word word word word word...', ...}",
      },
      {
        sha256: "479a5f4b6c26fef5b991ded9d6ff834d366413ab994a3c902896e7094b2704a1",
        len: 1023,
        tail: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa']",
      },
      {
        sha256: "b339ecc960ad25be1d3b73cf084026c7fe4b4035581ee66375d43f8af6011c15",
        len: 1035,
        tail: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb...', ...]",
      },
    ],
    "1020": [
      {
        sha256: "fe6502472e6ca826ddf6df3df3a3dba9a004a740242d062730417606cabf1384",
        len: 1035,
        tail: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...', ...}",
      },
      {
        sha256: "64da3b4cc942037727d7e737e84857daf18067a9e4d229a53913355f5c197c5a",
        len: 1034,
        tail: " word word word word word word word word word word...', ...}",
      },
      {
        sha256: "e59e9b4febc6d7bb2787adb43b624b0c1a03ea554842e0d16028fe20574cffe2",
        len: 1024,
        tail: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa']",
      },
      {
        sha256: "a451d1efad3df1ad4de590888905173b5f4043cb7e4642580d186cffcd39eb34",
        len: 1035,
        tail: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb...', ...]",
      },
    ],
    "1021": [
      {
        sha256: "fe6502472e6ca826ddf6df3df3a3dba9a004a740242d062730417606cabf1384",
        len: 1035,
        tail: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...', ...}",
      },
      {
        sha256: "64da3b4cc942037727d7e737e84857daf18067a9e4d229a53913355f5c197c5a",
        len: 1034,
        tail: " word word word word word word word word word word...', ...}",
      },
      {
        sha256: "eb61862aad2d7b0a3fc364b6fdc92a623182c545f23e0939de094eaebff4ec4b",
        len: 1029,
        tail: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', ...",
      },
      {
        sha256: "9309584db780c28f4613abf638853abfd76eae54d1faf1413598568ee8dd53f2",
        len: 1035,
        tail: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb...', ...]",
      },
    ],
    "1022": [
      {
        sha256: "fe6502472e6ca826ddf6df3df3a3dba9a004a740242d062730417606cabf1384",
        len: 1035,
        tail: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...', ...}",
      },
      {
        sha256: "64da3b4cc942037727d7e737e84857daf18067a9e4d229a53913355f5c197c5a",
        len: 1034,
        tail: " word word word word word word word word word word...', ...}",
      },
      {
        sha256: "ad55c1f3b47aff808a4178ff18d404592ebaee0ab1f2ebebcc0d5fd94e5e4f31",
        len: 1030,
        tail: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', ...",
      },
      {
        sha256: "cf60b1e55981460a61e08ec0ee42ea72fec973d5eecbbb7f294fc1227403698c",
        len: 1035,
        tail: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb...', ...]",
      },
    ],
    "1023": [
      {
        sha256: "fe6502472e6ca826ddf6df3df3a3dba9a004a740242d062730417606cabf1384",
        len: 1035,
        tail: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...', ...}",
      },
      {
        sha256: "64da3b4cc942037727d7e737e84857daf18067a9e4d229a53913355f5c197c5a",
        len: 1034,
        tail: " word word word word word word word word word word...', ...}",
      },
      {
        sha256: "7b7843e9b75244aa37f43b7f0a7fcd71aa921c72ae2624bd0ba6230238c50e37",
        len: 1034,
        tail: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...', ...",
      },
      {
        sha256: "bc682d967559a50f13134f165b2ab0911bf10c9811f1bb06ee4912d12666694c",
        len: 1035,
        tail: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb...', ...]",
      },
    ],
    "1024": [
      {
        sha256: "fe6502472e6ca826ddf6df3df3a3dba9a004a740242d062730417606cabf1384",
        len: 1035,
        tail: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...', ...}",
      },
      {
        sha256: "64da3b4cc942037727d7e737e84857daf18067a9e4d229a53913355f5c197c5a",
        len: 1034,
        tail: " word word word word word word word word word word...', ...}",
      },
      {
        sha256: "7b7843e9b75244aa37f43b7f0a7fcd71aa921c72ae2624bd0ba6230238c50e37",
        len: 1034,
        tail: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...', ...",
      },
      {
        sha256: "ae9d3ad8cd5e79017193ae5acf64cceaf0d19c54095ac5aabc7c67bcb5c33940",
        len: 1035,
        tail: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb...', ...]",
      },
    ],
    "1025": [
      {
        sha256: "fe6502472e6ca826ddf6df3df3a3dba9a004a740242d062730417606cabf1384",
        len: 1035,
        tail: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...', ...}",
      },
      {
        sha256: "64da3b4cc942037727d7e737e84857daf18067a9e4d229a53913355f5c197c5a",
        len: 1034,
        tail: " word word word word word word word word word word...', ...}",
      },
      {
        sha256: "7b7843e9b75244aa37f43b7f0a7fcd71aa921c72ae2624bd0ba6230238c50e37",
        len: 1034,
        tail: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...', ...",
      },
      {
        sha256: "f03896b828f2af6d69e341d645936afe7f907cf991430517bf1dd069353ec7bd",
        len: 1035,
        tail: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb...', ...]",
      },
    ],
    "2000": [
      {
        sha256: "fe6502472e6ca826ddf6df3df3a3dba9a004a740242d062730417606cabf1384",
        len: 1035,
        tail: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...', ...}",
      },
      {
        sha256: "64da3b4cc942037727d7e737e84857daf18067a9e4d229a53913355f5c197c5a",
        len: 1034,
        tail: " word word word word word word word word word word...', ...}",
      },
      {
        sha256: "7b7843e9b75244aa37f43b7f0a7fcd71aa921c72ae2624bd0ba6230238c50e37",
        len: 1034,
        tail: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...', ...",
      },
      {
        sha256: "fbd2a0469cf002ee0ab979fea30727f8f4e6ed66b2a0e680636ac92fb433ba42",
        len: 1035,
        tail: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...', ...]",
      },
    ],
  },
  small: {
    "5": ["{'requ...', ...}", "['abc...', ...]"],
    "10": ["{'request_i...', ...}", "['abc def...', ...]"],
    "17": ["{'request_id': '7c...', ...}", "['abc def ghi jkl', ...]"],
    "20": ["{'request_id': '7cfcc...', ...}", "['abc def ghi jkl', , ...]]"],
    "33": ["{'request_id': '7cfcc66b-4119-44aa...', ...}", "['abc def ghi jkl', [1, [2, [...]..., ...]]"],
    "50": [
      "{'request_id': '7cfcc66b-4119-44aa-9c31-66e428a9599...', ...}",
      "['abc def ghi jkl', [1, [2, [...]]], {'q': 'it\\'s', ...]",
    ],
  },
};
const RANDOM: unknown = [
  [1024, { sha256: "c445a83e95deabf9017255e2867fc30a212f5b23e0dc83cbfe848e805d2e4a07", len: 576 }],
  [
    60,
    '\'"ee\u00e9dfcaaacaa\ud83d\ude00\u00e9\n""f\ud83d\ude00c\\b"c\\\'c\u00e9add\\bfb\ne\n"\u00e9e\u00e9bd\\\'bb\ud83d\ude00\\\'\na\ud83d\ude00fa"ac...\'',
  ],
  [
    60,
    "'f\\'\\'\\ea\\b\neb \\f\u00e9\ud83d\ude00ddf\\'f\u00e9fa \ud83d\ude00\\'fff\\'\ud83d\ude00\ud83d\ude00 \ud83d\ude00\ne\"b...'",
  ],
  [60, "[3.14159, 'd\\'d\"']"],
  [
    60,
    "' f\\\\\n \ud83d\ude00a\\b\u00e9cae\u00e9abd\nb\ud83d\ude00ef\ud83d\ude00a \\'ab\\'\n\u00e9\"b b\ud83d\ude00adad\\\u00e9\"b\ud83d\ude00aa\\'\"cc\\...'",
  ],
  [1024, "'f\n'"],
  [60, "'c\"\u00e9fd\nbae\u00e9fbe\ud83d\ude00d\ud83d\ude00ad e\\bcca'"],
  [
    1024,
    "'c\"\\'a\u00e9\n\\'\\' d\u00e9ca \nffff\ud83d\ude00c\n  e\\\n\\'cb\n\ud83d\ude00f\n\ud83d\ude00e \n'",
  ],
  [200, { sha256: "263daf1898d72b981158f896fcda733b2d485620615d180a6a420e42c6ee7097", len: 215 }],
  [60, "-322007"],
  [
    200,
    "'c\ud83d\ude00beea\n\ud83d\ude00e\u00e9\nb  \\d\"\n\\'ce\\\nee\"\ud83d\ude00\\'\\'aa\" \u00e9\\ b\ud83d\ude00ef\nd \\'a'",
  ],
  [60, "{'k46\\'': {'k98\\'': ' c\" \\\u00e9e\\'\\' \\ba\\\nfd\ne   \\'\\c\\\\cb\"fbbad\\...', ...}}"],
  [200, "{'k33\\'': -828515}"],
  [1024, "-376462"],
  [1024, { sha256: "71503f9f0c0db90119584ad679c730a981b58bba1dc88ec4d14bb748d72e7ca2", len: 612 }],
  [
    60,
    "[[[{...}, 'ec\ud83d\ude00\"\\'\"d\"f\u00e9fd\\bf\u00e9\ud83d\ude00  ff\"f\ud83d\ude00d\\'', {...}, -346109, '...', ...]]",
  ],
  [1024, "-76259"],
  [1024, "{}"],
  [60, "{'k26': {}}"],
  [200, { sha256: "b5d011aa03ce328a02255bcb9b6a93bed5f8c1ab527a3bb48ab7b962fa6e7f6e", len: 184 }],
  [200, { sha256: "c065bc46fb3f36d14d9bd7cba9deeb2ce899129af66745e7f3ea8579a0127bdb", len: 223 }],
  [200, { sha256: "57641562761307ebc1a0a1dea05ea13b0f647b01f2d9ec1135c0e5e5a52da68a", len: 214 }],
  [1024, { sha256: "9b6fde0706f8ac8a645c82a6552ee6118812ca55223b10606d814e723f41c090", len: 1048 }],
  [200, { sha256: "3710ead0cffb5ed175ed23e4f0cf98ec2e27c1549a5411f99e8a5148b8850884", len: 212 }],
  [1024, "'d\"ba'"],
  [1024, "'fe\u00e9c\u00e9dbba\\'"],
  [60, "' d'"],
  [1024, "[-195504, 'f\"']"],
  [60, "False"],
  [200, "'d'"],
  [
    60,
    '{\'k82 s\': [\'b"\\\'  dd\\\ud83d\ude00 "df\u00e9\n\u00e9\ud83d\ude00\ud83d\ude00\ud83d\ude00d"efa\\ba\ud83d\ude00fa""efad\\d\n"\ud83d\ude00\\ \ud83d\ude00df...\', ...}',
  ],
  [60, "156217"],
  [200, "True"],
  [
    1024,
    "'f\nfa \n\ud83d\ude00a\u00e9\\\\\nff\u00e9\"\\'c a c\"\n ecca\ud83d\ude00a\ud83d\ude00\ud83d\ude00\n\\'d\"ce\ud83d\ude00\\'\\'aa\u00e9d\\'dc\u00e9d\u00e9f\"\ud83d\ude00\ud83d\ude00e\nc\\  d\u00e9e dbadb\u00e9\nea\"\ud83d\ude00\"\nabb\u00e9c\u00e9\\d\\de\"c\ud83d\ude00cccae\u00e9\\'\\'e  dcea\u00e9'",
  ],
  [200, "'a \\ \"'"],
  [
    60,
    "'\\db\\'e\naa\ud83d\ude00 a\\b\\'\ud83d\ude00f\ndfc\\'\ud83d\ude00eb\\'f\ud83d\ude00edbf\\\"\u00e9\\d\\'\ud83d\ude00\\\ud83d\ude00c'",
  ],
  [1024, "[]"],
  [60, "['fb\nee\ud83d\ude00d\" ', {'k60\\'': 'fee\\ff\"\\ac'}]"],
  [60, "'\ne\"\\'"],
  [60, "-489854"],
  [200, "None"],
  [1024, "False"],
  [1024, { sha256: "14a03b1c96d8d9e2e5fdaced3edd9926d79550c058eef213d4527d33e9ad0f41", len: 772 }],
  [1024, "'ce\n\ud83d\ude00e\u00e9\"\u00e9\u00e9b\n'"],
  [1024, "'ecea\ud83d\ude00'"],
  [1024, { sha256: "e843730761314846d524cc5a1827f066cfeb3180b409af4b5c851a48bcdb9f1f", len: 411 }],
  [1024, "3.14159"],
  [1024, { sha256: "ea9acde5a66a71594c11f986a9b907ffbb53a18bb45eaf8cd50f1ba72735b533", len: 492 }],
  [1024, "'b\n\\'aaad ba\u00e9\u00e9\u00e9e\\\ud83d\ude00'"],
  [1024, "[[{'k8\\'': [...], 'k42': [...]}, 'ddc\"\u00e9', 'a'], 1e-05]"],
  [
    60,
    "'\ned\u00e9bfdeff\\'ec\ud83d\ude00\ud83d\ude00fe\ncd\"f\nd\ud83d\ude00\"cf\nb\n \\'e\n\"f\\' a\ud83d\ude00\"cf\\\\ \ud83d\ude00  ...'",
  ],
  [200, "{'k49\\'': -0.0001}"],
  [1024, "-893684"],
  [
    1024,
    "'  d\ud83d\ude00c\nfc\\'\"b\u00e9\ud83d\ude00b\u00e9 \\'bfa c \ne\ud83d\ude00\ud83d\ude00\u00e9f\\'aa ef\\ f\"\u00e9fbbecfefc\\'",
  ],
  [200, "0.1"],
  [1024, "'\"f\n\\\u00e9\\'\\'\ud83d\ude00\"cb'"],
  [
    1024,
    "'fc\ud83d\ude00\\'ec\ud83d\ude00\u00e9f\ud83d\ude00\\\u00e9\\'e\\\\f\"b\u00e9\u00e9\"fd\ne\n\\ff\n\\\ud83d\ude00ce  fe\u00e9\"ce\"'",
  ],
  [1024, { sha256: "864941759b1ef54f88b0c03697d6f77ef2f454bc1f7de6e061e3725be52fc7c3", len: 437 }],
  [1024, "''"],
  [1024, "'\nf\"\ud83d\ude00cbd'"],
  [1024, "1e-05"],
  [60, "2.5"],
  [200, { sha256: "8bdb16d54a358046fd21614c21766a3edc6a734d9826588565232413624f27dc", len: 212 }],
  [200, { sha256: "30d1e791e0ad55495857227b87b963f4f459a82eb19fad9fe10df6d9347800fd", len: 214 }],
  [1024, { sha256: "938b2d50e270f645bf698811ec27f0809694670fcc3525d86932e13f418e9e0a", len: 265 }],
  [1024, "'\nd \ud83d\ude00d\u00e9 cb\n\n\nfb\\'dec'"],
  [200, "None"],
  [1024, "3.14159"],
  [1024, "None"],
  [60, "'b\nd\n'"],
  [
    60,
    "{'k14 s': ['\u00e9fd\\'\ud83d\ude00\\'d\" fd\"fe\u00e9\\'\u00e9ada\u00e9aecf\ud83d\ude00fad\u00e9accf\\'\"\n\"ba\ud83d\ude00 f\u00e9b', ...]}",
  ],
  [
    200,
    "'f fdec \ud83d\ude00b\nfc\n\ud83d\ude00\" cca\ud83d\ude00 \ud83d\ude00a\"\\\\'deb\\ bad\u00e9f\\'bab\\fa\\'\n\nd\"\u00e9aa\ud83d\ude00e efff\u00e9bc\u00e9\\'\u00e9f\u00e9ad\\\"\"b a a\\\u00e9 d\\'fa\\  \\'eb\n\\a\\'\\'\u00e9\ud83d\ude00c\\'\u00e9bbb\\'\ud83d\ude00\n\n\u00e9\"cc\u00e9af\\'d\\dc\u00e9e\"\\'\\dff\"dfa\\'\"'",
  ],
  [200, "['\" \ud83d\ude00e\\']"],
  [1024, { sha256: "f016c6589fc8af044f7f3a0586cdbdcaa7393dd769a7915bc8aaf11b8342b223", len: 875 }],
  [1024, { sha256: "6f3db854b91d3248ab05fd26ab7fc37c0df6ed2d80eaf3629bacdbb4244751bb", len: 428 }],
  [200, { sha256: "3bd69c636c11a80904943ea4487377f7da9f433f70cd5918ded1d1695624762c", len: 213 }],
  [1024, "'b'"],
  [1024, "2.5e-300"],
  [1024, "360150"],
  [60, "[938295, [[[...], [...], -1338, 123.25, '\u00e9e\\\ud83d\ude00f \\fdfe\n\"\" \\df', ...]]]"],
  [200, "'\ud83d\ude00\u00e9c'"],
  [1024, "[]"],
  [1024, "'\ud83d\ude00c\ud83d\ude00\\f'"],
  [
    1024,
    "{'k52 s': '', 'k41': 'b\n\"\\'\n\\'c\\bf\ud83d\ude00e ce\\'c\\'\n\\ \n\u00e9a\ud83d\ude00\\b\ud83d\ude00bbcf\"e\n\u00e9\"ab\\'\"f\\', 'k5': 'c \ud83d\ude00\\'a'}",
  ],
  [60, "'\nd\ud83d\ude00c\u00e9ca\\'b\n\\\\'dbedb\ud83d\ude00fe'"],
  [60, "{'k70 s': {'k54 s': {'k42': {...}, 'k45\\'': '\n\ud83d\ude00\u00e9\\dc\"...', 'k4...', ...}}}"],
  [
    1024,
    "'c\u00e9\n\\e\"e\"\u00e9\u00e9ec\\'a\n\\'\u00e9\ud83d\ude00 \nf\ud83d\ude00\\cd\\'\\\" d\\'\u00e9e\\'b\"cd\\\ud83d\ude00f\\'f\nf'",
  ],
  [
    1024,
    "'\\'bc\\\u00e9ac\"\u00e9dfc abbf\\ed\n\\\ud83d\ude00\ud83d\ude00b\\\"f bb\\\ud83d\ude00cd\"\ud83d\ude00c\nac cf\\'",
  ],
  [200, { sha256: "3f1ca7fbb89f74a0157f4f5972a90a1753b70efa82534ce7cb7ce400e37c4b14", len: 207 }],
  [200, { sha256: "3bb141356fd5221a8cf8b65f2bbaa09203e49d2b9695f5901ff29cb1edb5b33e", len: 215 }],
  [200, { sha256: "f25eddf61ef5fffb7282ff0e0a4a23a273cb7d98abc4eee25f9c1371c00ca84b", len: 209 }],
  [1024, "''"],
  [
    1024,
    "'\\'\u00e9e\"\\b c\\beca\\d \"afb\\'\ud83d\ude00f\u00e9\\efcf\\\n\\c\\\\\\'d\nb\\ed\ud83d\ude00f\"\nf\"\u00e9\nba\u00e9\"\"\\'bc\\\\'af\\' adad\u00e9f\nc\\'d\\ cfef\u00e9\u00e9a\ud83d\ude00e\u00e9\"dd\"\\\\\ud83d\ude00d\n\ud83d\ude00b\ud83d\ude00dea\u00e9f b\"cd\ud83d\ude00\u00e9caf\nbb '",
  ],
  [
    200,
    "['\"\ud83d\ude00f\ud83d\ude00 \u00e9de\"\u00e9cddfa\\'c\\\nbb\\ f\ud83d\ude00\ne \"\\\\\u00e9d\ud83d\ude00a\u00e9\u00e9\u00e9\u00e9b\u00e9', []]",
  ],
  [60, "'ec eff d\n\ud83d\ude00\\'d'"],
  [60, "'\"\u00e9a\\'dc\"\u00e9c\u00e9fbcdac\ud83d\ude00\\' df\u00e9\\f\u00e9\ud83d\ude00'"],
  [1024, { sha256: "a91c4435d7f02d771f1b16c918261c6cd5c006a17c60b661acc4a056c77faefb", len: 195 }],
  [1024, "{}"],
  [1024, "-605391"],
  [60, "['', 123.25]"],
  [
    60,
    "['d\\ec\ud83d\ude00\n\\'d\\d\ud83d\ude00fea\na\nd \ud83d\ude00fe\\\"\\\\\u00e9c\"\u00e9\u00e9a  f\\\ud83d\ude00', 182034, '\"\u00e9fb\\'\\'\"\u00e9\u00e9...', ...]",
  ],
  [1024, "['e\u00e9\"\ud83d\ude00d c\u00e9aeecbf\n\\\\'ab\u00e9c\"', 2.5, ['ed\u00e9f\\  fe\\a  \\ac\"ea']]"],
  [200, "' \n \"dc\\'\\'\nf\u00e9ba\nbe\"'"],
  [
    60,
    "'\\'\n\" e\ud83d\ude00\u00e9a\n  d\neea\\'\ud83d\ude00a\n\ud83d\ude00\ud83d\ude00\\'f\\'ae\\\u00e9\ud83d\ude00 \u00e9'",
  ],
  [60, "'\\'\\'"],
  [1024, "{'k96\\'': {'k32 s': [], 'k88': True, 'k4': [1.5e-12], 'k66 s': '\ud83d\ude00fb\\'}}"],
  [60, "'\u00e9cf'"],
  [200, "0.1"],
  [1024, "959724"],
  [1024, { sha256: "35e39485c4e17a3cf2c95dfbde5fad32adec297bb7caef766edeb09e2c295cc0", len: 291 }],
  [1024, "'f c  dd\nbdc\\'bb'"],
  [200, "' f\\'"],
  [1024, "3.14159"],
  [1024, { sha256: "dc8569f94c510bf779a2cc52b689fd843c871984006f6c3446624362cb6b2702", len: 700 }],
  [1024, "'\"a'"],
  [60, "1.5e-12"],
  [200, "{'k69\\'': -0.0001, 'k73': 'f\ud83d\ude00b\nb\n\"d\"da\ud83d\ude00'}"],
  [200, "-591297"],
  [1024, { sha256: "07809ca1bb940ed728f2b2860b4264c677f501abfa432afa197aba80150c5d6c", len: 376 }],
  [
    1024,
    '\'\n\ud83d\ude00\\"\u00e9\\fcef"b"\\\'" b\\\'caaa\ud83d\ude00\nbfb\\\u00e9\u00e9\\\\\' \\\'\ud83d\ude00\neab"\\e\\c\\a"\nd da\nd\u00e9bec" \ncf""\u00e9fadfa ec"\\a"ebbff\ne\\\'a"af\\\' a"df\\ \n\\\'f\\e\\"\\\'\\\n\ud83d\ude00af\'',
  ],
  [60, "734792"],
  [200, "[]"],
  [1024, { sha256: "ac69ded41abce732efc80c5ed56127368d8c5dd15eed46430d62fe69b8c355d4", len: 561 }],
  [1024, { sha256: "2203b33d999a7dc53b2c22a84b6f60d43a6ddcf1268f7e7d22a31f8b40b1ac13", len: 650 }],
  [1024, "'\"\ud83d\ude00'"],
  [60, "[]"],
  [200, "[]"],
  [1024, "2.5e-300"],
  [1024, "[]"],
  [60, "{'k74\\'': 'ecc\n', 'k39 s': 'a f', 'k47': {}, 'k47 s': True, , ...}"],
  [1024, "['\\'\"f\\ad\\'\ud83d\ude00fff \n\ud83d\ude00']"],
  [1024, "[-743802]"],
  [
    200,
    "[{'k67 s': {'k67\\'': [...], 'k11': [...], 'k66': 'e\\'', 'k81': [...], 'k45': True}, 'k57': '\\'eb\n\u00e9eebb\\'\\'e\"f\\\n\\' db\\'\\'\na\\cfdd'}, '\\'ee']",
  ],
  [1024, { sha256: "dc50c002b074013088c8918d4cbe344cfce111bba30cd6d58b9f490e71d2f9e7", len: 177 }],
  [1024, "'\\dee\ne\\'\ud83d\ude00\\'\u00e9f\\'cab\"\\\"bc\u00e9\\\ud83d\ude00\"\\f\u00e9ff'"],
  [200, { sha256: "801223df315da6615446b28a6bde1e3ce6ab27c53b4713987f4b4a773782d2df", len: 213 }],
  [60, "{}"],
  [200, "-758114"],
  [1024, "2.5e-300"],
  [1024, "921848"],
  [
    60,
    "{'k62 s': 'de\\' \ud83d\ude00\n\\\\bd\ud83d\ude00e \\dabd \"\ud83d\ude00db\\'\u00e9fcb\ud83d\ude00db\"\\' ba d\\'cd ', , ...}",
  ],
  [1024, "False"],
  [1024, "1e-05"],
  [60, "'\ud83d\ude00\n'"],
  [1024, { sha256: "0611dcb551ace9c40de98e62f90eaa786b89cecd8a5472bdb3ef6dcc9a203535", len: 1047 }],
  [1024, "False"],
  [60, "-313402"],
  [200, "'e'"],
  [
    60,
    "[{'k80': {'k36': '  e\\'\"\n\"\\'\ud83d\ude00\"df\\'ed\\'\\\n\ud83d\ude00b\"\nad\\\nad\n\u00e9e...', 'k...', ...}}]",
  ],
  [60, "'e\\''"],
  [1024, { sha256: "e14c10b382ca4e4b16f031ff682fe1755c9e7c711cb7d5fdbff843edbf91b748", len: 509 }],
  [
    60,
    "[[1.5e-12, [[...]], 'ae\ud83d\ude00\ud83d\ude00\nfa\nbfb\u00e9cbc \ud83d\ude00f\n\ud83d\ude00b\u00e9\ud83d\ude00d\"d\\'\\\u00e9...', {'k5...', ...}]]",
  ],
  [60, "'dbe  bbfac\necfac\\'b\u00e9\u00e9cda\n\\a'"],
  [1024, "271527"],
  [1024, { sha256: "b13c3676359d97f96b805f9a8b2640c74a2c67ea975cd366f64180a59f858bb7", len: 243 }],
  [1024, "[[], '\\'\neef\n\u00e9bed\n\" a\ud83d\ude00a', 452785]"],
  [60, "[{'k52 s': {'k64': {...}, 'k73\\'': {...}}, 'k15 s': {'k43': , ...}}]"],
  [1024, "'\ud83d\ude00'"],
  [1024, "'\\'\u00e9\\c'"],
  [1024, { sha256: "7263bc051566c0a2b70f708087b96209656ebc3a71bb2fd87ebe10a545329354", len: 317 }],
  [1024, "' \\\nc\" c\\e\ud83d\ude00\"abcbb a dd'"],
  [1024, "[]"],
  [1024, "'\na\n'"],
  [60, "[]"],
  [200, { sha256: "49791daebf6b98b17eab579cf000f53a32a99cba666b35a8ca05f8cf2d380564", len: 208 }],
  [60, "2.5"],
  [200, { sha256: "55232262d4b6885c1d80df4baf26ba00068a0b2343caf300b2bf7ddb0d5467e5", len: 216 }],
  [200, "[]"],
  [1024, "643811"],
  [1024, "{'k15': 1e-05}"],
  [60, "[]"],
  [200, "[[0.1, []]]"],
  [60, "'\u00e9\u00e9\u00e9\\'ab\"ec\n\ud83d\ude00a\"\\f\ud83d\ude00\"\\'\\'"],
  [200, "'b\"f\u00e9de\u00e9\"'"],
  [200, "0.1"],
  [1024, { sha256: "45597e09c59a1e15b907db3fa96d392c5bc1b5f3161f995480045990dc33a2c6", len: 175 }],
  [60, "-610984"],
  [200, { sha256: "aad285238c44847bd2f58f098a67e2fd408df357daad6c9fcf112279f64e439f", len: 206 }],
  [
    200,
    "[[' ', {'k5\\'': '\\'\ud83d\ude00adcbe\"e\"e\n\\'\\'dfc\\\ud83d\ude00ba\n\\'e\"\ud83d\ude00a\\' \ne\ud83d\ude00ba\ud83d\ude00\u00e9f\\', 'k88 s': [...], 'k49 s': [...], 'k35\\'': True}, -912886, []], [None], '\"\nd\\'\"\"\nd\nbbecf\"\nc', 0.1]",
  ],
  [1024, "2.5e-300"],
  [1024, "'\\a \\f\ne\\fcb\ne'"],
  [1024, "'cd\\ac\ud83d\ude00'"],
  [60, "{'k70': {'k22 s': 2.5, 'k82': [[...]]}, 'k61': ' ', 'k35 s': , ...]}"],
  [1024, { sha256: "c1fb5fb528368be2c3f2238d7e8cd36db0993ac8eece0840b4ad5b878f77f851", len: 587 }],
  [
    60,
    "'\u00e9c b\u00e9\ud83d\ude00 fba\\d\ud83d\ude00\ud83d\ude00c\\\nd\n dc  c e\\fff\"b\"\\\\b\u00e9c\\\ud83d\ude00\nf\\'\u00e9e\\'d\ud83d\ude00d\u00e9\\'e...'",
  ],
  [1024, "True"],
  [
    60,
    "'\\\ud83d\ude00de\ud83d\ude00a\ud83d\ude00\u00e9befaed\\'\u00e9\"\"c\n\nd\\'ca\\fd\u00e9\\'bc e\\' cabe\\\\'\need \ud83d\ude00d'",
  ],
  [1024, "'df c\" \\'\ud83d\ude00fbc\ud83d\ude00ad\n\u00e9\nc d\\c\\'\\'d\\'ab\\\\'c\\\u00e9\n\ud83d\ude00'"],
  [60, "'\ud83d\ude00 f\ud83d\ude00f \ud83d\ude00'"],
  [200, { sha256: "a4ae6e2e600130c4d3d21a8e8476b408f0b35b417e82fe9af023bea42552570a", len: 230 }],
  [60, "{'k90': 2.5, 'k6\\'': -34615, 'k42': {'k14\\'': [{...}, None, , ...]}}"],
  [1024, { sha256: "0b7258ecb8c91a891a8ddd059a2c93a603cf3c613787453924ae32ed596b267e", len: 186 }],
  [60, "'\\a\"da\ud83d\ude00a\\'\"\u00e9\\'\" e ef\u00e9fcd\n\n\u00e9dc'"],
  [1024, { sha256: "4b135730fb8f9d680bce1ce275f49a36d296191da7636c99d5d60cd5ece3aaae", len: 565 }],
  [1024, "-728536"],
  [60, "[]"],
  [200, { sha256: "2a2d9ab8181cfc32d0fba3c89e6f6dd6fbe61da8ddf9fbcecd16b31e1e985939", len: 209 }],
  [
    60,
    "[-866135, 'c\u00e9b\ud83d\ude00\u00e9b\u00e9\\\\\\'ea\ud83d\ude00\ud83d\ude00\"\ud83d\ude00af ee\ne\"ed\u00e9eaedc\"\ud83d\ude00e\n\"e\ud83d\ude00\\\n\\'\na\\\\...', ...]",
  ],
  [1024, "[]"],
  [
    1024,
    "'c\\\ud83d\ude00a\\b\u00e9bbd\\\u00e9\"f\\e\\'\\a\\b\nced\"be\u00e9 bc\n\ud83d\ude00bc\\\\f\ud83d\ude00 db'",
  ],
];
