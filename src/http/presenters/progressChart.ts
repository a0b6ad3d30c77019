// The request page's progress plot: a server-rendered SVG line chart of files completed and failed over
// time, from the progress history. No chart library and no JavaScript needed to see it; the
// live page swaps in a fresh copy from /transformation-request/<id>/history.svg.
import type { ProgressPoint } from "../../adapters/repositories/progress.repo.js";
import { statusDisplay } from "./progress.presenter.js";

const W = 720;
const H = 240;
const M = { left: 56, right: 16, top: 14, bottom: 34 };

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

const hms = (d: Date) => d.toISOString().slice(11, 19);

function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function niceMax(v: number): number {
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/**
 * `points` oldest first; `now` is where the time axis ends (the finish time, or the current time while the
 * request runs); `files` the number of files known (the y scale reaches at least that).
 */
export function progressChartSvg(
  points: readonly ProgressPoint[],
  o: { files: number; end: Date; id?: string },
): string {
  const id = o.id ?? "progress-chart";
  const title = `<title id="${id}-title">Files completed and failed over time</title>`;
  if (points.length === 0) {
    return `<svg class="chart" id="${id}" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="${id}-title">${title}<text x="${W / 2}" y="${H / 2}" text-anchor="middle" class="chart-empty">No progress recorded yet</text></svg>`;
  }
  const t0 = points[0]!.time.getTime();
  const t1 = Math.max(o.end.getTime(), points[points.length - 1]!.time.getTime(), t0 + 1000);
  const yMax = niceMax(Math.max(o.files, ...points.map((p) => Math.max(p.filesCompleted, p.filesFailed))));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const x = (t: number) => (M.left + ((t - t0) / (t1 - t0)) * pw).toFixed(1);
  const y = (v: number) => (M.top + ph - (v / yMax) * ph).toFixed(1);
  // Counters only grow: a step line (hold the value until the next point) reads truthfully.
  const line = (val: (p: ProgressPoint) => number) => {
    const out: string[] = [];
    let prev: string | null = null;
    for (const p of points) {
      const px = x(p.time.getTime());
      if (prev !== null) out.push(`${px},${prev}`);
      prev = y(val(p));
      out.push(`${px},${prev}`);
    }
    out.push(`${x(t1)},${prev}`);
    return out.join(" ");
  };
  const grid = [0, 0.5, 1]
    .map((f) => {
      const v = Math.round(yMax * f);
      return `<line class="grid" x1="${M.left}" x2="${W - M.right}" y1="${y(v)}" y2="${y(v)}"/><text class="axis" x="${M.left - 6}" y="${Number(y(v)) + 4}" text-anchor="end">${v.toLocaleString("en-US")}</text>`;
    })
    .join("");
  // One marker per status change, with the status as its tooltip.
  const marks: string[] = [];
  let last = "";
  for (const p of points) {
    if (p.status !== last) {
      last = p.status;
      const px = x(p.time.getTime());
      marks.push(
        `<g class="mark"><line x1="${px}" x2="${px}" y1="${M.top}" y2="${M.top + ph}"/><title>${esc(statusDisplay(p.status))} at ${hms(p.time)} UTC</title></g>`,
      );
    }
  }
  const lastP = points[points.length - 1]!;
  const desc = `<desc>${points.length} points from ${hms(points[0]!.time)} to ${hms(new Date(t1))} UTC; now ${lastP.filesCompleted} completed, ${lastP.filesFailed} failed of ${o.files} files.</desc>`;
  return [
    `<svg class="chart" id="${id}" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="${id}-title" data-points="${points.length}">`,
    title,
    desc,
    grid,
    marks.join(""),
    `<polyline class="series completed" points="${line((p) => p.filesCompleted)}"/>`,
    `<polyline class="series failed" points="${line((p) => p.filesFailed)}"/>`,
    `<text class="axis" x="${M.left}" y="${H - 10}">${hms(points[0]!.time)} UTC</text>`,
    `<text class="axis" x="${W - M.right}" y="${H - 10}" text-anchor="end">+${esc(duration(t1 - t0))}</text>`,
    `<g class="legend" transform="translate(${M.left + 10},${M.top + 4})"><rect class="completed" width="12" height="4" y="4"/><text x="18" y="10">completed</text><rect class="failed" x="100" width="12" height="4" y="4"/><text x="118" y="10">failed</text></g>`,
    "</svg>",
  ].join("");
}
