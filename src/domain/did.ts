import { createHash } from "node:crypto";

export interface ParsedDid {
  scheme: string;
  /** Everything after `scheme://`, including `?files=N&get=…` which the DID finder interprets. */
  did: string;
  fullDid: string;
}

/** docs/database.md: `^(\w+)://(.*)$`; without a scheme the default one applies. */
export function parseDid(did: string, defaultScheme: string): ParsedDid {
  const m = /^(\w+):\/\/(.*)$/s.exec(did);
  const scheme = m ? m[1]! : defaultScheme;
  const rest = m ? m[2]! : did;
  return { scheme, did: rest, fullDid: `${scheme}://${rest}` };
}

/**
 * Why a submitted DID cannot be looked up, or null when it can. parseDid accepts anything (the datasets
 * already stored must keep parsing); a new submit must name something: `rucio://`, `" "` or `://x` would
 * send the DID finder a lookup for an empty or meaningless name.
 */
export function didProblem(did: string): string | null {
  const sep = did.indexOf("://");
  if (sep >= 0 && !/^\w+$/.test(did.slice(0, sep))) {
    return `did ${JSON.stringify(did)} has an invalid scheme: expected <scheme>://<name>, the scheme made of letters, digits and _`;
  }
  const name = sep >= 0 ? did.slice(sep + 3) : did;
  if (name.trim() === "") return `did ${JSON.stringify(did)} names no dataset`;
  if (name !== name.trim()) return `did ${JSON.stringify(did)} begins or ends with white space`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused here
  if (/[\u0000-\u001f\u007f]/.test(did)) return `did ${JSON.stringify(did)} contains control characters`;
  return null;
}

/**
 * Dataset name of a file-list submit: sha256 of the paths joined with one space (upstream). Hashed a few
 * thousand paths at a time: a 1,000,000-path list is never joined into one string.
 */
export function fileListDatasetName(files: readonly string[]): string {
  const hash = createHash("sha256");
  const STEP = 1024;
  for (let i = 0; i < files.length; i += STEP) {
    const part = files.slice(i, i + STEP).join(" ");
    hash.update(i + STEP < files.length ? `${part} ` : part);
  }
  return hash.digest("hex");
}

/**
 * The file list as a submit keeps it (docs/decisions.md D17): sorted (as Array.prototype.sort orders
 * strings), each path once. A new array; the given one is left as it is.
 */
export function canonicalFileList(files: readonly string[]): string[] {
  const out = files.slice().sort();
  let n = 0;
  for (let i = 0; i < out.length; i++) {
    if (n === 0 || out[i] !== out[n - 1]) out[n++] = out[i]!;
  }
  out.length = n;
  return out;
}
