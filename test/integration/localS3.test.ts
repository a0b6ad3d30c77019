// The read-only S3 endpoint over local results (/s3, docs/local-results.md) and the results download route,
// on the embedded default (PGlite, in-process broker, local transformer processes), driven with the AWS SDK
// as the Python client drives botocore: list bucket <request_id> (paginated), head and get each object,
// presigned GET URLs. Requests for the path checks are signed with the App's own presigner so that only the
// path decides the answer.
import { randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  paginateListObjectsV2,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { presignGetV4 } from "../../src/adapters/localS3/signing.js";
import { objectNameFor } from "../../src/domain/objectName.js";
import { submit as submitRequest } from "../helpers/factories.js";
import { httpCall } from "../helpers/http.js";
import { type TestApp, eventually, startTestApp } from "../helpers/testApp.js";

interface Access {
  endpoint: string;
  secured: boolean;
  accessKey: string;
  secretKey: string;
}

let app: TestApp;
let work: string;
let results: string;
/** input path → bytes */
const inputs = new Map<string, Buffer>();
let id: string;
let access: Access;
let otherId: string;

const status = async (a: TestApp, rid: string) =>
  (await httpCall(`${a.url}/servicex/transformation/${rid}`, "GET")).json as Record<string, unknown>;

/** A file-list request with root-file output; its id. */
const submit = (a: TestApp, files: string[]) =>
  submitRequest(a, { "file-list": files, "result-format": "root-file" });

async function completed(a: TestApp, rid: string): Promise<Record<string, unknown>> {
  return eventually(
    async () => {
      const s = await status(a, rid);
      return s.status === "Complete" || s.status === "Failed" || s.status === "Fatal" ? s : undefined;
    },
    60_000,
    `request ${rid} to finish`,
  );
}

function accessOf(s: Record<string, unknown>): Access {
  return {
    endpoint: s["minio-endpoint"] as string,
    secured: s["minio-secured"] as boolean,
    accessKey: s["minio-access-key"] as string,
    secretKey: s["minio-secret-key"] as string,
  };
}

/** An S3 client set up as the Python client's MinIO adapter sets up botocore. */
function s3For(a: Access, secretKey = a.secretKey, accessKey = a.accessKey): S3Client {
  return new S3Client({
    endpoint: `${a.secured ? "https" : "http"}://${a.endpoint}`,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
    maxAttempts: 1,
  });
}

async function bytesOf(body: unknown): Promise<Buffer> {
  return Buffer.from(await (body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

async function sdkFailure(p: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, status: err.$metadata?.httpStatusCode };
  }
  throw new Error("the call succeeded");
}

/** A GET of exactly `rawPath` (no URL normalisation), signed for that path with `creds`. */
function rawSignedGet(
  rawPath: string,
  creds: { accessKey: string; secretKey: string },
): Promise<{ status: number; body: string }> {
  const url = presignGetV4({
    base: `http://127.0.0.1:${app.port}`,
    path: rawPath,
    credentials: creds,
    expiresIn: 60,
  });
  const path = url.slice(url.indexOf(`:${app.port}`) + `:${app.port}`.length);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port: app.port, path, method: "GET" }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject);
    req.end();
  });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "sx-local-s3-"));
  results = join(work, "results");
  app = await startTestApp({
    backend: "pglite",
    broker: "memory",
    launcher: "config",
    env: { RESULTS_DIR: results },
  });
  // Sizes around the SDKs' part sizes and an empty file.
  for (const [i, size] of [0, 1, 4096, 300_000, 9 * 1024 * 1024 + 17].entries()) {
    const p = join(work, "in", `file ${i}+(x).root`);
    mkdirSync(join(work, "in"), { recursive: true });
    const data = randomBytes(size);
    writeFileSync(p, data);
    inputs.set(p, data);
  }
  id = await submit(app, [...inputs.keys()]);
  const done = await completed(app, id);
  expect(done.status).toBe("Complete");
  access = accessOf(done);
  otherId = await submit(app, [[...inputs.keys()][2]!]);
  await completed(app, otherId);
}, 120_000);

afterAll(async () => {
  await app?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("When a request's results are local (embedded default, no object store)", () => {
  it("then its status answer advertises the App's /s3 endpoint with a key pair of that request", () => {
    expect(access).toEqual({
      endpoint: `127.0.0.1:${app.port}/s3`,
      secured: false,
      accessKey: `local-${id}`,
      secretKey: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });
  });

  it("then listing bucket <request_id> and getting every object gives the inputs byte for byte (end to end)", async () => {
    const s3 = s3For(access);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: id }));
    const expected = [...inputs.keys()].map((p) => objectNameFor(p, "root-file")).sort();
    expect(listed.Contents?.map((c) => c.Key)).toEqual(expected);
    expect(listed.KeyCount).toBe(inputs.size);
    expect(listed.IsTruncated).toBe(false);
    for (const [path, data] of inputs) {
      const key = objectNameFor(path, "root-file");
      const entry = listed.Contents!.find((c) => c.Key === key)!;
      expect(entry.Size).toBe(data.length);
      const head = await s3.send(new HeadObjectCommand({ Bucket: id, Key: key }));
      expect(head.ContentLength).toBe(data.length);
      expect(head.ETag).toBe(entry.ETag);
      const got = await s3.send(new GetObjectCommand({ Bucket: id, Key: key }));
      expect((await bytesOf(got.Body)).equals(data)).toBe(true);
      if (data.length > 10) {
        const part = await s3.send(new GetObjectCommand({ Bucket: id, Key: key, Range: "bytes=3-9" }));
        expect(part.ContentRange).toBe(`bytes 3-9/${data.length}`);
        expect((await bytesOf(part.Body)).equals(data.subarray(3, 10))).toBe(true);
      }
    }
    s3.destroy();
  });

  it("then a presigned URL (SDK, and file-urls) downloads the object with plain fetch", async () => {
    const s3 = s3For(access);
    const [path, data] = [...inputs].at(-1)!;
    const key = objectNameFor(path, "root-file");
    const sdkUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: id, Key: key }), { expiresIn: 600 });
    const res = await fetch(sdkUrl);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true);

    const urls = await httpCall(`${app.url}/servicex/transformation/file-urls`, "POST", {
      body: { request_id: id, file_list: [key] },
    });
    expect(urls.status).toBe(200);
    const [url, headers, expires] = (urls.json as { uris: Record<string, [string, object, number]> }).uris[
      key
    ]!;
    expect(url.startsWith(`http://127.0.0.1:${app.port}/s3/${id}/`)).toBe(true);
    expect(headers).toEqual({});
    expect(expires).toBeGreaterThan(Date.now() / 1000);
    const viaApp = await fetch(url);
    expect(Buffer.from(await viaApp.arrayBuffer()).equals(data)).toBe(true);

    // A presigned URL for another key of the same request does not open this one.
    const tampered = url.replace(
      encodeURIComponent(key).replace(/[()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
      "other",
    );
    expect(tampered).not.toBe(url);
    expect((await fetch(tampered)).status).toBe(403);
    s3.destroy();
  });

  it("then a wrong secret key or signature gets 403 SignatureDoesNotMatch in S3's XML", async () => {
    const key = objectNameFor([...inputs.keys()][1]!, "root-file");
    const wrong = s3For(access, "not-the-secret");
    expect(await sdkFailure(wrong.send(new GetObjectCommand({ Bucket: id, Key: key })))).toEqual({
      name: "SignatureDoesNotMatch",
      status: 403,
    });
    expect(await sdkFailure(wrong.send(new ListObjectsV2Command({ Bucket: id })))).toEqual({
      name: "SignatureDoesNotMatch",
      status: 403,
    });
    wrong.destroy();

    const good = await getSignedUrl(s3For(access), new GetObjectCommand({ Bucket: id, Key: key }), {
      expiresIn: 60,
    });
    const flipped = good.replace(
      /X-Amz-Signature=([0-9a-f])/,
      (_m, c: string) => `X-Amz-Signature=${c === "0" ? "1" : "0"}`,
    );
    const res = await fetch(flipped);
    expect(res.status).toBe(403);
    expect(res.headers.get("content-type")).toBe("application/xml");
    const text = await res.text();
    expect(text).toMatch(
      /^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>SignatureDoesNotMatch<\/Code><Message>/,
    );
    expect(text).toContain(`<AWSAccessKeyId>local-${id}</AWSAccessKeyId>`);

    const unknownKey = s3For(access, access.secretKey, "AKIAIOSFODNN7EXAMPLE");
    expect(await sdkFailure(unknownKey.send(new ListObjectsV2Command({ Bucket: id })))).toEqual({
      name: "InvalidAccessKeyId",
      status: 403,
    });
    unknownKey.destroy();

    const anonymous = await fetch(`http://${access.endpoint}/${id}/${encodeURIComponent(key)}`);
    expect(anonymous.status).toBe(403);
    expect(await anonymous.text()).toContain("<Code>AccessDenied</Code>");
  });

  it("then this request's keys do not open another request's bucket (403 AccessDenied)", async () => {
    const s3 = s3For(access);
    expect(await sdkFailure(s3.send(new ListObjectsV2Command({ Bucket: otherId })))).toEqual({
      name: "AccessDenied",
      status: 403,
    });
    const key = objectNameFor([...inputs.keys()][2]!, "root-file");
    expect(await sdkFailure(s3.send(new GetObjectCommand({ Bucket: otherId, Key: key })))).toEqual({
      name: "AccessDenied",
      status: 403,
    });
    // The other request's own keys do.
    const other = s3For(accessOf(await status(app, otherId)));
    const got = await other.send(new GetObjectCommand({ Bucket: otherId, Key: key }));
    expect((await bytesOf(got.Body)).equals(inputs.get([...inputs.keys()][2]!)!)).toBe(true);
    s3.destroy();
    other.destroy();
  });

  it("then '..', encoded traversal, absolute keys, hidden files and symlinks leaving the directory are refused", async () => {
    const creds = { accessKey: access.accessKey, secretKey: access.secretKey };
    const secretOutside = join(work, "secret.txt");
    writeFileSync(secretOutside, "top secret");
    const dir = join(results, id);
    symlinkSync(secretOutside, join(dir, "link-out.root"));
    mkdirSync(join(work, "elsewhere"), { recursive: true });
    writeFileSync(join(work, "elsewhere", "x.root"), "outside");
    symlinkSync(join(work, "elsewhere"), join(dir, "dir-out"));
    writeFileSync(join(dir, ".part-abc"), "partial");
    const otherKey = objectNameFor([...inputs.keys()][2]!, "root-file");
    const attempts = [
      `/s3/${id}/../${otherId}/${encodeURIComponent(otherKey)}`,
      `/s3/${id}/..%2F${otherId}%2F${encodeURIComponent(otherKey)}`,
      `/s3/${id}/%2E%2E%2F%2E%2E%2Fsecret.txt`,
      `/s3/${id}/..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd`,
      `/s3/${id}/%2Fetc%2Fpasswd`,
      `/s3/${id}//etc/passwd`,
      `/s3/${id}/link-out.root`,
      `/s3/${id}/dir-out/x.root`,
      `/s3/${id}/dir-out%2Fx.root`,
      `/s3/${id}/.part-abc`,
      `/s3/${id}/a%5C..%5C..%5Csecret.txt`,
      `/s3/${id}/x%00.root`,
      `/s3/../results/${id}/link-out.root`,
    ];
    for (const p of attempts) {
      const r = await rawSignedGet(p, creds);
      expect([403, 404], `${p}: ${r.status} ${r.body}`).toContain(r.status);
      expect(r.body).not.toContain("top secret");
      expect(r.body).not.toContain("outside");
      expect(r.body).toMatch(/<Code>(NoSuchKey|AccessDenied|InvalidURI)<\/Code>/);
    }
    // A correctly signed request for a real key passes the same way, so the refusals above are the path's.
    const ok = await rawSignedGet(
      `/s3/${id}/${encodeURIComponent(objectNameFor([...inputs.keys()][1]!, "root-file"))}`,
      creds,
    );
    expect(ok.status).toBe(200);
    // None of them is listed.
    const listed = await s3For(access).send(new ListObjectsV2Command({ Bucket: id }));
    expect(listed.Contents?.map((c) => c.Key)).not.toEqual(
      expect.arrayContaining([expect.stringMatching(/link-out|dir-out|\.part-/)]),
    );
    expect(listed.KeyCount).toBe(inputs.size);
  });

  it("then PUT, DELETE and POST are refused with 405 MethodNotAllowed and change nothing", async () => {
    const s3 = s3For(access);
    const key = objectNameFor([...inputs.keys()][1]!, "root-file");
    expect(
      await sdkFailure(s3.send(new PutObjectCommand({ Bucket: id, Key: "new.root", Body: "x" }))),
    ).toMatchObject({
      status: 405,
    });
    expect(
      await sdkFailure(s3.send(new PutObjectCommand({ Bucket: id, Key: key, Body: "overwritten" }))),
    ).toMatchObject({
      status: 405,
    });
    expect(await sdkFailure(s3.send(new DeleteObjectCommand({ Bucket: id, Key: key })))).toMatchObject({
      status: 405,
    });
    const post = await fetch(`${app.url}/s3/${id}?delete`, { method: "POST", body: "<Delete/>" });
    expect(post.status).toBe(405);
    expect(await post.text()).toContain("<Code>MethodNotAllowed</Code>");
    expect(readFileSync(join(results, id, key)).equals(inputs.get([...inputs.keys()][1]!)!)).toBe(true);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: id }));
    expect(listed.Contents?.map((c) => c.Key)).not.toContain("new.root");
    s3.destroy();
  });

  it("then a bucket of more than 1,000 keys lists in pages with continuation tokens, prefix and max-keys", async () => {
    const rid = await submit(app, [join(work, "missing", `${randomUUID()}.root`)]);
    await completed(app, rid);
    const dir = join(results, rid);
    mkdirSync(dir, { recursive: true });
    const names = Array.from({ length: 1205 }, (_, i) => `out:${String(i).padStart(5, "0")}.root`);
    for (const n of names) writeFileSync(join(dir, n), n);
    const s3 = s3For(accessOf(await status(app, rid)));
    const pages: number[] = [];
    const keys: string[] = [];
    for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: rid })) {
      pages.push(page.KeyCount ?? 0);
      for (const c of page.Contents ?? []) keys.push(c.Key!);
    }
    expect(pages).toEqual([1000, 205]);
    expect(keys).toEqual(names);
    const small = await s3.send(new ListObjectsV2Command({ Bucket: rid, Prefix: "out:0012", MaxKeys: 4 }));
    expect(small.Contents?.map((c) => c.Key)).toEqual(names.slice(120, 124));
    expect(small.IsTruncated).toBe(true);
    const rest = await s3.send(
      new ListObjectsV2Command({
        Bucket: rid,
        Prefix: "out:0012",
        ContinuationToken: small.NextContinuationToken,
      }),
    );
    expect(rest.Contents?.map((c) => c.Key)).toEqual(names.slice(124, 130));
    const bad = await sdkFailure(
      s3.send(new ListObjectsV2Command({ Bucket: rid, ContinuationToken: "bogus!" })),
    );
    expect(bad).toEqual({ name: "InvalidArgument", status: 400 });
    s3.destroy();
  });

  it("then a delimiter groups keys below a prefix into common prefixes, across pages", async () => {
    const rid = await submit(app, [join(work, "missing", `${randomUUID()}.root`)]);
    await completed(app, rid);
    const dir = join(results, rid);
    for (const k of ["a/1.root", "a/2.root", "b.root", "c/x/3.root", "d.root"]) {
      mkdirSync(join(dir, k, ".."), { recursive: true });
      writeFileSync(join(dir, k), k);
    }
    const s3 = s3For(accessOf(await status(app, rid)));
    const all = await s3.send(new ListObjectsV2Command({ Bucket: rid, Delimiter: "/" }));
    expect(all.CommonPrefixes?.map((p) => p.Prefix)).toEqual(["a/", "c/"]);
    expect(all.Contents?.map((c) => c.Key)).toEqual(["b.root", "d.root"]);
    const seen: string[] = [];
    for await (const page of paginateListObjectsV2(
      { client: s3, pageSize: 1 },
      { Bucket: rid, Delimiter: "/" },
    )) {
      expect(page.KeyCount).toBe(1);
      seen.push(
        ...(page.CommonPrefixes ?? []).map((p) => p.Prefix!),
        ...(page.Contents ?? []).map((c) => c.Key!),
      );
    }
    expect(seen).toEqual(["a/", "b.root", "c/", "d.root"]);
    const nested = await s3.send(new ListObjectsV2Command({ Bucket: rid, Prefix: "c/" }));
    expect(nested.Contents?.map((c) => c.Key)).toEqual(["c/x/3.root"]);
    const got = await s3.send(new GetObjectCommand({ Bucket: rid, Key: "a/2.root" }));
    expect((await bytesOf(got.Body)).toString()).toBe("a/2.root");
    s3.destroy();
  });

  it("then the listing answers exactly in S3's XML form", async () => {
    const key = objectNameFor([...inputs.keys()][2]!, "root-file");
    const url = presignGetV4({
      base: `http://${access.endpoint}`,
      path: `/${otherId}`,
      credentials: accessOf(await status(app, otherId)),
      expiresIn: 60,
    });
    const res = await fetch(`${url}&list-type=2`);
    // The extra parameter is not signed: refused.
    expect(res.status).toBe(403);
    const signed = await getSignedUrl(
      s3For(accessOf(await status(app, otherId))),
      new ListObjectsV2Command({ Bucket: otherId }),
      { expiresIn: 60 },
    );
    const list = await fetch(signed);
    expect(list.status).toBe(200);
    const xml = await list.text();
    expect(xml).toMatch(
      new RegExp(
        `^<\\?xml version="1.0" encoding="UTF-8"\\?>\\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${otherId}</Name><Prefix></Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated><Contents><Key>${key.replace(/[()+]/g, "\\$&")}</Key><LastModified>\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z</LastModified><ETag>&quot;[0-9a-f]{32}&quot;</ETag><Size>4096</Size><StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>$`,
      ),
    );
  });

  it("then GET /transformation-request/<id>/results/<file> downloads a result, with the same path checks", async () => {
    const [path, data] = [...inputs][3]!;
    const key = objectNameFor(path, "root-file");
    const res = await fetch(`${app.url}/transformation-request/${id}/results/${encodeURIComponent(key)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toContain("attachment;");
    expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true);
    for (const bad of [
      "..%2F..%2Fsecret.txt",
      "link-out.root",
      "dir-out%2Fx.root",
      ".part-abc",
      "nothing.root",
    ]) {
      const r = await httpCall(`${app.url}/transformation-request/${id}/results/${bad}`, "GET");
      expect(r.status, bad).toBe(404);
      expect(r.text).not.toContain("top secret");
    }
    const unknown = await httpCall(
      `${app.url}/transformation-request/${randomUUID()}/results/${encodeURIComponent(key)}`,
      "GET",
    );
    expect(unknown.status).toBe(404);
    expect(unknown.json).toMatchObject({ code: "not_found" });
  });
});

describe("When sign-in is on (ENABLE_AUTH=true)", () => {
  let authApp: TestApp;
  let authResults: string;
  const tokens: Record<string, string> = {};
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    authResults = join(work, "auth-results");
    authApp = await startTestApp({
      backend: "pglite",
      broker: "memory",
      env: {
        RESULTS_DIR: authResults,
        ENABLE_AUTH: "true",
        JWT_SECRET_KEY: randomBytes(32).toString("hex"),
        SECRET_KEY: randomBytes(32).toString("hex"),
      },
    });
    for (const [who, admin] of [
      ["alice", false],
      ["bob", false],
      ["root", true],
    ] as const) {
      const email = `${who}.${randomBytes(3).toString("hex")}@local-s3.example`;
      const u = await authApp.deps.users.provision({
        sub: `${who}-${randomUUID()}`,
        email,
        name: who,
        institution: "U",
      });
      await authApp.deps.users.accept(email);
      if (admin) await authApp.deps.db.sql.query("UPDATE users SET admin = true WHERE id = $1", [u!.id]);
      tokens[who] = authApp.deps.jwt!.issue("access", email).token;
    }
    for (const who of ["alice", "bob"]) {
      const r = await httpCall(`${authApp.url}/servicex/transformation`, "POST", {
        token: tokens[who],
        body: {
          "file-list": ["/nowhere/x.root"],
          selection: "s",
          codegen: "passthrough",
          "result-destination": "object-store",
        },
      });
      expect(r.status, r.text).toBe(200);
      ids[who] = (r.json as { request_id: string }).request_id;
      mkdirSync(join(authResults, ids[who]!), { recursive: true });
      writeFileSync(join(authResults, ids[who]!, "out.root"), `${who}'s result`);
    }
  }, 60_000);
  afterAll(async () => {
    await authApp?.close();
  });

  const download = (rid: string, token?: string) =>
    httpCall(`${authApp.url}/transformation-request/${rid}/results/out.root`, "GET", token ? { token } : {});

  it("then the owner and an admin download a result and another user gets 404", async () => {
    expect((await download(ids.alice!, tokens.alice)).text).toBe("alice's result");
    expect((await download(ids.alice!, tokens.root)).text).toBe("alice's result");
    const bob = await download(ids.alice!, tokens.bob);
    expect(bob.status).toBe(404);
    expect(bob.text).not.toContain("alice's result");
    const anonymous = await fetch(`${authApp.url}/transformation-request/${ids.alice}/results/out.root`, {
      redirect: "manual",
    });
    expect(anonymous.status).toBe(302);
    expect(anonymous.headers.get("location")).toMatch(/^\/sign-in\?next=/);
  });

  it("then only the owner's status answer carries the key pair, and it opens only the owner's bucket", async () => {
    const mine = await httpCall(`${authApp.url}/servicex/transformation/${ids.alice}`, "GET", {
      token: tokens.alice,
    });
    expect(mine.status).toBe(200);
    const a = accessOf(mine.json as Record<string, unknown>);
    expect(a.accessKey).toBe(`local-${ids.alice}`);
    const theirs = await httpCall(`${authApp.url}/servicex/transformation/${ids.alice}`, "GET", {
      token: tokens.bob,
    });
    expect(theirs.status).toBe(403);
    expect(theirs.text).not.toContain(a.secretKey);
    const s3 = s3For(a);
    const got = await s3.send(new GetObjectCommand({ Bucket: ids.alice, Key: "out.root" }));
    expect((await bytesOf(got.Body)).toString()).toBe("alice's result");
    expect(await sdkFailure(s3.send(new GetObjectCommand({ Bucket: ids.bob, Key: "out.root" })))).toEqual({
      name: "AccessDenied",
      status: 403,
    });
    s3.destroy();
  });
});
