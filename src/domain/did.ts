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

/** Dataset name of a file-list submit: sha256 of the paths joined with one space (upstream). */
export function fileListDatasetName(files: readonly string[]): string {
  return createHash("sha256").update(files.join(" ")).digest("hex");
}
