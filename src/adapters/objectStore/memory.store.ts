// In-memory ObjectStore for tests of other modules: same semantics as S3ObjectStore (idempotent create and
// delete, null size for missing objects), fake presigned URLs on the public endpoint.

import { readFile } from "node:fs/promises";
import { type ObjectStore, clampPresignExpiry } from "./objectStore.js";

export interface MemoryObjectStoreOptions {
  /** host:port used in presigned URLs (default "memory.invalid"). */
  publicEndpoint?: string;
  publicSecure?: boolean;
}

export class MemoryObjectStore implements ObjectStore {
  readonly buckets = new Map<string, Map<string, Uint8Array>>();
  /** Set to false to make ping() report an unreachable store. */
  up = true;
  private readonly base: string;

  constructor(opts: MemoryObjectStoreOptions = {}) {
    this.base = `${opts.publicSecure ? "https" : "http"}://${opts.publicEndpoint ?? "memory.invalid"}`;
  }

  async createBucket(name: string): Promise<void> {
    if (!this.buckets.has(name)) this.buckets.set(name, new Map());
  }

  async deleteBucketAndContents(name: string): Promise<number> {
    const b = this.buckets.get(name);
    if (!b) return 0;
    this.buckets.delete(name);
    return b.size;
  }

  async listBuckets(): Promise<string[]> {
    return [...this.buckets.keys()].sort();
  }

  async putObject(bucket: string, key: string, body: Uint8Array | string): Promise<void> {
    const b = this.buckets.get(bucket);
    if (!b)
      throw Object.assign(new Error(`The specified bucket does not exist: ${bucket}`), {
        name: "NoSuchBucket",
      });
    b.set(key, typeof body === "string" ? new TextEncoder().encode(body) : body);
  }

  async putFile(bucket: string, key: string, path: string): Promise<void> {
    await this.putObject(bucket, key, new Uint8Array(await readFile(path)));
  }

  /** Keys of a bucket (sorted), or undefined when the bucket is missing. */
  keys(bucket: string): string[] | undefined {
    const b = this.buckets.get(bucket);
    return b ? [...b.keys()].sort() : undefined;
  }

  async presignGet(bucket: string, key: string, expirySeconds: number): Promise<string> {
    const path = `${encodeURIComponent(bucket)}/${key.split("/").map(encodeURIComponent).join("/")}`;
    return `${this.base}/${path}?X-Amz-Expires=${clampPresignExpiry(expirySeconds)}&X-Amz-Signature=memory`;
  }

  async objectSize(bucket: string, key: string): Promise<number | null> {
    return this.buckets.get(bucket)?.get(key)?.byteLength ?? null;
  }

  async ping(): Promise<boolean> {
    return this.up;
  }

  close(): void {}
}
