import { createHash } from "node:crypto";

export interface ParsedDid {
  scheme: string;
  /** Everything after `scheme://`, including `?files=N&get=…` which the DID finder interprets. */
  did: string;
  fullDid: string;
}

/** Contract §3.4: `^(\w+)://(.*)$`; without a scheme the default one applies. */
export function parseDid(did: string, defaultScheme: string): ParsedDid {
  const m = /^(\w+):\/\/(.*)$/s.exec(did);
  const scheme = m ? m[1]! : defaultScheme;
  const rest = m ? m[2]! : did;
  return { scheme, did: rest, fullDid: `${scheme}://${rest}` };
}

/** Dataset name of a file-list submit: sha256 of the paths joined with one space (upstream). */
export function fileListDatasetName(files: readonly string[]): string {
  return createHash("sha256").update(files.join(" ")).digest("hex");
}
