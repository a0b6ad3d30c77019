// A strict parser of the Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/), for asserting on /metrics. It throws on
// anything a Prometheus server would reject or that the format forbids: malformed lines, bad names or
// escapes, samples before their TYPE, a family split in two, duplicate series, HELP/TYPE given twice,
// histogram buckets that are not cumulative or whose +Inf bucket differs from _count.

export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestamp?: number;
}

export interface Family {
  name: string;
  help?: string;
  type: MetricType;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<MetricType>(["counter", "gauge", "histogram", "summary", "untyped"]);

export class PromParseError extends Error {
  constructor(lineNo: number, line: string, why: string) {
    super(`line ${lineNo}: ${why}: ${JSON.stringify(line)}`);
  }
}

function parseValue(s: string): number | null {
  if (s === "+Inf" || s === "Inf") return Number.POSITIVE_INFINITY;
  if (s === "-Inf") return Number.NEGATIVE_INFINITY;
  if (s === "NaN") return Number.NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return null;
  return Number(s);
}

/** The family a sample name belongs to, given the declared families (histogram/summary suffixes). */
function familyOf(sample: string, families: Map<string, Family>): string {
  if (families.has(sample)) return sample;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!sample.endsWith(suffix)) continue;
    const base = sample.slice(0, -suffix.length);
    const f = families.get(base);
    if (f && (f.type === "histogram" || (f.type === "summary" && suffix !== "_bucket"))) return base;
  }
  return sample;
}

/** Reads `{a="x",b="y"}` starting at s[i] === "{"; returns the labels and the index after "}". */
function parseLabels(
  s: string,
  start: number,
  fail: (why: string) => never,
): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  let i = start + 1;
  for (;;) {
    if (s[i] === "}") return [labels, i + 1];
    const eq = s.indexOf("=", i);
    if (eq < 0) fail("label without '='");
    const name = s.slice(i, eq).trim();
    if (!LABEL_NAME.test(name)) fail(`bad label name ${JSON.stringify(name)}`);
    if (name in labels) fail(`label ${name} given twice`);
    i = eq + 1;
    if (s[i] !== '"') fail("label value must be quoted");
    i += 1;
    let value = "";
    for (;;) {
      const c = s[i];
      if (c === undefined) fail("unterminated label value");
      if (c === '"') break;
      if (c === "\\") {
        const e = s[i + 1];
        if (e === "\\") value += "\\";
        else if (e === '"') value += '"';
        else if (e === "n") value += "\n";
        else fail(`bad escape \\${e ?? ""}`);
        i += 2;
        continue;
      }
      if (c === "\n") fail("raw newline in label value");
      value += c;
      i += 1;
    }
    labels[name] = value;
    i += 1;
    if (s[i] === ",") i += 1;
    else if (s[i] !== "}") fail("expected ',' or '}' after a label");
  }
}

export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  const seen = new Set<string>();
  let current: string | null = null;
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  lines.forEach((line, idx) => {
    const fail = (why: string): never => {
      throw new PromParseError(idx + 1, line, why);
    };
    if (line.trim() === "") return;
    if (line.startsWith("#")) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (!m) return; // an ordinary comment
      const [, kind, name, rest = ""] = m as unknown as [string, string, string, string?];
      if (!METRIC_NAME.test(name)) fail("bad metric name");
      let f = families.get(name);
      if (f && closed.has(name)) fail(`family ${name} continues after another family`);
      if (!f) {
        f = { name, type: "untyped", samples: [] };
        families.set(name, f);
      }
      if (current !== null && current !== name) closed.add(current);
      current = name;
      if (kind === "HELP") {
        if (f.help !== undefined) fail("HELP given twice");
        if (/\\(?![\\n])/.test(rest)) fail("bad escape in HELP");
        f.help = rest.replace(/\\(\\|n)/g, (_, e: string) => (e === "n" ? "\n" : "\\"));
      } else {
        if ((f as Family & { typed?: boolean }).typed) fail("TYPE given twice");
        if (f.samples.length > 0) fail("TYPE after samples");
        if (!TYPES.has(rest.trim() as MetricType)) fail(`unknown type ${rest}`);
        f.type = rest.trim() as MetricType;
        (f as Family & { typed?: boolean }).typed = true;
      }
      return;
    }
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!nameMatch) fail("bad sample name");
    const sampleName = nameMatch![0];
    let i = sampleName.length;
    let labels: Record<string, string> = {};
    if (line[i] === "{") [labels, i] = parseLabels(line, i, fail);
    const tail = line.slice(i);
    const parts = tail.trim().split(/\s+/);
    if (!/^\s/.test(tail) || parts.length < 1 || parts.length > 2) fail("expected ' value [timestamp]'");
    const value = parseValue(parts[0]!);
    if (value === null) fail(`bad value ${parts[0]}`);
    let timestamp: number | undefined;
    if (parts[1] !== undefined) {
      if (!/^-?\d+$/.test(parts[1])) fail("bad timestamp");
      timestamp = Number(parts[1]);
    }
    const familyName = familyOf(sampleName, families);
    let f = families.get(familyName);
    if (f && closed.has(familyName)) fail(`family ${familyName} continues after another family`);
    if (!f) {
      f = { name: familyName, type: "untyped", samples: [] };
      families.set(familyName, f);
    }
    if (current !== null && current !== familyName) closed.add(current);
    current = familyName;
    if (f.type === "histogram" && sampleName === `${familyName}_bucket`) {
      if (labels.le === undefined) fail("histogram bucket without le");
      if (parseValue(labels.le!) === null) fail("bad le");
    }
    if (f.type === "histogram" && sampleName === familyName) fail("histogram sample without a suffix");
    const key = `${sampleName}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) fail("duplicate series");
    seen.add(key);
    f.samples.push({
      name: sampleName,
      labels,
      value: value!,
      ...(timestamp !== undefined ? { timestamp } : {}),
    });
  });
  for (const f of families.values()) if (f.type === "histogram") checkHistogram(f);
  return families;
}

function checkHistogram(f: Family): void {
  const groups = new Map<string, Sample[]>();
  const keyOf = (l: Record<string, string>) =>
    JSON.stringify(
      Object.entries(l)
        .filter(([k]) => k !== "le")
        .sort(),
    );
  for (const s of f.samples) {
    const k = keyOf(s.labels);
    groups.set(k, [...(groups.get(k) ?? []), s]);
  }
  for (const [k, samples] of groups) {
    const buckets = samples
      .filter((s) => s.name === `${f.name}_bucket`)
      .map((s) => [parseValue(s.labels.le!)!, s.value] as const)
      .sort((a, b) => a[0] - b[0]);
    const count = samples.find((s) => s.name === `${f.name}_count`);
    const sum = samples.find((s) => s.name === `${f.name}_sum`);
    if (!count || !sum) throw new Error(`histogram ${f.name}${k}: _sum or _count missing`);
    const inf = buckets[buckets.length - 1];
    if (!inf || inf[0] !== Number.POSITIVE_INFINITY)
      throw new Error(`histogram ${f.name}${k}: no +Inf bucket`);
    if (inf[1] !== count.value) throw new Error(`histogram ${f.name}${k}: +Inf bucket != _count`);
    for (let i = 1; i < buckets.length; i++) {
      if (buckets[i]![1] < buckets[i - 1]![1])
        throw new Error(`histogram ${f.name}${k}: buckets not cumulative`);
    }
  }
}

/** The value of the one sample named `name` whose labels include `labels`; undefined when absent. */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const matches = samplesOf(families, name, labels);
  if (matches.length > 1)
    throw new Error(`${name} ${JSON.stringify(labels)} matches ${matches.length} samples`);
  return matches[0]?.value;
}

/** Every sample named `name` whose labels include `labels`. */
export function samplesOf(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): Sample[] {
  const f = families.get(familyOf(name, families));
  return (f?.samples ?? []).filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}
