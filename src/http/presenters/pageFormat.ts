// How the request and results pages write numbers, sizes, durations and rates for people (docs/api.md,
// "Pages"): sizes in decimal units as the Python client prints them (MB = 10^6 bytes), counts with thousands
// separators, nouns that agree with their number. Pure functions; the views get them as locals.

const EN = new Intl.NumberFormat("en-US");

/** 1234567 → "1,234,567"; null/undefined/NaN → "—". */
export function count(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? "—" : EN.format(v);
}

/** "1 point", "2 points", "1,000 files". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}

/** Three significant digits, no trailing zeros beyond what the magnitude needs: 1.5, 12.3, 123. */
function sig3(v: number): string {
  if (v >= 100) return EN.format(Math.round(v));
  if (v >= 10) return v.toFixed(1).replace(/\.0$/, "");
  return v.toFixed(2).replace(/\.?0+$/, "");
}

const BYTE_UNITS = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];

/** 0 → "0 B", 1536 → "1.54 kB", 4e12 → "4 TB"; null → "—". */
export function bytes(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  if (Math.abs(v) < 1000) return `${Math.round(v)} B`;
  let u = 0;
  let x = Math.abs(v);
  while (x >= 999.5 && u < BYTE_UNITS.length - 1) {
    x /= 1000;
    u++;
  }
  return `${v < 0 ? "-" : ""}${sig3(x)} ${BYTE_UNITS[u]}`;
}

/** A span of time for people: "850 ms", "12.3 s", "4 min 05 s", "3 h 12 min", "2 d 4 h". */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  const v = Math.max(0, ms);
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 60_000) return `${sig3(v / 1000)} s`;
  const s = Math.round(v / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  if (s < 86_400)
    return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

/** Seconds as reported per file: "0.042 s", "2.5 s", "1 min 03 s". */
export function seconds(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return "—";
  if (s > 0 && s < 0.001) return "< 1 ms";
  if (s < 10) return `${s.toFixed(3).replace(/\.?0+$/, "")} s`;
  return duration(s * 1000);
}

/** A rate per second: "12.3 files/s", "0.25 files/s"; null when it cannot be known. */
export function perSecond(v: number | null | undefined, unit: string): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  if (v > 0 && v < 0.01) return `< 0.01 ${unit}/s`;
  return `${sig3(v)} ${unit}/s`;
}

/** Bytes per second: "45.6 MB/s". */
export function byteRate(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  return `${bytes(v)}/s`;
}

/** A UTC instant as the pages print it without JavaScript (one line): "2026-12-13 09:41:07 UTC". */
export function utc(d: Date): string {
  return `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The selection as a person reads it. The Python client sends the `python` code generator's function
 * base64-encoded (docs/codegen.md); any selection that is strict base64 of UTF-8 text (letters, digits,
 * whitespace, punctuation; no other control characters) is shown decoded. Everything else as it came.
 */
export function readableSelection(sel: string | null): { text: string; decoded: boolean } {
  const raw = sel ?? "";
  const compact = raw.replace(/\s+/g, "");
  if (compact.length < 8 || compact.length > 4_000_000 || !B64.test(compact)) {
    return { text: raw, decoded: false };
  }
  const buf = Buffer.from(compact, "base64");
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(buf);
  } catch {
    return { text: raw, decoded: false };
  }
  // Binary that happens to decode as UTF-8 is not a program: control characters other than tab/newline/CR.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the check is about control characters
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text) || !/[\s(=:]/.test(text)) {
    return { text: raw, decoded: false };
  }
  return { text, decoded: true };
}
