// The dashboards (docs/api.md): /dashboard (the caller's requests) and /global-dashboard (everyone's, admins).
import { type Request, type Response, Router } from "express";
import type { PagesRepo, RequestSort, SortOrder } from "../../../adapters/repositories/pages.repo.js";
import { displayStatus } from "../../../domain/status.js";
import type { AppDeps } from "../../deps.js";
import { type PageKit, choice, pageNumber, pager } from "./kit.js";

const PER_PAGE = 15; // upstream's dashboard page size
const SORTS = ["start", "finish", "status"] as const satisfies readonly RequestSort[];
const ORDERS = ["asc", "desc"] as const satisfies readonly SortOrder[];

export function dashboardPages(deps: AppDeps, kit: PageKit, pages: PagesRepo): Router {
  const r = Router();
  const { config } = deps;

  const dashboard = async (req: Request, res: Response, global: boolean) => {
    const sort = choice(req.query.sort, SORTS, "finish");
    const order = choice(req.query.order, ORDERS, "desc");
    const page = pageNumber(req.query.page);
    const mine = !global && config.ENABLE_AUTH ? req.session.userId : undefined;
    const { rows, total } = await pages.requests({
      ...(mine !== undefined ? { submittedBy: mine } : {}),
      sort,
      order,
      limit: PER_PAGE,
      offset: (page - 1) * PER_PAGE,
    });
    kit.render(req, res, "dashboard", {
      title: global ? "All transform requests" : "Your transform requests",
      global,
      requests: rows.map((x) => ({ ...x, statusText: displayStatus(x.status) })),
      sort,
      order,
      pager: pager(req, page, PER_PAGE, total),
      sortHref: (key: string) => {
        const next = key === sort && order === "desc" ? "asc" : "desc";
        return `${req.path}?${new URLSearchParams({ sort: key, order: next })}`;
      },
    });
  };

  r.get("/dashboard", kit.oauthRequired, (req, res) => dashboard(req, res, false));
  r.get("/global-dashboard", kit.adminRequired, (req, res) => dashboard(req, res, true));

  return r;
}
