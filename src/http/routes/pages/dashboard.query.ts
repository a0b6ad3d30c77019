// The dashboards' query parameters and what they select (docs/api.md "Pages", docs/decisions.md D38): the
// filters, the search words, the sort and the page, each unknown or malformed value replaced by its default
// with a message; the page's URL for a state; and the cut of a page in status order. Pure functions.
import type {
  DashboardFilter,
  DashboardGroup,
  DashboardSearch,
  RequestSort,
  SortOrder,
  StatusSlice,
} from "../../../adapters/repositories/pages.repo.js";
import { DASHBOARD_FILTERS } from "../../../adapters/repositories/pages.repo.js";
import type { TransformStatusName } from "../../../domain/status.js";

export const PER_PAGE = 15; // upstream's dashboard page size
const SORTS = ["start", "finish", "status"] as const satisfies readonly RequestSort[];
/** The first click on a column: newest first for times, the status order (D38) for the status. */
export const FIRST_ORDER: Record<RequestSort, SortOrder> = { start: "desc", finish: "desc", status: "asc" };
/** Longest search text used; longer ones are cut (docs/decisions.md D38). */
export const SEARCH_MAX = 200;
export const SEARCH_WORDS_MAX = 8;
export const PAGE_MAX = 1_000_000;

/**
 * The dashboards' status order (docs/decisions.md D38) as groups, each with the filter it belongs to:
 * what is moving, what went wrong, Complete, Canceled.
 */
const STATUS_GROUPS: Array<{ status: TransformStatusName; failed?: boolean; filter: DashboardFilter }> = [
  { status: "running", filter: "active" },
  { status: "lookup", filter: "active" },
  { status: "pending_lookup", filter: "active" },
  { status: "submitted", filter: "active" },
  { status: "fatal", filter: "failed" },
  { status: "bad_dataset", filter: "failed" },
  { status: "complete", failed: true, filter: "failed" },
  { status: "complete", failed: false, filter: "complete" },
  { status: "canceled", filter: "canceled" },
];

/** The slices of the status groups that make one page in status order, from the groups' counts. */
export function statusSlices(
  groups: DashboardGroup[],
  filter: DashboardFilter,
  order: SortOrder,
  offset: number,
  limit: number,
): StatusSlice[] {
  const ordered = STATUS_GROUPS.filter((g) => filter === "all" || g.filter === filter);
  if (order === "desc") ordered.reverse();
  const out: StatusSlice[] = [];
  let skip = offset;
  let left = limit;
  for (const g of ordered) {
    if (left === 0) break;
    const n = groups
      .filter((x) => x.status === g.status && (g.failed === undefined || x.failed === g.failed))
      .reduce((sum, x) => sum + x.n, 0);
    if (skip >= n) {
      skip -= n;
      continue;
    }
    const take = Math.min(n - skip, left);
    out.push({ status: g.status, ...(g.failed === undefined ? {} : { failed: g.failed }), skip, take });
    left -= take;
    skip = 0;
  }
  return out;
}

export const FILTERS: Record<DashboardFilter, { label: string; about: string }> = {
  active: { label: "Active", about: "Requests still running, looking up their files, or waiting to start." },
  failed: {
    label: "Failed",
    about: "Requests that ended Fatal or Bad Dataset, or completed with some of their files failed.",
  },
  complete: { label: "Complete", about: "Requests that completed with every file done." },
  canceled: { label: "Canceled", about: "Requests canceled before they finished." },
  all: { label: "All", about: "" },
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A value as a message quotes it: one line, at most 60 characters. */
const quote = (v: string) => {
  const s = v.replace(/\p{C}+/gu, " ");
  return `“${s.length > 60 ? `${s.slice(0, 60)}…` : s}”`;
};

/** The first value of a query parameter (Express gives an array when it is repeated). */
export function one(v: unknown): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === "string" ? s : undefined;
}

export interface DashboardQuery {
  filter: DashboardFilter;
  /** The search as typed (cleaned and cut), "" for none. */
  q: string;
  search?: DashboardSearch;
  sort: RequestSort;
  order: SortOrder;
  page: number;
  /** What the page says about parameters it did not take as given. */
  notes: string[];
}

/** The dashboard's query parameters, each unknown or malformed value replaced by its default with a note. */
export function parseDashboardQuery(query: Record<string, unknown>): DashboardQuery {
  const notes: string[] = [];
  const status = one(query.status);
  let filter: DashboardFilter = "all";
  if (status !== undefined && status !== "") {
    if ((DASHBOARD_FILTERS as readonly string[]).includes(status)) filter = status as DashboardFilter;
    else
      notes.push(
        `There is no status filter ${quote(status)}: showing all requests. The filters are ${DASHBOARD_FILTERS.join(", ")}.`,
      );
  }
  const sortIn = one(query.sort);
  let sort: RequestSort = "start";
  if (sortIn !== undefined && sortIn !== "") {
    if ((SORTS as readonly string[]).includes(sortIn)) sort = sortIn as RequestSort;
    else
      notes.push(
        `Requests cannot be sorted by ${quote(sortIn)}: sorted by start time (start, finish or status).`,
      );
  }
  const orderIn = one(query.order);
  let order: SortOrder = FIRST_ORDER[sort];
  if (orderIn !== undefined && orderIn !== "") {
    if (orderIn === "asc" || orderIn === "desc") order = orderIn;
    else notes.push(`The order ${quote(orderIn)} is neither asc nor desc: ${order} is used.`);
  }
  const pageIn = one(query.page);
  let page = 1;
  if (pageIn !== undefined && pageIn !== "") {
    if (/^\d{1,9}$/.test(pageIn) && Number(pageIn) >= 1) page = Math.min(Number(pageIn), PAGE_MAX);
    else notes.push(`${quote(pageIn)} is not a page number: showing page 1.`);
  }

  let q = "";
  let search: DashboardSearch | undefined;
  const qIn = Array.isArray(query.q) ? query.q.find((v) => typeof v === "string") : query.q;
  if (Array.isArray(query.q)) notes.push("Only the first search text is used.");
  if (typeof qIn === "string") {
    // Control characters (NUL among them, which Postgres cannot take) are spaces; the search is bounded.
    q = qIn.replace(/\p{C}+/gu, " ").trim();
    if (q.length > SEARCH_MAX) {
      q = q.slice(0, SEARCH_MAX).trim();
      notes.push(`The search was cut to its first ${SEARCH_MAX} characters.`);
    }
    if (UUID.test(q)) search = { requestId: q.toLowerCase() };
    else if (q) {
      // Words: runs of letters and digits, as the search table stores them (docs/decisions.md D38).
      let words = q.split(/[^\p{L}\p{N}]+/u).filter(Boolean);
      if (words.length === 0) {
        notes.push(`The search ${quote(q)} has no letters or digits: showing all requests.`);
        q = "";
      } else {
        if (words.length > SEARCH_WORDS_MAX) {
          notes.push(`Only the first ${SEARCH_WORDS_MAX} words of the search are used.`);
          words = words.slice(0, SEARCH_WORDS_MAX);
        }
        search = { words: words.map((w) => w.slice(0, 64)) };
      }
    }
  }
  return { filter, q, ...(search ? { search } : {}), sort, order, page, notes };
}

/** The dashboard's URL with the given state (only known parameters, defaults left out). */
export function dashboardHref(
  path: string,
  s: { filter: DashboardFilter; q: string; sort: RequestSort; order: SortOrder; page?: number },
): string {
  const p = new URLSearchParams();
  if (s.filter !== "all") p.set("status", s.filter);
  if (s.q) p.set("q", s.q);
  if (s.sort !== "start" || s.order !== FIRST_ORDER.start) {
    p.set("sort", s.sort);
    p.set("order", s.order);
  }
  if (s.page && s.page > 1) p.set("page", String(s.page));
  const qs = p.toString();
  return qs ? `${path}?${qs}` : path;
}
