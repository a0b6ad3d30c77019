// Order of the main tier's files: the longest first, so that the run does not end with one long file on one
// worker while the others sit idle. vitest's own order needs its results cache (node_modules/.vite), which a
// fresh clone does not have: it then goes by file size, which says little here (a short browser file can take
// minutes). test/durations.json holds each file's seconds from a full run (refresh it with
// `SX_TEST_DURATIONS=test/durations.json npm test`, see scripts/test.ts); a file missing from it (a new one)
// counts as long, so it starts early, as vitest does for files it does not know.
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

const NEW_FILE_SECONDS = 60;

function recorded(): Record<string, number> {
  try {
    return JSON.parse(readFileSync(new URL("../durations.json", import.meta.url), "utf8")) as Record<
      string,
      number
    >;
  } catch {
    return {};
  }
}

export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const seconds = recorded();
    const root = this.ctx.config.root;
    const cost = (f: TestSpecification) => seconds[relative(root, f.moduleId)] ?? NEW_FILE_SECONDS;
    return [...files].sort((a, b) => {
      if (a.project.name !== b.project.name) return a.project.name < b.project.name ? -1 : 1;
      return cost(b) - cost(a);
    });
  }
}
