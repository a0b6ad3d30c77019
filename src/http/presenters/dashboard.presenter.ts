// How the dashboards show a request (docs/api.md "Pages", docs/decisions.md D38): its badge (a Complete
// request with failed files has its own), what the Files column says in each state (a request still looking
// up its files has no "0 / 0"), and the bar's completed and failed shares. Pure functions; the views get the
// result (views/partials/dashboard_row.ejs, also rendered for the live updates).
import type { DashboardRow } from "../../adapters/repositories/pages.repo.js";
import { ACTIVE_STATUSES, displayStatus } from "../../domain/status.js";

const EN = new Intl.NumberFormat("en-US");
const n = (v: number) => EN.format(v);

export const COMPLETE_WITH_FAILURES = "Complete with failures";

export interface DashboardRowView {
  id: number;
  requestId: string;
  title: string;
  /** The dataset as people name it; a file list's dataset name is a hash, shown as "File list". */
  did: string;
  /** The submitter as the global dashboard shows them. */
  user: string;
  badge: string;
  /** Still moving: the page polls its state (public/js/dashboard-live.js). */
  active: boolean;
  /** What the row shows changes only with this (the live updates skip rows whose version is unchanged). */
  version: string;
  /** What happened to the files, e.g. "2,000 of 2,300 completed". */
  files: string;
  /** The failed files with their share, e.g. "300 failed (13%)", or null. */
  failed: string | null;
  /** Why a Fatal or Bad Dataset request stopped (the start of failure_description), or null. */
  reason: string | null;
  /** Bar widths in percent (failed at least 2 when any file failed, so it shows), or "lookup" (striped). */
  bar: { done: number; failed: number } | "lookup" | null;
  submitTime: Date;
  finishTime: Date | null;
}

/** A file list's dataset is named by the sha256 of its paths (docs/database.md). */
const FILE_LIST_DID = /^[0-9a-f]{64}$/;

const pct = (part: number, whole: number) => Math.round((1000 * part) / whole) / 10;

/** The badge text: the display status, or "Complete with failures". */
export function dashboardBadge(r: Pick<DashboardRow, "status" | "filesFailed">): string {
  return r.status === "complete" && r.filesFailed > 0 ? COMPLETE_WITH_FAILURES : displayStatus(r.status);
}

/** status.files.completed.failed: letters, digits, dots and underscores only (it travels in a query string). */
export function dashboardRowVersion(
  r: Pick<DashboardRow, "status" | "files" | "filesCompleted" | "filesFailed">,
): string {
  return `${r.status}.${r.files}.${r.filesCompleted}.${r.filesFailed}`;
}

export function dashboardRowView(r: DashboardRow): DashboardRowView {
  const active = ACTIVE_STATUSES.includes(r.status);
  let files: string;
  let failed: string | null = null;
  let bar: DashboardRowView["bar"] = null;
  switch (r.status) {
    case "submitted":
      files = "Waiting to start";
      bar = "lookup";
      break;
    case "pending_lookup":
      files = "Waiting for another request's lookup of this dataset";
      bar = "lookup";
      break;
    case "lookup":
      files = r.files > 0 ? `Finding files: ${n(r.files)} so far` : "Finding files…";
      bar = "lookup";
      break;
    case "bad_dataset":
      files = "Dataset lookup failed";
      break;
    default:
      if (r.files <= 0) {
        files = r.status === "complete" ? "The dataset has no files" : "No files";
        break;
      }
      files = `${n(r.filesCompleted)} of ${n(r.files)} completed`;
      if (r.filesFailed > 0) failed = `${n(r.filesFailed)} failed (${pct(r.filesFailed, r.files)}%)`;
      {
        const bad = r.filesFailed > 0 ? Math.min(100, Math.max(2, pct(r.filesFailed, r.files))) : 0;
        bar = { done: Math.min(100 - bad, pct(r.filesCompleted, r.files)), failed: bad };
      }
  }
  return {
    id: r.id,
    requestId: r.requestId,
    title: r.title || r.requestId,
    did: FILE_LIST_DID.test(r.did) ? "File list" : r.did,
    user: r.submitterName || (r.submittedBy === null ? "—" : "[deleted]"),
    badge: dashboardBadge(r),
    active,
    version: dashboardRowVersion(r),
    files,
    failed,
    reason: r.status === "fatal" || r.status === "bad_dataset" ? r.failure : null,
    bar,
    submitTime: r.submitTime,
    finishTime: r.finishTime,
  };
}
