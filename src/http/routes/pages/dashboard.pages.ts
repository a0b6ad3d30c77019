// The dashboards (docs/api.md "Pages", docs/decisions.md D38): /dashboard (the caller's requests; everyone's
// with ENABLE_AUTH=false) and /global-dashboard (everyone's, admins), with status filters and their counts, a
// title/dataset search, and /dashboard/live: the current state of the page's active rows, which
// public/js/dashboard-live.js polls. A parameter the page does not know gives the page with a message.
import { type Request, type Response, Router } from "express";
import {
  DASHBOARD_FILTERS,
  type RequestSort,
  type SortOrder,
} from "../../../adapters/repositories/pages.repo.js";
import type { Config } from "../../../config.js";
import { appError, badRequest } from "../../../domain/errors.js";
import type { CodeGenerator } from "../../../domain/ports.js";
import { dashboardRowView } from "../../presenters/dashboard.presenter.js";
import { requestScheme } from "../../middleware/session.js";
import {
  FILTERS,
  FIRST_ORDER,
  PER_PAGE,
  SEARCH_MAX,
  dashboardHref,
  one,
  parseDashboardQuery,
} from "./dashboard.query.js";
import { type DashboardQueries, DashboardReader } from "./dashboard.reader.js";
import type { PageKit } from "./kit.js";

/** Live updates: ids per poll (a page has 15 rows) and the browser's interval. */
const LIVE_IDS_MAX = 50;
const LIVE_INTERVAL_MS = 3000;

/** What the dashboards use: the pages' read model (lists, counts, searches) and the code generators' names. */
export interface DashboardServices {
  config: Pick<Config, "ENABLE_AUTH" | "PORT">;
  codegen: Pick<CodeGenerator, "names">;
  queries: DashboardQueries;
}

/** One item of /dashboard/live's ids: a request's number, optionally with the version the page shows. */
const LIVE_ITEM = /^([1-9]\d{0,8})(?::([a-z_]{1,20}\.\d{1,10}\.\d{1,10}\.\d{1,10}))?$/;

/** The example the empty dashboard shows: this site's code generators, servicex.yaml's endpoint. */
function firstRequestSnippet(s: DashboardServices, req: Request): { yaml: string; python: string } {
  const endpoint = `${requestScheme(req)}://${req.get("host") ?? `localhost:${s.config.PORT}`}`;
  const yaml = [
    "api_endpoints:",
    "  - name: this-site",
    `    endpoint: ${endpoint}`,
    ...(s.config.ENABLE_AUTH ? ["    token: <your API token, from your profile page>"] : []),
    "default_endpoint: this-site",
  ].join("\n");
  const names = s.codegen.names();
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

export function dashboardPages(s: DashboardServices, kit: PageKit): Router {
  const r = Router();
  const { config, queries: pages } = s;
  // One per router: its counts cache is shared by the page's requests (dashboard.reader.ts).
  const reader = new DashboardReader(pages);

  const dashboard = async (req: Request, res: Response, global: boolean) => {
    const q = parseDashboardQuery(req.query as Record<string, unknown>);
    const mine = !global && config.ENABLE_AUTH ? req.session.userId : undefined;
    const { rows, counts } = await reader.page(q, mine);
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
      snippet: empty === "first" ? firstRequestSnippet(s, req) : null,
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
    if (config.ENABLE_AUTH && !signedIn) throw appError("sign_in_required");
    const raw = one(req.query.ids) ?? "";
    const items = raw === "" ? [] : raw.split(",").map((s) => LIVE_ITEM.exec(s));
    if (items.length > LIVE_IDS_MAX || items.some((m) => m === null)) {
      throw badRequest(
        `ids must be up to ${LIVE_IDS_MAX} request numbers (each optionally :version) separated by commas.`,
      );
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
