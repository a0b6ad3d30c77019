// The request page's progress plot: a server-rendered SVG step chart of files completed and failed over
// time, from the progress history. No chart library and no JavaScript needed to see it; the live page swaps
// in a fresh copy from /transformation-request/<id>/history.svg.
//
// Layout (docs/api.md, "Pages"): the outer <svg> has no viewBox, so its labels are drawn at the page's font
// size at any width (a phone no longer shrinks a 720-px drawing to a third, with overlapping labels); its
// height comes from the stylesheet. Positions are percentages of the box. The lines live in an inner <svg>
// stretched over the plot area (viewBox 1000×1000, preserveAspectRatio="none") with non-scaling strokes.
// The time axis counts from the submission (no clock time: the page shows its times in one zone, and the
// chart needs none). The y axis ends at the file count, with round steps that divide it where possible.
import type { ProgressPoint } from "../../adapters/repositories/progress.repo.js";
import { count, duration, plural } from "./pageFormat.js";
import { statusDisplay } from "./progress.presenter.js";

/** The plot area, in percent of the chart's height: below the legend row, above the time labels. */
const TOP = 12;
const BOTTOM = 86;
/** Horizontal resolution the series are reduced to (points closer than this share one x). */
const X_UNITS = 1000;

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/** Integer step sizes tried per decade: each divides into round labels. */
const FACTORS = [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7.5, 8, 10];

/**
 * Ticks of the y axis for counts up to `max`: 0 and 3–5 equal integer steps, the top as close above `max`
 * as round steps allow (a 60-file request: 0/15/30/45/60, not an axis to 100).
 */
export function axisTicks(max: number): { top: number; ticks: number[] } {
  const m = Math.max(1, Math.ceil(max));
  if (m <= 5) return { top: m, ticks: Array.from({ length: m + 1 }, (_, i) => i) };
  let best: { top: number; step: number } | null = null;
  for (const n of [4, 3, 5, 2]) {
    const raw = m / n;
    const p = 10 ** Math.floor(Math.log10(raw));
    for (const f of FACTORS) {
      const step = Math.round(f * p * 1e6) / 1e6;
      if (!Number.isInteger(step) || step * n < m) continue;
      if (!best || step * n < best.top) best = { top: step * n, step };
      break;
    }
  }
  const { top, step } = best!;
  return { top, ticks: Array.from({ length: Math.round(top / step) + 1 }, (_, i) => i * step) };
}

/**
 * `points` oldest first; `end` is where the time axis ends (the finish time, or now while the request runs);
 * `start` where it begins (the submission; default the first point); `files` the number of files known.
 */
export function progressChartSvg(
  points: readonly ProgressPoint[],
  o: { files: number; end: Date; start?: Date; id?: string },
): string {
  const id = o.id ?? "progress-chart";
  const open = `<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="${id}" role="img" aria-labelledby="${id}-title ${id}-desc" data-points="${points.length}">`;
  const title = `<title id="${id}-title">Files completed and failed over time</title>`;
  if (points.length === 0) {
    return `${open}${title}<desc id="${id}-desc">No progress recorded yet.</desc><text x="50%" y="50%" text-anchor="middle" class="chart-empty">No progress recorded yet</text></svg>`;
  }
  const first = points[0]!.time.getTime();
  const t0 = Math.min(o.start?.getTime() ?? first, first);
  const last = points[points.length - 1]!;
  const t1 = Math.max(o.end.getTime(), last.time.getTime(), t0 + 1000);
  const maxFailed = Math.max(...points.map((p) => p.filesFailed));
  const { top, ticks } = axisTicks(
    Math.max(o.files, ...points.map((p) => Math.max(p.filesCompleted, p.filesFailed))),
  );
  const pct = (v: number) => TOP + (BOTTOM - TOP) * (1 - v / top);
  const xu = (t: number) => ((t - t0) / (t1 - t0)) * X_UNITS;
  const yu = (v: number) => X_UNITS * (1 - v / top);

  // One point per x unit at most (the last of each), but every status change is kept.
  const kept: ProgressPoint[] = [];
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    const prev = kept[kept.length - 1];
    const next = points[i + 1];
    const sameX = next && Math.floor(xu(next.time.getTime())) === Math.floor(xu(p.time.getTime()));
    if (sameX && next.status === p.status && prev !== undefined && prev.status === p.status) continue;
    kept.push(p);
  }
  // Counters only grow: a step line (hold the value until the next point) reads truthfully. `from` skips
  // the leading points, the line rising there from zero (the failed line starts where it leaves zero,
  // instead of lying on the x axis until then).
  const line = (val: (p: ProgressPoint) => number, from = 0) => {
    const out: string[] = [];
    let prev: string | null = from > 0 ? yu(0).toFixed(1) : null;
    for (const p of kept.slice(from)) {
      const px = xu(p.time.getTime()).toFixed(1);
      if (prev !== null) out.push(`${px},${prev}`);
      prev = yu(val(p)).toFixed(1);
      out.push(`${px},${prev}`);
    }
    out.push(`${X_UNITS},${prev}`);
    return out.join(" ");
  };
  const grid = ticks
    .map((v) => {
      const y = pct(v).toFixed(2);
      return `<line class="grid" x1="0" x2="100%" y1="${y}%" y2="${y}%"/><text class="axis" x="2" y="${y}%" dy="-3">${count(v)}</text>`;
    })
    .join("");
  // One marker per status change, with the status and its time after submission as its tooltip.
  const marks: string[] = [];
  let lastStatus = "";
  for (const p of kept) {
    if (p.status === lastStatus) continue;
    lastStatus = p.status;
    const px = xu(p.time.getTime()).toFixed(1);
    const tip = `${esc(statusDisplay(p.status))} at +${esc(duration(p.time.getTime() - t0))}`;
    marks.push(
      `<g class="mark"><line x1="${px}" x2="${px}" y1="0" y2="${X_UNITS}" vector-effect="non-scaling-stroke"/><line class="hit" x1="${px}" x2="${px}" y1="0" y2="${X_UNITS}" vector-effect="non-scaling-stroke"/><title>${tip}</title></g>`,
    );
  }
  const span = duration(t1 - t0);
  const desc = `<desc id="${id}-desc">${plural(points.length, "point")} over ${esc(span)} since submission; now ${count(last.filesCompleted)} completed and ${count(last.filesFailed)} failed of ${plural(o.files, "file")}.</desc>`;
  const failedKey =
    maxFailed > 0
      ? `<tspan class="key failed">━</tspan> failed`
      : `<tspan class="key failed">━</tspan> failed: none`;
  return [
    open,
    title,
    desc,
    grid,
    `<svg class="plot" x="0" y="${TOP}%" width="100%" height="${BOTTOM - TOP}%" viewBox="0 0 ${X_UNITS} ${X_UNITS}" preserveAspectRatio="none" overflow="visible">`,
    marks.join(""),
    `<polyline class="series completed" points="${line((p) => p.filesCompleted)}" vector-effect="non-scaling-stroke"/>`,
    // A failed line that stays at zero would lie on the x axis: not drawn (the legend says "none"); one
    // that rises starts where it does.
    maxFailed > 0
      ? `<polyline class="series failed" points="${line(
          (p) => p.filesFailed,
          kept.findIndex((p) => p.filesFailed > 0),
        )}" vector-effect="non-scaling-stroke"/>`
      : "",
    "</svg>",
    `<text class="legend" x="100%" y="12" dy="0.2em" text-anchor="end"><tspan class="key completed">━</tspan> completed  ${failedKey}</text>`,
    `<text class="axis" x="0" y="100%" dy="-4">submitted</text>`,
    `<text class="axis" x="100%" y="100%" dy="-4" text-anchor="end">+${esc(span)}</text>`,
    "</svg>",
  ].join("");
}
