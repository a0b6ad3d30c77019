// The hand-written publish encoder (src/adapters/broker/amqpFrames.ts) against amqplib's own: amqplib's
// ConfirmChannel#publish, run on a channel whose connection writes into an array instead of a socket, gives the
// reference bytes (its argument handling, properties codec and body splitting, unchanged). No RabbitMQ needed.
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Options } from "amqplib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodePublishFrames, encodePublishMethod } from "../../src/adapters/broker/amqpFrames.js";
import {
  buildLookupMessage,
  buildTaskMessage,
  buildTransformMessage,
} from "../../src/adapters/broker/celery.js";
import type { TransformTask } from "../../src/domain/ports.js";

// amqplib's package "exports" hide lib/; its files are loaded by path (they are plain CommonJS).
const require = createRequire(import.meta.url);
const amqplibDir = dirname(require.resolve("amqplib"));
const { ConfirmChannel } = require(join(amqplibDir, "lib/channel_model.js")) as {
  ConfirmChannel: { prototype: object };
};
const { Connection } = require(join(amqplibDir, "lib/connection.js")) as {
  Connection: { prototype: object };
};

/** RabbitMQ's default frame_max, which amqplib also asks for: what the App's connections negotiate. */
const FRAME_MAX = 131_072;
/** AMQP 0-9-1's smallest frame_max. */
const FRAME_MIN = 4_096;

/** One basic.publish: where it goes, on which channel of a connection with which frame max, and what. */
interface Publish {
  channel: number;
  frameMax: number;
  exchange: string;
  routingKey: string;
  content: Buffer;
  options: Options.Publish;
}

function publish(content: Buffer, options: Options.Publish, at: Partial<Publish> = {}): Publish {
  return {
    channel: 1,
    frameMax: FRAME_MAX,
    exchange: "",
    routingKey: "transformer-r",
    content,
    options,
    ...at,
  };
}

/** What amqplib writes to the socket for this publish through ConfirmChannel#publish. */
function amqplibBytes(p: Publish): Buffer {
  const chunks: Buffer[] = [];
  const buffer = {
    write(b: Buffer): boolean {
      chunks.push(Buffer.from(b));
      return true;
    },
  };
  const connection = Object.assign(Object.create(Connection.prototype), {
    frameMax: p.frameMax,
    channels: { [p.channel]: { buffer } },
    sentSinceLastCheck: false,
  });
  const ch = Object.assign(Object.create(ConfirmChannel.prototype), {
    ch: p.channel,
    connection,
    unconfirmed: [],
  }) as { publish(...args: unknown[]): boolean };
  ch.publish(p.exchange, p.routingKey, p.content, p.options, () => {});
  return Buffer.concat(chunks);
}

/** Ours for the same publish (null when the encoder leaves it to amqplib). */
function ourBytes(p: Publish): Buffer | null {
  const method = encodePublishMethod(p.channel, p.exchange, p.routingKey, p.options.mandatory === true);
  return encodePublishFrames(p.channel, method, p.content, p.options, p.frameMax);
}

function expectSameBytes(p: Publish): void {
  const ref = amqplibBytes(p);
  const ours = ourBytes(p);
  expect(ours).not.toBeNull();
  // A diff of two large buffers does not help; the lengths say whether a part is missing or extra.
  expect(ours!.length).toBe(ref.length);
  expect(ours!.equals(ref)).toBe(true);
}

/** Body frames in a publish: frame type 3 at each frame start. */
function bodyFrameCount(bytes: Buffer): number {
  let n = 0;
  for (let off = 0; off < bytes.length; off += 8 + bytes.readUInt32BE(off + 3)) {
    if (bytes[off] === 3) n++;
  }
  return n;
}

const TASK: TransformTask = {
  request_id: "7cfcc66b-4119-44aa-9c31-66e428a95999",
  file_id: 1,
  paths: ["root://eos//f1.root"],
  service_endpoint:
    "http://127.0.0.1:5000/servicex/internal/transformation/7cfcc66b-4119-44aa-9c31-66e428a95999",
  result_destination: "object-store",
  result_format: "parquet",
};

/** A Celery message as a publish. */
function message(m: { content: Buffer; options: Options.Publish }, at: Partial<Publish> = {}): Publish {
  return publish(m.content, m.options, at);
}

describe("When the App publishes its Celery messages, then the frames are amqplib's to the byte", () => {
  it("a transform task (mandatory, delivery mode 2, priority 0, JSON, the 19-entry header table)", () => {
    const m = buildTransformMessage(TASK, { origin: "gen1@h", mandatory: true });
    expect(m.options).toMatchObject({ deliveryMode: 2, priority: 0, contentType: "application/json" });
    expectSameBytes(message(m, { routingKey: `transformer-${TASK.request_id}` }));
  });

  it("a DID lookup, on another channel number", () => {
    const m = buildLookupMessage(
      { scheme: "rucio", did: "mc16:AOD.1", datasetId: 3, endpoint: "http://app/servicex/internal" },
      { origin: "o", mandatory: true },
    );
    expectSameBytes(message(m, { channel: 7, routingKey: "did_finder_rucio" }));
  });

  it("unicode paths, args and kwargs (multi-byte UTF-8 in the headers' reprs and the body)", () => {
    const paths = ["root://x//y é.root", "root://x//数据/😀.root"];
    expectSameBytes(message(buildTransformMessage({ ...TASK, paths }, { origin: "gen1@hôte" })));
    const kwargs = { p: Array.from({ length: 300 }, (_, i) => `p${i} it's é😀`) };
    expectSameBytes(message(buildTaskMessage("t", ["é😀", -5], kwargs, { origin: "o" })));
  });

  it("a transform task with thousands of paths: the body spans several frames at the negotiated frame max", () => {
    const paths = Array.from({ length: 4_000 }, (_, i) => `root://eos.example//store/data/file-${i}.root`);
    const p = message(buildTransformMessage({ ...TASK, paths }, { origin: "o", mandatory: true }));
    expect(p.content.length).toBeGreaterThan(FRAME_MAX);
    expect(bodyFrameCount(amqplibBytes(p))).toBe(Math.ceil(p.content.length / (FRAME_MAX - 8)));
    expectSameBytes(p);
  });

  it("the same message twice gives the same bytes (nothing left over between calls)", () => {
    const p = message(
      buildTransformMessage(TASK, { origin: "o", id: "00000000-0000-4000-8000-000000000001" }),
    );
    const first = ourBytes(p)!;
    const copy = Buffer.from(first);
    ourBytes(message(buildTaskMessage("t", [], { k: "x".repeat(50_000) }, { origin: "o" })));
    expect(first.equals(copy)).toBe(true); // a later call does not write into an earlier result
    expect(ourBytes(p)!.equals(first)).toBe(true);
  });
});

// Frame maxes start at AMQP's minimum, 4,096, which is all a connection can negotiate (amqplib refuses less).
// Below it the two differ on purpose: amqplib writes a publish under 2 KiB as a single body frame whatever the
// frame max, the encoder always splits at frame max - 8.
describe("When bodies meet frame boundaries, then the body frames are split as amqplib splits them", () => {
  const maxBody = FRAME_MIN - 8;
  const cases: [string, number, number][] = [
    ["an empty body (no body frame at all)", 0, FRAME_MAX],
    ["one byte", 1, FRAME_MIN],
    ["one byte short of a full frame", maxBody - 1, FRAME_MIN],
    ["exactly one full frame", maxBody, FRAME_MIN],
    ["one byte over a full frame", maxBody + 1, FRAME_MIN],
    ["exactly three full frames", 3 * maxBody, FRAME_MIN],
    ["300,000 bytes at RabbitMQ's default frame max", 300_000, FRAME_MAX],
    ["a 2 KiB publish (amqplib's single-write threshold)", 2_048 - 60, FRAME_MAX],
  ];
  for (const [name, size, frameMax] of cases) {
    it(name, () => {
      const p = publish(
        randomBytes(size),
        { contentType: "application/octet-stream", deliveryMode: 2 },
        { frameMax },
      );
      expectSameBytes(p);
      expect(bodyFrameCount(amqplibBytes(p))).toBe(Math.ceil(size / (frameMax - 8)));
    });
  }
});

describe("When publish options use the properties the encoder knows, then the content header is amqplib's", () => {
  const cases: [string, Buffer, Options.Publish][] = [
    ["no options at all", Buffer.from("plain"), {}],
    ["mandatory with an empty header table", Buffer.from("m"), { mandatory: true, headers: {} }],
    [
      "delivery mode 1, priority 9, correlation id",
      Buffer.from("x"),
      { deliveryMode: 1, priority: 9, correlationId: "c" },
    ],
    [
      "every property the encoder writes",
      Buffer.from("x"),
      {
        contentType: "text/plain; charset=ü",
        contentEncoding: "binary",
        headers: { a: 1 },
        deliveryMode: 2,
        priority: 255,
        correlationId: "c-é",
      },
    ],
    [
      "every field-value type in the headers",
      Buffer.from("x"),
      {
        headers: {
          s: "str",
          e: "",
          u: "üñí😀",
          t: true,
          f: false,
          n: null,
          skipped: undefined,
          b0: 0,
          b1: 127,
          b2: -128,
          s1: 128,
          s2: -129,
          s3: 32767,
          i1: 32768,
          i2: -2147483648,
          i3: 2147483647,
          l1: 2147483648,
          l2: -9007199254740991,
          d1: 1.5,
          d2: -0.25,
          d3: 1e300,
          d4: Number.POSITIVE_INFINITY,
          z: -0,
          a: [1, "two", null, [true], { k: 1 }],
          ea: [],
          o: { nested: { deeper: [1.5, "x"] } },
          eo: {},
          x: Buffer.from([0, 1, 2, 255]),
          "clé 😀": "unicode key",
          "7": "an integer-like key (for-in puts it first, in both encoders)",
        },
      },
    ],
  ];
  for (const [name, content, options] of cases) {
    it(name, () => expectSameBytes(publish(content, options)));
  }

  it("a non-default exchange, unicode routing keys and the largest channel number", () => {
    const x = Buffer.from("x");
    expectSameBytes(
      publish(x, { mandatory: true }, { exchange: "ex-é", routingKey: "rk-😀", channel: 65_535 }),
    );
    expectSameBytes(publish(x, {}, { exchange: "e".repeat(255), routingKey: "r".repeat(255) }));
  });
});

describe("When options use what the encoder does not handle, then it returns null and amqplib publishes", () => {
  const method = encodePublishMethod(1, "", "q", false);
  const cases: [string, Options.Publish][] = [
    ["replyTo", { replyTo: "r" }],
    ["persistent (amqplib maps it to a delivery mode)", { persistent: true }],
    ["expiration", { expiration: 1000 }],
    ["CC", { CC: "other" }],
    ["a typed field value", { headers: { t: { "!": "timestamp", value: 1 } } }],
    ["a bigint", { headers: { big: 2n } }],
    ["NaN", { headers: { n: Number.NaN } }],
    ["-Infinity", { headers: { n: Number.NEGATIVE_INFINITY } }],
    ["an integer below -2^63", { headers: { n: -1e19 } }],
    ["undefined inside an array", { headers: { a: [1, undefined] } }],
    ["a function", { headers: { f: () => 1 } }],
    ["a header key over 255 bytes", { headers: { ["k".repeat(256)]: 1 } }],
    ["a content type over 255 bytes", { contentType: "é".repeat(128) }],
    ["a boolean delivery mode", { deliveryMode: true }],
  ];
  for (const [name, options] of cases) {
    it(name, () => {
      expect(encodePublishFrames(1, method, Buffer.from("x"), options, FRAME_MAX)).toBeNull();
    });
  }

  it("a frame max that leaves no room for a body", () => {
    expect(encodePublishFrames(1, method, Buffer.from("x"), {}, 8)).toBeNull();
  });

  it("an exchange or routing key over 255 bytes is refused, as amqplib refuses it", () => {
    expect(() => encodePublishMethod(1, "", "r".repeat(256), false)).toThrow(/longer than 255 bytes/);
    expect(() => encodePublishMethod(1, "é".repeat(128), "q", false)).toThrow(/longer than 255 bytes/);
    expect(() => amqplibBytes(publish(Buffer.from("x"), {}, { routingKey: "r".repeat(256) }))).toThrow();
  });
});

// Random header tables, properties, bodies, frame maxes and channels: what amqplib encodes, the encoder encodes to
// the same bytes; what amqplib refuses, the encoder leaves to it.
describe("When inputs are random, then every frame the encoder produces is amqplib's", () => {
  const shortStr = fc.string({ unit: "binary", maxLength: 60 });
  const fieldValue = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: "small" },
      fc.string({ unit: "binary", maxLength: 40 }),
      fc.boolean(),
      fc.constant(null),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      fc.maxSafeInteger(),
      fc.double({ noNaN: true, min: -4e18, max: Number.POSITIVE_INFINITY }),
      fc.uint8Array({ maxLength: 16 }).map((a) => Buffer.from(a)),
      fc.array(tie("value"), { maxLength: 4 }),
      tie("table"),
    ),
    table: fc.dictionary(shortStr, tie("value"), { maxKeys: 6 }),
  }));
  const options = fc.record(
    {
      contentType: shortStr,
      contentEncoding: shortStr,
      headers: fieldValue.table as fc.Arbitrary<Record<string, unknown>>,
      deliveryMode: fc.constantFrom(1, 2),
      priority: fc.integer({ min: 0, max: 255 }),
      correlationId: shortStr,
      mandatory: fc.boolean(),
    },
    { requiredKeys: [] },
  );

  it("headers, properties, bodies, frame max and channel", () => {
    fc.assert(
      fc.property(
        options,
        fc.uint8Array({ maxLength: 20_000 }),
        fc.integer({ min: FRAME_MIN, max: FRAME_MAX }),
        fc.integer({ min: 1, max: 65_535 }),
        shortStr,
        shortStr,
        (opts, body, frameMax, channel, exchange, routingKey) => {
          const p = publish(Buffer.from(body), opts, { frameMax, channel, exchange, routingKey });
          const ours = ourBytes(p);
          let ref: Buffer;
          try {
            ref = amqplibBytes(p);
          } catch {
            // amqplib refuses it too (e.g. a non-integer between 2^50 and 2^52 is sent as a 64-bit integer):
            // ours must leave it to amqplib, which then reports its own error.
            expect(ours).toBeNull();
            return;
          }
          expect(ours).not.toBeNull();
          expect(ours!.equals(ref)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
