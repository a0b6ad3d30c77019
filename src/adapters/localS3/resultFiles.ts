// Read-only access to the local transformers' outputs, RESULTS_DIR/<request_id>/<object name>
// (docs/local-results.md). Every path comes from a caller, so each is checked: the request id must be a UUID,
// a key is "/"-separated segments none of which is empty, "." or "..", hidden (a leading "." — the
// transformers' partial outputs are `.part-*`), or holds "\" or NUL; the resolved real path (symlinks
// followed) must stay inside the request's directory, which must itself stay inside RESULTS_DIR; and only
// regular files are served. Listings show regular files only (no symlinks, no hidden entries).
import { createHash } from "node:crypto";
import { constants, type Stats } from "node:fs";
import { type FileHandle, lstat, open, readdir, realpath, stat } from "node:fs/promises";
import { join, sep } from "node:path";
import { REQUEST_ID } from "./keys.js";
import { utf8Compare } from "./signing.js";

/** S3's longest key. */
const MAX_KEY_BYTES = 1024;

export interface ResultFile {
  key: string;
  size: number;
  lastModified: Date;
  /** A quoted strong validator derived from inode, size and modification time (not an MD5 of the bytes). */
  etag: string;
}

export interface OpenResult extends ResultFile {
  handle: FileHandle;
}

/** True when `key` may name a result file (see the header). */
export function validResultKey(key: string): boolean {
  if (key === "" || Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES) return false;
  if (key.includes("\0") || key.includes("\\")) return false;
  return key.split("/").every((s) => s !== "" && !s.startsWith("."));
}

function etagOf(st: Stats): string {
  const h = createHash("md5").update(`${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`).digest("hex");
  return `"${h}"`;
}

const inside = (dir: string, p: string) => p.startsWith(dir.endsWith(sep) ? dir : dir + sep);

/** How long, and for how many requests, listed names are reused (keys()). */
const KEYS_TTL_MS = 30_000;
const KEYS_CACHED_DIRS = 8;

export class LocalResultFiles {
  private readonly keyCache = new Map<string, { mtime: number; at: number; keys: string[] }>();

  constructor(readonly root: string) {}

  /** The request's directory (real path), or null when it does not exist or leaves the root. */
  private async requestDir(requestId: string): Promise<string | null> {
    if (!REQUEST_ID.test(requestId)) return null;
    try {
      const root = await realpath(this.root);
      const dir = await realpath(join(root, requestId));
      return inside(root, dir) ? dir : null;
    } catch {
      return null;
    }
  }

  /**
   * Every key of the request, sorted in UTF-8 byte order as S3 lists them ([] when the request has no
   * directory yet). Only names; sizes are read for the page a caller returns (describeMany()).
   */
  async keys(requestId: string): Promise<string[]> {
    const dir = await this.requestDir(requestId);
    if (dir === null) return [];
    // A paginated listing of a large request reads the same directory once per page of 1,000: the sorted
    // names are kept while the directory's mtime is unchanged (entries added, renamed in or removed change
    // it), for at most KEYS_TTL_MS (changes inside subdirectories do not touch it).
    const mtime = (await stat(dir).catch(() => null))?.mtimeMs;
    const cached = this.keyCache.get(dir);
    if (cached && mtime !== undefined && cached.mtime === mtime && Date.now() - cached.at < KEYS_TTL_MS) {
      return cached.keys;
    }
    const out: string[] = [];
    const walk = async (abs: string, prefix: string, depth: number) => {
      if (depth > 16) return;
      let entries: import("node:fs").Dirent[];
      try {
        entries = await readdir(abs, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        if (e.name.startsWith(".")) continue;
        const key = prefix + e.name;
        if (e.isFile()) {
          if (validResultKey(key)) out.push(key);
        } else if (e.isDirectory()) await walk(join(abs, e.name), `${key}/`, depth + 1);
      }
    };
    await walk(dir, "", 0);
    out.sort(utf8Compare);
    if (mtime !== undefined) {
      this.keyCache.delete(dir);
      this.keyCache.set(dir, { mtime, at: Date.now(), keys: out });
      if (this.keyCache.size > KEYS_CACHED_DIRS) this.keyCache.delete(this.keyCache.keys().next().value!);
    }
    return out;
  }

  /**
   * Size, time and ETag of listed keys (one directory lookup, one lstat each; what is no longer a regular
   * file is left out). For listings only: reads go through open() and its full checks.
   */
  async describeMany(requestId: string, keys: readonly string[]): Promise<ResultFile[]> {
    const dir = await this.requestDir(requestId);
    if (dir === null) return [];
    const found = await Promise.all(
      keys.map(async (key) => {
        if (!validResultKey(key)) return null;
        const st = await lstat(join(dir, ...key.split("/"))).catch(() => null);
        return st?.isFile() ? { key, size: st.size, lastModified: st.mtime, etag: etagOf(st) } : null;
      }),
    );
    return found.filter((f): f is ResultFile => f !== null);
  }

  /** Opens a result file for reading after the checks of the header; null when refused or missing. */
  async open(requestId: string, key: string): Promise<OpenResult | null> {
    if (!validResultKey(key)) return null;
    const dir = await this.requestDir(requestId);
    if (dir === null) return null;
    let real: string;
    try {
      real = await realpath(join(dir, ...key.split("/")));
    } catch {
      return null;
    }
    if (!inside(dir, real)) return null;
    let handle: FileHandle;
    try {
      handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      return null;
    }
    const st = await handle.stat().catch(() => null);
    if (!st?.isFile()) {
      await handle.close();
      return null;
    }
    return { key, size: st.size, lastModified: st.mtime, etag: etagOf(st), handle };
  }
}
