// Object store port (docs/object-store.md): one bucket per request, bucket name = request id. The App creates the bucket at
// submit (docs/decisions.md D28: the sidecar uploads before it reports), deletes it with its objects on DELETE (docs/api.md) and in the
// data-lifecycle job, and presigns GET URLs for the file-urls variant (docs/api.md).

/** SigV4 presigned URLs cannot outlive one week (the SDK refuses; MinIO and S3 reject them). */
export const MAX_PRESIGN_EXPIRY_SECONDS = 7 * 24 * 3600;

/** The expiry a presigned URL really gets for a requested expiry (at least 1 s, at most one week). */
export function clampPresignExpiry(expirySeconds: number): number {
  if (!Number.isFinite(expirySeconds)) return MAX_PRESIGN_EXPIRY_SECONDS;
  return Math.min(MAX_PRESIGN_EXPIRY_SECONDS, Math.max(1, Math.floor(expirySeconds)));
}

export interface ObjectStore {
  /** Creates the bucket; a bucket that exists already (and is ours) is fine. */
  createBucket(name: string): Promise<void>;
  /** Deletes every object of the bucket, then the bucket; a missing bucket is fine. Returns objects deleted. */
  deleteBucketAndContents(name: string): Promise<number>;
  /** Names of all buckets (all pages). */
  listBuckets(): Promise<string[]>;
  /** Writes one object (tests, local transformers). */
  putObject(bucket: string, key: string, body: Uint8Array | string): Promise<void>;
  /** Uploads a local file (streamed, with its length), e.g. a transformer's output. */
  putFile(bucket: string, key: string, path: string): Promise<void>;
  /**
   * Presigned GET URL, on the public endpoint when one is configured. The expiry is clamped with
   * clampPresignExpiry (callers reporting an expiry time should clamp the same way).
   */
  presignGet(bucket: string, key: string, expirySeconds: number): Promise<string>;
  /** Size in bytes (HEAD), null when the object or its bucket is missing. */
  objectSize(bucket: string, key: string): Promise<number | null>;
  /** True when the store answers. Never throws. */
  ping(): Promise<boolean>;
  /** Releases connections. */
  close(): void;
}
