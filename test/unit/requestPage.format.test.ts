// The request and results pages' formatting (src/http/presenters/pageFormat.ts), the progress plot's y-axis
// ticks and drawing (src/http/presenters/progressChart.ts), and the timings derived from the history
// (timingOf in src/http/presenters/requestPage.presenter.ts).
import { describe, expect, it } from "vitest";
import type { ProgressPoint } from "../../src/adapters/repositories/progress.repo.js";
import type { RequestRecord } from "../../src/adapters/repositories/requests.repo.js";
import {
  bytes,
  count,
  duration,
  perSecond,
  plural,
  readableSelection,
  seconds,
} from "../../src/http/presenters/pageFormat.js";
import { axisTicks, progressChartSvg } from "../../src/http/presenters/progressChart.js";
import { timingOf } from "../../src/http/presenters/requestPage.presenter.js";

describe("pageFormat", () => {
  it("When numbers are written for people, then counts agree with their noun and sizes have units", () => {
    expect(plural(1, "point")).toBe("1 point");
    expect(plural(0, "point")).toBe("0 points");
    expect(plural(12_345, "file")).toBe("12,345 files");
    expect(count(null)).toBe("—");
    expect(bytes(0)).toBe("0 B");
    expect(bytes(999)).toBe("999 B");
    expect(bytes(1536)).toBe("1.54 kB");
    expect(bytes(4_000_000)).toBe("4 MB");
    expect(bytes(123_456_789_012)).toBe("123 GB");
    expect(bytes(999_600)).toBe("1 MB");
    expect(bytes(9.2e18)).toBe("9.2 EB");
    expect(duration(850)).toBe("850 ms");
    expect(duration(12_340)).toBe("12.3 s");
    expect(duration(245_000)).toBe("4 min 05 s");
    expect(duration(3 * 3600_000 + 12 * 60_000)).toBe("3 h 12 min");
    expect(duration(52 * 3600_000)).toBe("2 d 4 h");
    expect(seconds(0.25)).toBe("0.25 s");
    expect(seconds(0.0004)).toBe("< 1 ms");
    expect(seconds(0)).toBe("0 s");
    expect(seconds(2.5)).toBe("2.5 s");
    expect(seconds(63)).toBe("1 min 03 s");
    expect(perSecond(0.004, "files")).toBe("< 0.01 files/s");
    expect(perSecond(12.345, "files")).toBe("12.3 files/s");
  });

  it("When a selection is base64 of Python source, then it is shown decoded; anything else as it came", () => {
    const src = "def run_query(input_filenames=None):\n    import uproot\n    return {'x': 1}\n";
    expect(readableSelection(Buffer.from(src).toString("base64"))).toEqual({ text: src, decoded: true });
    const funcAdl = "(call Select (call EventDataset) (lambda (list e) (attr e 'Jets')))";
    expect(readableSelection(funcAdl)).toEqual({ text: funcAdl, decoded: false });
    // Words that happen to be valid base64, binary, and invalid UTF-8 stay as they are.
    for (const s of [
      "abcdefgh",
      Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8]).toString("base64"),
      "/////////w==",
    ]) {
      expect(readableSelection(s)).toEqual({ text: s, decoded: false });
    }
    expect(readableSelection(null)).toEqual({ text: "", decoded: false });
  });
});

describe("progress plot", () => {
  it("When the y axis is drawn for N files, then its ticks are round steps ending at or just above N", () => {
    expect(axisTicks(60)).toEqual({ top: 60, ticks: [0, 15, 30, 45, 60] });
    expect(axisTicks(40)).toEqual({ top: 40, ticks: [0, 10, 20, 30, 40] });
    expect(axisTicks(12)).toEqual({ top: 12, ticks: [0, 3, 6, 9, 12] });
    expect(axisTicks(3)).toEqual({ top: 3, ticks: [0, 1, 2, 3] });
    expect(axisTicks(0)).toEqual({ top: 1, ticks: [0, 1] });
    expect(axisTicks(100_000)).toEqual({ top: 100_000, ticks: [0, 25_000, 50_000, 75_000, 100_000] });
    for (let n = 1; n <= 5000; n++) {
      const { top, ticks } = axisTicks(n);
      expect(top).toBeGreaterThanOrEqual(n);
      expect(top, `top for ${n}`).toBeLessThanOrEqual(Math.max(n * 1.34, n + 1));
      expect(ticks.every((t) => Number.isInteger(t))).toBe(true);
      expect(ticks.length, `ticks for ${n}`).toBeGreaterThanOrEqual(2);
      expect(ticks.length).toBeLessThanOrEqual(6);
      expect(ticks.at(-1)).toBe(top);
    }
  });

  const at = (s: number, status: string, done: number, failed: number): ProgressPoint => ({
    time: new Date(Date.UTC(2026, 11, 13, 9, 0, s)),
    status,
    filesCompleted: done,
    filesFailed: failed,
    bytes: 0,
    events: 0,
  });

  it("When no file failed, then no failed line is drawn and the legend says so; when some did, it is drawn", () => {
    const clean = progressChartSvg(
      [at(0, "running", 0, 0), at(10, "running", 30, 0), at(20, "complete", 60, 0)],
      {
        files: 60,
        end: new Date(Date.UTC(2026, 11, 13, 9, 0, 20)),
      },
    );
    expect(clean).not.toContain('class="series failed"');
    expect(clean).toContain("failed: none");
    expect(clean).toContain('data-points="3"');
    expect(clean).not.toMatch(/\d\d:\d\d:\d\d/); // no clock time: the axis counts from the submission
    expect([...clean.matchAll(/<text class="axis" x="2"[^>]*>([^<]+)</g)].map((m) => m[1])).toEqual([
      "0",
      "15",
      "30",
      "45",
      "60",
    ]);
    const failed = progressChartSvg([at(0, "running", 0, 0), at(20, "complete", 50, 10)], {
      files: 60,
      end: new Date(Date.UTC(2026, 11, 13, 9, 0, 20)),
    });
    expect(failed).toContain('class="series failed"');
    // It rises where the first failure is, instead of lying on the x axis before.
    const firstVertex = /class="series failed" points="([\d.]+),([\d.]+)/.exec(failed)!;
    expect([Number(firstVertex[1]), Number(firstVertex[2])]).toEqual([1000, 1000]);
    expect(failed).toContain("2 points over 20 s since submission");
    const one = progressChartSvg([at(0, "running", 0, 0)], { files: 1, end: new Date() });
    expect(one).toContain("1 point over");
  });

  it("When the history has thousands of points, then the lines keep at most one per x unit and every status change", () => {
    const many: ProgressPoint[] = [at(0, "lookup", 0, 0)];
    for (let i = 1; i <= 5000; i++)
      many.push({ ...at(0, "running", i, 0), time: new Date(many[0]!.time.getTime() + i * 100) });
    many.push({ ...at(0, "complete", 5000, 0), time: new Date(many[0]!.time.getTime() + 500_100) });
    const svg = progressChartSvg(many, { files: 5000, end: many.at(-1)!.time });
    const pts = /class="series completed" points="([^"]+)"/.exec(svg)![1]!.split(" ");
    expect(pts.length).toBeLessThanOrEqual(2 * 1004); // 5,002 points, 10,005 vertices unreduced
    expect((svg.match(/<g class="mark">/g) ?? []).length).toBe(3); // lookup, running, complete
    expect(svg).toContain('data-points="5002"');
  });
});

describe("request timings", () => {
  const rec = (o: Partial<RequestRecord>): RequestRecord =>
    ({
      submitTime: new Date(0),
      finishTime: null,
      status: "running",
      files: 100,
      filesCompleted: 0,
      filesFailed: 0,
      totalBytes: 0,
      ...o,
    }) as RequestRecord;
  const p = (ms: number, status: string): ProgressPoint => ({
    time: new Date(ms),
    status,
    filesCompleted: 0,
    filesFailed: 0,
    bytes: 0,
    events: 0,
  });

  it("When a request looked its dataset up for 30 s and then did 40 files in 20 s, then its lookup time, rate and time left follow", () => {
    const t = timingOf(
      rec({ filesCompleted: 30, filesFailed: 10, totalBytes: 40e6 }),
      [p(0, "lookup"), p(30_000, "running")],
      50_000,
    );
    expect(t).toMatchObject({ lookupMs: 30_000, noLookup: false, runStartMs: 30_000, elapsedMs: 50_000 });
    expect(t.filesPerSecond).toBeCloseTo(2);
    expect(t.bytesPerSecond).toBeCloseTo(2e6);
    expect(t.etaMs).toBeCloseTo(30_000);
  });

  it("When the files were known at submission, then no lookup is reported; a finished request has no estimate", () => {
    const t = timingOf(
      rec({ status: "complete", finishTime: new Date(10_000), filesCompleted: 100 }),
      [p(5, "running"), p(10_000, "complete")],
      99_000,
    );
    expect(t).toMatchObject({ noLookup: true, lookupMs: null, etaMs: null, elapsedMs: 10_000 });
    expect(t.filesPerSecond).toBeCloseTo(10, 1);
  });
});
