// S3ObjectStore against a real S3 implementation: moto's server (python3 -m moto.server), started here on a free
// port. Not skipped when moto is missing: beforeAll fails with instructions.

import { randomUUID } from "node:crypto";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  MAX_PRESIGN_EXPIRY_SECONDS,
  MemoryObjectStore,
  S3ObjectStore,
} from "../../src/adapters/objectStore/s3.store.js";
import { type MotoServer, startMoto } from "../helpers/moto.js";

const CREDS = { accessKey: "minio-access", secretKey: "minio-secret" };

let moto: MotoServer | undefined;
let port = 0;
let store: S3ObjectStore;
let sdk: S3Client;

beforeAll(async () => {
  moto = await startMoto();
  port = moto.port;
  store = new S3ObjectStore({ endpoint: `127.0.0.1:${port}`, secure: false, ...CREDS });
  sdk = new S3Client({
    region: "us-east-1",
    endpoint: `http://127.0.0.1:${port}`,
    forcePathStyle: true,
    credentials: { accessKeyId: CREDS.accessKey, secretAccessKey: CREDS.secretKey },
  });
}, 30_000);

afterAll(async () => {
  store?.close();
  sdk?.destroy();
  await moto?.stop();
});

async function putMany(bucket: string, n: number, concurrency = 64): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      await sdk.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `root:::eos:data:file_${i}.root.parquet`,
          Body: `x${i}`,
        }),
      );
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

describe("S3ObjectStore (moto)", () => {
  it("creates a bucket idempotently; deletes 2,500 objects page by page, then the bucket; deleting again is fine", async () => {
    const bucket = randomUUID();
    await store.createBucket(bucket);
    await store.createBucket(bucket);
    expect(await store.listBuckets()).toContain(bucket);

    await putMany(bucket, 2500);
    expect(await store.objectSize(bucket, "root:::eos:data:file_2499.root.parquet")).toBe(5);

    expect(await store.deleteBucketAndContents(bucket)).toBe(2500);
    expect(await store.listBuckets()).not.toContain(bucket);
    expect(await store.objectSize(bucket, "root:::eos:data:file_0.root.parquet")).toBeNull();

    expect(await store.deleteBucketAndContents(bucket)).toBe(0);
    expect(await store.deleteBucketAndContents(randomUUID())).toBe(0);
  });

  it("presigned GET downloads the bytes; signed for the public endpoint when configured; expiry capped at a week", async () => {
    const bucket = randomUUID();
    const key = "root:::eos:data:some dir/f+1.parquet";
    const bytes = new Uint8Array([0, 1, 2, 250, 251, 252, 10, 13]);
    await store.createBucket(bucket);
    await store.putObject(bucket, key, bytes);

    const direct = new URL(await store.presignGet(bucket, key, 3600));
    expect(direct.host).toBe(`127.0.0.1:${port}`);
    expect(direct.searchParams.get("X-Amz-Expires")).toBe("3600");
    const r1 = await fetch(direct);
    expect(r1.status).toBe(200);
    expect(new Uint8Array(await r1.arrayBuffer())).toEqual(bytes);

    const pub = new S3ObjectStore({
      endpoint: `127.0.0.1:${port}`,
      secure: false,
      publicEndpoint: `localhost:${port}`,
      publicSecure: false,
      ...CREDS,
    });
    try {
      const url = new URL(await pub.presignGet(bucket, key, 365 * 24 * 3600));
      expect(url.protocol).toBe("http:");
      expect(url.host).toBe(`localhost:${port}`);
      expect(url.pathname.startsWith(`/${bucket}/`)).toBe(true);
      expect(url.searchParams.get("X-Amz-Expires")).toBe(String(MAX_PRESIGN_EXPIRY_SECONDS));
      const r2 = await fetch(url);
      expect(r2.status).toBe(200);
      expect(new Uint8Array(await r2.arrayBuffer())).toEqual(bytes);

      const secure = new S3ObjectStore({
        endpoint: `127.0.0.1:${port}`,
        secure: false,
        publicEndpoint: "minio.example.org",
        publicSecure: true,
        ...CREDS,
      });
      const s = new URL(await secure.presignGet(bucket, key, 60));
      secure.close();
      expect(s.origin).toBe("https://minio.example.org");
    } finally {
      pub.close();
      await store.deleteBucketAndContents(bucket);
    }
  });

  it("objectSize (HEAD), listBuckets and ping", async () => {
    const buckets = [randomUUID(), randomUUID(), randomUUID()];
    for (const b of buckets) await store.createBucket(b);
    await store.putObject(buckets[0]!, "a:b.parquet", "hello world");
    await store.putObject(buckets[0]!, "empty", new Uint8Array());

    expect(await store.objectSize(buckets[0]!, "a:b.parquet")).toBe(11);
    expect(await store.objectSize(buckets[0]!, "empty")).toBe(0);
    expect(await store.objectSize(buckets[0]!, "missing")).toBeNull();
    expect(await store.objectSize(randomUUID(), "missing")).toBeNull();

    const listed = await store.listBuckets();
    for (const b of buckets) expect(listed).toContain(b);
    expect(await store.ping()).toBe(true);

    const down = new S3ObjectStore({ endpoint: "127.0.0.1:9", secure: false, ...CREDS });
    expect(await down.ping()).toBe(false);
    down.close();

    for (const b of buckets) await store.deleteBucketAndContents(b);
    const after = await store.listBuckets();
    for (const b of buckets) expect(after).not.toContain(b);
  });
});

describe("MemoryObjectStore", () => {
  it("has the same semantics", async () => {
    const m = new MemoryObjectStore({ publicEndpoint: "minio.example.org", publicSecure: true });
    await m.createBucket("b-1");
    await m.createBucket("b-1");
    await m.putObject("b-1", "x/y:z", "abc");
    await expect(m.putObject("nope", "k", "v")).rejects.toThrow(/bucket/);
    expect(await m.objectSize("b-1", "x/y:z")).toBe(3);
    expect(await m.objectSize("b-1", "other")).toBeNull();
    expect(await m.listBuckets()).toEqual(["b-1"]);
    const url = new URL(await m.presignGet("b-1", "x/y:z", 365 * 24 * 3600));
    expect(url.origin).toBe("https://minio.example.org");
    expect(url.searchParams.get("X-Amz-Expires")).toBe(String(MAX_PRESIGN_EXPIRY_SECONDS));
    expect(await m.ping()).toBe(true);
    expect(await m.deleteBucketAndContents("b-1")).toBe(1);
    expect(await m.deleteBucketAndContents("b-1")).toBe(0);
    expect(await m.listBuckets()).toEqual([]);
  });
});
