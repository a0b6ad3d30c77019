// Credentials of the local results endpoint (docs/local-results.md). One installation secret (LOCAL_S3_SECRET,
// else a random one kept in DATA_DIR/local-s3.secret, created at the first start) derives one key pair per
// request: access key `local-<request_id>`, secret key HMAC-SHA256(installation secret, request id). A pair
// therefore names its request, opens only that request's bucket, and needs no table: the App hands it out in
// the request's status answer, to whoever may read the request.
import { createHmac, randomBytes } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const ACCESS_PREFIX = "local-";
/** Request ids are UUIDs; nothing else is ever a bucket of this endpoint. */
export const REQUEST_ID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
export const SECRET_FILE = "local-s3.secret";

export interface RequestCredentials {
  accessKey: string;
  secretKey: string;
}

export class LocalS3Keys {
  constructor(private readonly installationSecret: Buffer) {
    if (installationSecret.length < 16) throw new Error("local S3 installation secret too short");
  }

  /** The key pair of one request. */
  forRequest(requestId: string): RequestCredentials {
    return {
      accessKey: `${ACCESS_PREFIX}${requestId}`,
      secretKey: createHmac("sha256", this.installationSecret)
        .update(`servicex local-s3 v1\n${requestId}`, "utf8")
        .digest("base64url"),
    };
  }

  /** The request an access key belongs to, or null for a key this installation never hands out. */
  requestOf(accessKey: string): string | null {
    if (!accessKey.startsWith(ACCESS_PREFIX)) return null;
    const id = accessKey.slice(ACCESS_PREFIX.length);
    return REQUEST_ID.test(id) ? id : null;
  }

  /** The secret key of an access key, or null when the access key is not one of ours. */
  secretFor(accessKey: string): string | null {
    const id = this.requestOf(accessKey);
    return id === null ? null : this.forRequest(id).secretKey;
  }
}

/**
 * The installation secret: the configured one; for DATA_DIR=memory:// a per-process random one; otherwise the
 * one in DATA_DIR/local-s3.secret, created (0600) when missing. Several processes starting together on one
 * DATA_DIR agree: the file is published with link(), which fails for all but the first.
 */
export function loadInstallationSecret(configured: string | undefined, dataDir: string): Buffer {
  if (configured) return Buffer.from(configured, "utf8");
  if (dataDir === "memory://") return randomBytes(32);
  const file = join(dataDir, SECRET_FILE);
  const read = (): Buffer | null => {
    try {
      const text = readFileSync(file, "utf8").trim();
      return /^[0-9a-f]{64}$/.test(text) ? Buffer.from(text, "hex") : null;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw e;
    }
  };
  const existing = read();
  if (existing) return existing;
  mkdirSync(dataDir, { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
  writeFileSync(tmp, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600 });
  try {
    linkSync(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  } finally {
    unlinkSync(tmp);
  }
  const made = read();
  if (!made) throw new Error(`${file} does not hold a 64-digit hex secret; remove it to make a new one`);
  return made;
}
