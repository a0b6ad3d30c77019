import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { strToU8, unzipSync, zipSync } from "fflate";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { HttpCodeGenerator } from "../../src/adapters/codegen/http.codegen.js";
import { CodeGenError } from "../../src/domain/errors.js";

// A local stand-in for a ServiceX code generator (servicex_codegen's POST /servicex/generated-code).

interface Seen {
  method: string;
  url: string;
  contentType: string | undefined;
  body: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string, n: number) => void;

const servers: Server[] = [];

async function startServer(handler: Handler): Promise<{ base: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      seen.push({ method: req.method!, url: req.url!, contentType: req.headers["content-type"], body });
      handler(req, res, body, seen.length);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { base: `http://127.0.0.1:${port}`, seen };
}

afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
});

/** requests-toolbelt MultipartEncoder output, as servicex_codegen sends it. */
function encode(fields: Array<[string | null, string | Uint8Array]>): { body: Buffer; contentType: string } {
  const boundary = randomUUID().replaceAll("-", "");
  const chunks: Buffer[] = [];
  for (const [name, value] of fields) {
    const disposition = name === null ? "form-data" : `form-data; name="${name}"`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n\r\n`));
    chunks.push(Buffer.from(value));
    chunks.push(Buffer.from("\r\n"));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

const generatedZip = zipSync(
  {
    "transformer_capabilities.json": strToU8(
      JSON.stringify({ name: "uproot", language: "python", command: "/generated/transform_single_file.py" }),
    ),
    "generated_transformer.py": strToU8("def run_query(path):\r\n--\r\n    return path\n"),
    "transform_single_file.py": Uint8Array.from({ length: 4096 }, (_, i) => (i * 131) % 256),
  },
  { level: 0 },
);

function answerCode(res: ServerResponse, fields?: Array<[string | null, string | Uint8Array]>) {
  const { body, contentType } = encode(
    fields ?? [
      ["transformer_image", "sslhep/servicex_func_adl_uproot_transformer:uproot5\n"],
      ["language", " python "],
      ["command", "/generated/transform_single_file.py\r\n"],
      ["zip_data", generatedZip],
    ],
  );
  res.writeHead(200, { "content-type": contentType, "content-length": body.length });
  res.end(body);
}

async function expectCodeGenError(p: Promise<unknown>): Promise<CodeGenError> {
  const err = await p.then(
    () => {
      throw new Error("expected a CodeGenError");
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CodeGenError);
  return err as CodeGenError;
}

describe("HttpCodeGenerator against a real HTTP code generator", () => {
  it("posts the selection and decodes the multipart answer; the zip round-trips byte for byte", async () => {
    const { base, seen } = await startServer((_req, res) => answerCode(res));
    const gen = new HttpCodeGenerator({
      serviceUrls: { uproot: `${base}/` },
      logger: pino({ level: "silent" }),
    });
    expect(gen.names()).toEqual(["uproot"]);
    const selection = "(call Select (call EventDataset 'ds') (lambda (list e) (attr e 'Jets')))  ünï\n";
    const out = await gen.generate("uproot", selection);

    expect(seen).toHaveLength(1);
    expect(seen[0]!.method).toBe("POST");
    expect(seen[0]!.url).toBe("/servicex/generated-code");
    expect(seen[0]!.contentType).toMatch(/^application\/json/);
    expect(JSON.parse(seen[0]!.body)).toEqual({ code: selection });
    expect(Object.keys(JSON.parse(seen[0]!.body))).toEqual(["code"]);

    expect(out.image).toBe("sslhep/servicex_func_adl_uproot_transformer:uproot5");
    expect(out.language).toBe("python");
    expect(out.command).toBe("/generated/transform_single_file.py");
    expect(Buffer.isBuffer(out.zip)).toBe(true);
    expect(out.zip.equals(Buffer.from(generatedZip))).toBe(true);
    expect(Object.keys(unzipSync(out.zip)).sort()).toEqual([
      "generated_transformer.py",
      "transform_single_file.py",
      "transformer_capabilities.json",
    ]);
  });

  it("keeps a base URL path prefix and strips trailing slashes", async () => {
    const { base, seen } = await startServer((_req, res) => answerCode(res));
    const gen = new HttpCodeGenerator({ serviceUrls: { python: `${base}/prefix//` } });
    await gen.generate("python", "x");
    expect(seen[0]!.url).toBe("/prefix/servicex/generated-code");
  });

  it("matches parts by name when present, whatever their order", async () => {
    const { base } = await startServer((_req, res) =>
      answerCode(res, [
        ["zip_data", generatedZip],
        ["command", "run.sh"],
        ["transformer_image", "img:1"],
        ["language", "bash"],
      ]),
    );
    const out = await new HttpCodeGenerator({ serviceUrls: { a: base } }).generate("a", "s");
    expect(out).toMatchObject({ image: "img:1", language: "bash", command: "run.sh" });
    expect(out.zip.equals(Buffer.from(generatedZip))).toBe(true);
  });

  it("falls back to position when the parts carry no names", async () => {
    const { base } = await startServer((_req, res) =>
      answerCode(res, [
        [null, "img:2"],
        [null, "python"],
        [null, "cmd"],
        [null, generatedZip],
      ]),
    );
    const out = await new HttpCodeGenerator({ serviceUrls: { a: base } }).generate("a", "s");
    expect(out).toMatchObject({ image: "img:2", language: "python", command: "cmd" });
    expect(out.zip.equals(Buffer.from(generatedZip))).toBe(true);
  });

  it("a 500 {Message} becomes 'Failed to generate translation code: <Message>', without retry", async () => {
    const { base, seen } = await startServer((_req, res) => {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ Message: "bad selection" }));
    });
    const gen = new HttpCodeGenerator({ serviceUrls: { uproot: base } });
    const err = await expectCodeGenError(gen.generate("uproot", "nonsense"));
    expect(err.message).toBe("Failed to generate translation code: bad selection");
    expect(err.status).toBe(500);
    expect(err.code).toBe("codegen_failed");
    expect(seen).toHaveLength(1);
  });

  it("a non-JSON error body is used as text, truncated to 1,000 characters", async () => {
    const { base, seen } = await startServer((_req, res) => {
      res.writeHead(502, { "content-type": "text/html" });
      res.end(`<html>${"x".repeat(5000)}</html>`);
    });
    const err = await expectCodeGenError(
      new HttpCodeGenerator({ serviceUrls: { a: base } }).generate("a", "s"),
    );
    const prefix = "Failed to generate translation code: ";
    expect(err.message.startsWith(`${prefix}<html>xxx`)).toBe(true);
    expect(err.message.length).toBeLessThanOrEqual(prefix.length + 1001);
    expect(seen).toHaveLength(1);
  });

  it("an empty error body names the HTTP status", async () => {
    const { base } = await startServer((_req, res) => {
      res.writeHead(503);
      res.end();
    });
    const err = await expectCodeGenError(
      new HttpCodeGenerator({ serviceUrls: { a: base } }).generate("a", "s"),
    );
    expect(err.message).toBe("Failed to generate translation code: HTTP 503 Service Unavailable");
  });

  it.each([
    [
      "not multipart",
      (res: ServerResponse) => res.writeHead(200, { "content-type": "text/plain" }).end("hi"),
      /not a multipart/,
    ],
    [
      "truncated multipart",
      (res: ServerResponse) => {
        const { body, contentType } = encode([["transformer_image", "i"]]);
        res.writeHead(200, { "content-type": contentType }).end(body.subarray(0, body.length - 10));
      },
      /closing boundary/,
    ],
    [
      "three parts",
      (res: ServerResponse) =>
        answerCode(res, [
          ["transformer_image", "i"],
          ["language", "l"],
          ["command", "c"],
        ]),
      /expected 4 parts .* got 3: transformer_image, language, command/,
    ],
    [
      "zip_data not a zip",
      (res: ServerResponse) =>
        answerCode(res, [
          ["transformer_image", "i"],
          ["language", "l"],
          ["command", "c"],
          ["zip_data", "not a zip"],
        ]),
      /zip_data is not a zip archive/,
    ],
    [
      "empty image",
      (res: ServerResponse) =>
        answerCode(res, [
          ["transformer_image", "  "],
          ["language", "l"],
          ["command", "c"],
          ["zip_data", generatedZip],
        ]),
      /empty transformer_image/,
    ],
  ])("a malformed 200 answer (%s) is a CodeGenError, not retried", async (_label, answer, message) => {
    const { base, seen } = await startServer((_req, res) => answer(res));
    const err = await expectCodeGenError(
      new HttpCodeGenerator({ serviceUrls: { a: base } }).generate("a", "s"),
    );
    expect(err.message).toMatch(
      /^Failed to generate translation code: malformed answer from code generator a \(/,
    );
    expect(err.message).toMatch(message);
    expect(seen).toHaveLength(1);
  });

  it("retries a server that drops the connection twice, then succeeds", async () => {
    const { base, seen } = await startServer((req, res, _body, n) => {
      if (n <= 2) req.socket.destroy();
      else answerCode(res);
    });
    const warnings: object[] = [];
    const gen = new HttpCodeGenerator({
      serviceUrls: { uproot: base },
      backoffBaseMs: 10,
      logger: { warn: (obj) => warnings.push(obj), debug() {} },
    });
    const out = await gen.generate("uproot", "sel");
    expect(seen).toHaveLength(3);
    expect(seen.every((s) => JSON.parse(s.body).code === "sel")).toBe(true);
    expect(out.zip.equals(Buffer.from(generatedZip))).toBe(true);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatchObject({ codegen: "uproot", attempt: 1, attempts: 4 });
  });

  it("gives up after the configured retries with a clear message", async () => {
    const { base, seen } = await startServer((req) => req.socket.destroy());
    const gen = new HttpCodeGenerator({ serviceUrls: { uproot: base }, retries: 2, backoffBaseMs: 5 });
    const err = await expectCodeGenError(gen.generate("uproot", "sel"));
    expect(seen).toHaveLength(3);
    expect(err.status).toBe(503); // unreachable generator: a dependency outage, not bad input
    expect(err.message).toMatch(
      /^Failed to generate translation code: code generator uproot did not answer after 3 attempts \(/,
    );
  });

  it("a refused connection is retried, then reported", async () => {
    const { base } = await startServer(() => {});
    await new Promise<void>((resolve) => servers.pop()!.close(() => resolve()));
    const gen = new HttpCodeGenerator({ serviceUrls: { uproot: base }, retries: 1, backoffBaseMs: 5 });
    const err = await expectCodeGenError(gen.generate("uproot", "sel"));
    expect(err.message).toMatch(/did not answer after 2 attempts \(.*ECONNREFUSED/);
  });

  it("a server that never answers times out within the configured timeout", async () => {
    const { base, seen } = await startServer(() => {
      /* never answers */
    });
    const gen = new HttpCodeGenerator({
      serviceUrls: { slow: base },
      connectTimeoutMs: 300,
      retries: 1,
      backoffBaseMs: 10,
    });
    const started = Date.now();
    const err = await expectCodeGenError(gen.generate("slow", "sel"));
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(590);
    // The server never answers: without the timeouts this would hang until the test's own timeout (60 s). The
    // bound is loose so that a loaded machine does not fail it.
    expect(elapsed).toBeLessThan(15_000);
    expect(seen).toHaveLength(2);
    expect(err.message).toMatch(/did not answer after 2 attempts \(no answer within 300 ms\)/);
  });

  it("an answer whose body stalls is cut by the total timeout", async () => {
    const { base, seen } = await startServer((_req, res) => {
      res.writeHead(200, { "content-type": "multipart/form-data; boundary=abc" });
      res.write('--abc\r\nContent-Disposition: form-data; name="transformer_image"\r\n\r\nimg');
    });
    const gen = new HttpCodeGenerator({ serviceUrls: { slow: base }, totalTimeoutMs: 400, retries: 0 });
    const started = Date.now();
    const err = await expectCodeGenError(gen.generate("slow", "sel"));
    expect(Date.now() - started).toBeLessThan(15_000); // the body never ends: only the timeout ends the call
    expect(seen).toHaveLength(1);
    expect(err.message).toMatch(/did not answer after 1 attempt \(answer not complete within 400 ms\)/);
  });

  it("an unknown codegen name is a 400 CodeGenError, no request sent", async () => {
    const { base, seen } = await startServer((_req, res) => answerCode(res));
    const gen = new HttpCodeGenerator({ serviceUrls: { uproot: base } });
    const err = await expectCodeGenError(gen.generate("atlasxaod", "sel"));
    expect(err.status).toBe(400);
    expect(err.message).toBe("atlasxaod, code generator unavailable for use");
    expect(seen).toHaveLength(0);
    // prototype keys are not generators
    expect((await expectCodeGenError(gen.generate("constructor", "sel"))).status).toBe(400);
  });

  it("rejects an oversized answer", async () => {
    const { base } = await startServer((_req, res) => answerCode(res));
    const gen = new HttpCodeGenerator({ serviceUrls: { a: base }, maxResponseBytes: 1000 });
    const err = await expectCodeGenError(gen.generate("a", "s"));
    expect(err.message).toMatch(/exceeds 1000 bytes/);
  });

  it("validates its configuration", () => {
    expect(() => new HttpCodeGenerator({ serviceUrls: { a: "not a url" } })).toThrow(
      /"a" has an invalid URL/,
    );
    expect(() => new HttpCodeGenerator({ serviceUrls: { a: "ftp://x" } })).toThrow(/http\(s\) URL/);
    expect(() => new HttpCodeGenerator({ serviceUrls: {}, retries: -1 })).toThrow(RangeError);
    expect(
      new HttpCodeGenerator({ serviceUrls: { b: "http://b:8000", a: "http://a:8000" } }).names(),
    ).toEqual(["b", "a"]);
  });
});
