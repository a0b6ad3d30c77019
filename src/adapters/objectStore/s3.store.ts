// S3/MinIO object store (docs/object-store.md) on @aws-sdk/client-s3, path-style addressing. Two clients: one on
// MINIO_URL for the App's own calls, one on MINIO_PUBLIC_URL that only signs URLs handed to clients (a SigV4
// signature covers the Host header, so a URL must be signed for the host the client will use; signing needs no
// network). Checksums are computed/validated only when an operation requires them: MinIO and other S3-compatible
// servers reject or mishandle the CRC32 trailers newer SDKs send by default.

import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { Logger } from "../../logger.js";
import { type ObjectStore, clampPresignExpiry } from "./objectStore.js";

export { type ObjectStore, MAX_PRESIGN_EXPIRY_SECONDS, clampPresignExpiry } from "./objectStore.js";
export { MemoryObjectStore } from "./memory.store.js";

export interface S3ObjectStoreOptions {
  /** host:port as MINIO_URL (a leading http:// or https:// is accepted and wins over `secure`). */
  endpoint: string;
  secure: boolean;
  accessKey: string;
  secretKey: string;
  /** host:port as MINIO_PUBLIC_URL: presigned URLs handed to clients use it. */
  publicEndpoint?: string;
  /** Scheme of the public endpoint (MINIO_ENCRYPT_PUBLIC); defaults to `secure`. */
  publicSecure?: boolean;
  region?: string;
  logger?: Logger;
}

/** S3 allows at most 1,000 keys per DeleteObjects and returns at most 1,000 per ListObjectsV2 page. */
const BATCH = 1000;

function endpointUrl(endpoint: string, secure: boolean): string {
  if (/^https?:\/\//i.test(endpoint)) return endpoint.replace(/\/+$/, "");
  return `${secure ? "https" : "http"}://${endpoint.replace(/\/+$/, "")}`;
}

function errorName(err: unknown): string {
  return typeof err === "object" && err !== null && "name" in err
    ? String((err as { name: unknown }).name)
    : "";
}

function httpStatus(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null || !("$metadata" in err)) return undefined;
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

function isMissing(err: unknown): boolean {
  const name = errorName(err);
  return name === "NoSuchBucket" || name === "NoSuchKey" || name === "NotFound" || httpStatus(err) === 404;
}

export class S3ObjectStore implements ObjectStore {
  private readonly client: S3Client;
  private readonly signer: S3Client;
  private readonly logger: Logger | undefined;

  constructor(opts: S3ObjectStoreOptions) {
    const region = opts.region ?? "us-east-1";
    const credentials = { accessKeyId: opts.accessKey, secretAccessKey: opts.secretKey };
    const common = {
      region,
      credentials,
      forcePathStyle: true,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    } as const;
    this.client = new S3Client({ ...common, endpoint: endpointUrl(opts.endpoint, opts.secure) });
    this.signer = opts.publicEndpoint
      ? new S3Client({
          ...common,
          endpoint: endpointUrl(opts.publicEndpoint, opts.publicSecure ?? opts.secure),
        })
      : this.client;
    this.logger = opts.logger;
  }

  async createBucket(name: string): Promise<void> {
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: name }));
      this.logger?.info({ bucket: name }, "Created bucket");
    } catch (err) {
      const n = errorName(err);
      if (n === "BucketAlreadyOwnedByYou") return;
      if (n === "BucketAlreadyExists") {
        // Some servers say this for our own bucket too; it is fine only if we can reach it.
        await this.client.send(new HeadBucketCommand({ Bucket: name }));
        return;
      }
      throw err;
    }
  }

  async deleteBucketAndContents(name: string): Promise<number> {
    let deleted = 0;
    let token: string | undefined;
    try {
      do {
        const page = await this.client.send(
          new ListObjectsV2Command({ Bucket: name, MaxKeys: BATCH, ContinuationToken: token }),
        );
        const keys = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [{ Key: o.Key }]));
        for (let i = 0; i < keys.length; i += BATCH) {
          const batch = keys.slice(i, i + BATCH);
          const res = await this.client.send(
            new DeleteObjectsCommand({ Bucket: name, Delete: { Objects: batch, Quiet: true } }),
          );
          const errors = res.Errors ?? [];
          if (errors.length > 0) {
            const first = errors[0];
            throw new Error(
              `Deleting objects of bucket ${name} failed for ${errors.length} key(s), e.g. ${first?.Key}: ${first?.Code} ${first?.Message}`,
            );
          }
          deleted += batch.length;
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      await this.client.send(new DeleteBucketCommand({ Bucket: name }));
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
    this.logger?.info({ bucket: name, objects: deleted }, "Deleted bucket and contents");
    return deleted;
  }

  async listBuckets(): Promise<string[]> {
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListBucketsCommand({ ContinuationToken: token }));
      for (const b of page.Buckets ?? []) if (b.Name !== undefined) names.push(b.Name);
      token = page.ContinuationToken || undefined;
    } while (token);
    return names;
  }

  async putObject(bucket: string, key: string, body: Uint8Array | string): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  }

  async putFile(bucket: string, key: string, path: string): Promise<void> {
    const { size } = await stat(path);
    await this.client.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: createReadStream(path), ContentLength: size }),
    );
  }

  async presignGet(bucket: string, key: string, expirySeconds: number): Promise<string> {
    return getSignedUrl(this.signer, new GetObjectCommand({ Bucket: bucket, Key: key }), {
      expiresIn: clampPresignExpiry(expirySeconds),
    });
  }

  async objectSize(bucket: string, key: string): Promise<number | null> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return res.ContentLength ?? 0;
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async ping(): Promise<boolean> {
    try {
      await this.client.send(new ListBucketsCommand({ MaxBuckets: 1 }));
      return true;
    } catch (err) {
      this.logger?.warn({ err: String(err) }, "Object store ping failed");
      return false;
    }
  }

  close(): void {
    this.client.destroy();
    if (this.signer !== this.client) this.signer.destroy();
  }
}
