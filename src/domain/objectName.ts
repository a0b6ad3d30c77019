import { createHash } from "node:crypto";

/** The sidecar's longest output name (MAX_PATH_LEN). */
const MAX_NAME = 255;

/**
 * The object key a transformer sidecar gives the output of one input file (docs/decisions.md D28): the path with
 * "/" replaced by ":" (plus ".parquet" for parquet output), and past 255 characters "_" + sha1 + the tail.
 * Old sidecars do not report it, so the App derives it the same way.
 */
export function objectNameFor(filePath: string, resultFormat: string): string {
  const name = filePath.replaceAll("/", ":") + (resultFormat === "parquet" ? ".parquet" : "");
  if (name.length <= MAX_NAME) return name;
  const sha = createHash("sha1").update(name, "utf8").digest("hex");
  return `_${sha}${name.slice(-(MAX_NAME - sha.length - 1))}`;
}
