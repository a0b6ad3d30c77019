// The dashboards (docs/api.md "Pages", docs/decisions.md D38): /dashboard (the caller's requests; everyone's
// with ENABLE_AUTH=false) and /global-dashboard (everyone's, admins), with status filters and their counts, a
// title/dataset search, and /dashboard/live: the current state of the page's active rows, which
// public/js/dashboard-live.js polls. A parameter the page does not know gives the page with a message.
import { type Request, type Response, Router } from "express";
import {
  DASHBOARD_FILTERS,
  type DashboardCounts,
  type DashboardFilter,
  type DashboardGroup,
  type DashboardSearch,
  type PagesRepo,
  type RequestSort,
  type SearchPlan,
  type SortOrder,
  type StatusSlice,
} from "../../../adapters/repositories/pages.repo.js";
import type { TransformStatusName } from "../../../domain/status.js";
import { dashboardRowView } from "../../presenters/dashboard.presenter.js";
import type { AppDeps } from "../../deps.js";
import { requestScheme } from "../../middleware/session.js";
import type { PageKit } from "./kit.js";

const PER_PAGE = 15; // upstream's dashboard page size
const SORTS = ["start", "finish", "status"] as const satisfies readonly RequestSort[];
/** The first click on a column: newest first for times, the status order (D38) for the status. */
const FIRST_ORDER: Record<RequestSort, SortOrder> = { start: "desc", finish: "desc", status: "asc" };
/** Longest search text used; longer ones are cut (docs/decisions.md D38). */
export const SEARCH_MAX = 200;
const SEARCH_WORDS_MAX = 8;
/** Live updates: ids per poll (a page has 15 rows) and the browser's interval. */
const LIVE_IDS_MAX = 50;
const LIVE_INTERVAL_MS = 3000;
const PAGE_MAX = 1_000_000;
/** How long the filters' counts of one view are reused, and how many views are kept. */
const COUNTS_TTL_MS = 10_000;
const COUNTS_CACHE_MAX = 500;
/** A word search with at least this many matches walks the requests; with fewer it reads the index first. */
const WALK_MIN_MATCHES = 1000;

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
/** One item of /dashboard/live's ids: a request's number, optionally with the version the page shows. */
const LIVE_ITEM = /^([1-9]\d{0,8})(?::([a-z_]{1,20}\.\d{1,10}\.\d{1,10}\.\d{1,10}))?$/;

const FILTERS: Record<DashboardFilter, { label: string; about: string }> = {
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
function one(v: unknown): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === "string" ? s : undefined;
}

interface DashboardQuery {
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
function dashboardHref(
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

/** The example the empty dashboard shows: this site's code generators, servicex.yaml's endpoint. */
function firstRequestSnippet(deps: AppDeps, req: Request): { yaml: string; python: string } {
  const endpoint = `${requestScheme(req)}://${req.get("host") ?? `localhost:${deps.config.PORT}`}`;
  const yaml = [
    "api_endpoints:",
    "  - name: this-site",
    `    endpoint: ${endpoint}`,
    ...(deps.config.ENABLE_AUTH ? ["    token: <your API token, from your profile page>"] : []),
    "default_endpoint: this-site",
  ].join("\n");
  const names = deps.codegen.names();
  const python = names.includes("passthrough")
    ? [
        "from servicex import deliver, dataset",
        'files = dataset.FileList(["/abs/path/a.root", "/abs/path/b.root"])',
        'spec = {"Sample": [{"Name": "first", "Codegen": "passthrough", "Query": "copy", "Dataset": files}]}',
        "print(deliver(spec))",
      ].join("\n")
    : [
        "from servicex import deliver, dataset",
        'ds = dataset.Rucio("<scope>:<dataset name>")',
        `spec = {"Sample": [{"Name": "first", "Codegen": "${names[0] ?? "<code generator>"}", "Query": "<your query>", "Dataset": ds}]}`,
        "print(deliver(spec))",
      ].join("\n");
  return { yaml, python };
}

export function dashboardPages(deps: AppDeps, kit: PageKit, pages: PagesRepo): Router {
  const r = Router();
  const { config } = deps;

  // The counts of the filters (one pass over every request of the view) are kept COUNTS_TTL_MS per owner
  // and search (docs/decisions.md D38): reloading, paging and filtering a long list within seconds reuse
  // them; the rows are always read fresh.
  type Counted = { counts: DashboardCounts; groups: DashboardGroup[] };
  const countsCache = new Map<string, { at: number; value: Counted }>();
  const countsFor = async (o: { submittedBy?: number; search?: DashboardSearch }, fresh: boolean) => {
    const key = JSON.stringify([o.submittedBy ?? null, o.search ?? null]);
    const hit = countsCache.get(key);
    const now = Date.now();
    if (!fresh && hit && now - hit.at < COUNTS_TTL_MS) return { ...hit.value, cached: true };
    const value = await pages.dashboardCounts(o);
    if (countsCache.size >= COUNTS_CACHE_MAX) countsCache.delete(countsCache.keys().next().value!);
    countsCache.delete(key);
    countsCache.set(key, { at: now, value });
    return { ...value, cached: false };
  };

  const dashboard = async (req: Request, res: Response, global: boolean) => {
    const q = parseDashboardQuery(req.query as Record<string, unknown>);
    const mine = !global && config.ENABLE_AUTH ? req.session.userId : undefined;
    const owner = mine !== undefined ? { submittedBy: mine } : {};
    const scope = { ...owner, ...(q.search ? { search: q.search } : {}) };
    const offset = (q.page - 1) * PER_PAGE;
    // The counts first: they choose how the rows are read (status order, search plan).
    const rowsFor = (c: Counted) => {
      if (q.sort === "status" && !q.search)
        return pages.requestsByStatus({
          ...owner,
          slices: statusSlices(c.groups, q.filter, q.order, offset, PER_PAGE),
        });
      const plan: SearchPlan | undefined =
        q.search && "words" in q.search
          ? q.sort === "status" || c.counts[q.filter] < WALK_MIN_MATCHES
            ? "index"
            : "walk"
          : undefined;
      return pages.requests({
        ...scope,
        ...(plan ? { plan } : {}),
        filter: q.filter,
        sort: q.sort,
        order: q.order,
        limit: PER_PAGE,
        offset,
      });
    };
    let counted = await countsFor(scope, false);
    // A page past the end (by fresh counts) reads no rows: its OFFSET would skip every request.
    if (offset > 0 && offset >= counted.counts[q.filter] && counted.cached)
      counted = await countsFor(scope, true);
    let rows = offset > 0 && offset >= counted.counts[q.filter] ? [] : await rowsFor(counted);
    // Reused counts only under a full page that they also call full; a short, empty or past-the-end page
    // (where the total shows) counts afresh, and reads its rows again if the counts cut them (status order).
    const full = rows.length === PER_PAGE && counted.counts[q.filter] - offset >= PER_PAGE;
    if (counted.cached && !full) {
      counted = await countsFor(scope, true);
      if (q.sort === "status" && !q.search) rows = await rowsFor(counted);
    }
    const { counts } = counted;
    const total = counts[q.filter];
    const pagesCount = Math.max(1, Math.ceil(total / PER_PAGE));
    const state = { filter: q.filter, q: q.q, sort: q.sort, order: q.order };
    const href = (over: Partial<typeof state> & { page?: number }) =>
      dashboardHref(req.path, { ...state, ...over });
    const views = rows.map(dashboardRowView);
    const empty =
      counts.all === 0 && !q.search ? "first" : total === 0 ? "nomatch" : q.page > pagesCount ? "past" : null;
    kit.render(req, res, "dashboard", {
      title: global
        ? "All transform requests"
        : config.ENABLE_AUTH
          ? "Your transform requests"
          : "Transform requests",
      global,
      path: req.path,
      filter: q.filter,
      filterAbout: FILTERS[q.filter].about,
      filterLabel: FILTERS[q.filter].label,
      filters: DASHBOARD_FILTERS.map((f) => ({
        key: f,
        label: FILTERS[f].label,
        count: counts[f],
        href: href({ filter: f }),
        current: f === q.filter,
      })),
      q: q.q,
      searchMax: SEARCH_MAX,
      clearSearchHref: href({ q: "" }),
      allHref: href({ filter: "all" }),
      sort: q.sort,
      order: q.order,
      notes: q.notes,
      requests: views,
      anyActive: views.some((v) => v.active),
      liveUrl: `/dashboard/live${global ? "?global=1" : ""}`,
      empty,
      snippet: empty === "first" ? firstRequestSnippet(deps, req) : null,
      pager: { page: q.page, pages: pagesCount, total, href: (p: number) => href({ page: p }) },
      sortHeader: (key: RequestSort) => {
        const active = q.sort === key;
        const next: SortOrder = active ? (q.order === "desc" ? "asc" : "desc") : FIRST_ORDER[key];
        return {
          href: href({ sort: key, order: next }),
          ariaSort: active ? (q.order === "asc" ? "ascending" : "descending") : null,
          arrow: active ? (q.order === "asc" ? "▲" : "▼") : "",
        };
      },
    });
  };

  r.get("/dashboard", kit.oauthRequired, (req, res) => dashboard(req, res, false));
  r.get("/global-dashboard", kit.adminRequired, (req, res) => dashboard(req, res, true));

  // The live updates of a dashboard page (JSON for public/js/dashboard-live.js): `ids` lists the page's
  // active rows as <id> or <id>:<version>; each row comes back with its cells rendered by the same partial as
  // the page, or as {same: true} when its version did not change (most polls: nothing to render). A
  // non-admin gets only their own rows; rows not returned are gone or not theirs.
  r.get("/dashboard/live", async (req, res) => {
    res.set("cache-control", "no-store");
    const signedIn = Boolean(req.session.isAuthenticated && req.session.userId);
    if (config.ENABLE_AUTH && !signedIn) {
      return res.status(401).json({ code: "unauthenticated", message: "Sign in to see your requests." });
    }
    const raw = one(req.query.ids) ?? "";
    const items = raw === "" ? [] : raw.split(",").map((s) => LIVE_ITEM.exec(s));
    if (items.length > LIVE_IDS_MAX || items.some((m) => m === null)) {
      return res.status(400).json({
        code: "bad_request",
        message: `ids must be up to ${LIVE_IDS_MAX} request numbers (each optionally :version) separated by commas.`,
      });
    }
    const known = new Map(items.map((m) => [Number(m![1]), m![2]]));
    const admin = !config.ENABLE_AUTH || Boolean(req.session.admin);
    const global = one(req.query.global) === "1" && admin;
    const rows = await pages.dashboardRows([...known.keys()], admin ? undefined : req.session.userId);
    const out = await Promise.all(
      rows.map(async (row) => {
        const v = dashboardRowView(row);
        const head = { id: v.id, active: v.active, status: v.badge, title: v.title, version: v.version };
        if (known.get(v.id) === v.version) return { ...head, same: true };
        const html = await new Promise<string>((resolve, reject) =>
          req.app.render("partials/dashboard_row", { r: v, global }, (err, s) =>
            err ? reject(err) : resolve(s),
          ),
        );
        return { ...head, html };
      }),
    );
    res.json({ rows: out, interval: LIVE_INTERVAL_MS });
  });

  return r;
}
