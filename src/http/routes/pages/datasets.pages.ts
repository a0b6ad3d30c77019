// Dataset pages (newer upstream web/datasets.py, web/dataset.py; docs/api.md): the list, sortable by the newer upstream keys and
// optionally with deleted (stale) datasets, and one dataset with its files and recent requests (a non-admin's
// own only). Soft delete (the same as DELETE /servicex/datasets/<id>: the dataset becomes stale) is for
// administrators, and asks first: GET /datasets/<id>/delete is the confirmation page, its form the POST.
import { Router } from "express";
import type { DatasetSort, PagesRepo, SortOrder } from "../../../adapters/repositories/pages.repo.js";
import type { PagesService } from "../../../domain/pages.service.js";
import { ownRequestsOnly } from "../../../domain/policy.js";
import { displayStatus } from "../../../domain/status.js";
import { flash, requireCsrf } from "../../middleware/session.js";
import { type PageKit, choice, humanBytes, pageNumber, pager } from "./kit.js";

const PER_PAGE = 25;
const FILES_PER_PAGE = 100;
const SORTS = [
  "last_used",
  "last_updated",
  "name",
  "size",
  "events",
  "files",
] as const satisfies readonly DatasetSort[];
const ORDERS = ["asc", "desc"] as const satisfies readonly SortOrder[];
const TRUTHY = ["1", "true", "yes", "on"];

/** What the dataset pages use: the pages' read model and the soft delete. */
export interface DatasetPageServices {
  queries: Pick<PagesRepo, "datasets" | "dataset" | "datasetFiles" | "datasetRequests">;
  pages: Pick<PagesService, "markDatasetStale">;
}

export function datasetPages(s: DatasetPageServices, kit: PageKit): Router {
  const r = Router();
  const pages = s.queries;

  r.get("/datasets", kit.oauthRequired, async (req, res) => {
    const sort = choice(req.query.sort, SORTS, "last_used");
    const order = choice(req.query.order, ORDERS, sort === "name" ? "asc" : "desc");
    const showDeleted =
      typeof req.query.show_deleted === "string" && TRUTHY.includes(req.query.show_deleted.toLowerCase());
    const page = pageNumber(req.query.page);
    const { rows, total } = await pages.datasets({
      sort,
      order,
      showDeleted,
      limit: PER_PAGE,
      offset: (page - 1) * PER_PAGE,
    });
    kit.render(req, res, "datasets", {
      title: "Datasets",
      humanBytes,
      datasets: rows,
      sort,
      order,
      showDeleted,
      pager: pager(req, page, PER_PAGE, total),
      sortHref: (key: string) => {
        const next = key === sort && order === "desc" ? "asc" : "desc";
        const q = new URLSearchParams({ sort: key, order: next });
        if (showDeleted) q.set("show_deleted", "1");
        return `/datasets?${q}`;
      },
    });
  });

  r.get("/datasets/:id", kit.oauthRequired, async (req, res) => {
    const id = /^\d{1,9}$/.test(String(req.params.id)) ? Number(req.params.id) : null;
    const d = id === null ? null : await pages.dataset(id);
    if (!d) return kit.errorPage(req, res, 404, "Not found", `Dataset ${req.params.id} not found`);
    const page = pageNumber(req.query.page);
    // Administrators (and everyone with ENABLE_AUTH=false) see every request of the dataset, others their own.
    const [files, requests] = await Promise.all([
      pages.datasetFiles(d.id, FILES_PER_PAGE, (page - 1) * FILES_PER_PAGE),
      pages.datasetRequests(d.id, 15, ownRequestsOnly(kit.who(req))),
    ]);
    kit.render(req, res, "dataset", {
      title: `Dataset ${d.id}`,
      humanBytes,
      d,
      files: files.rows,
      pager: pager(req, page, FILES_PER_PAGE, files.total),
      requests: requests.map((x) => ({ ...x, statusText: displayStatus(x.status) })),
    });
  });

  r.get("/datasets/:id/delete", kit.adminRequired, async (req, res) => {
    const id = /^\d{1,9}$/.test(String(req.params.id)) ? Number(req.params.id) : null;
    const d = id === null ? null : await pages.dataset(id);
    if (!d) return kit.errorPage(req, res, 404, "Not found", `Dataset ${req.params.id} not found`);
    if (d.stale) {
      flash(req, "warning", `Dataset ${d.id} has already been deleted.`);
      return res.redirect(303, `/datasets/${d.id}`);
    }
    const files = d.nFiles === 1 ? "its 1 file" : `its ${d.nFiles.toLocaleString("en-US")} files`;
    kit.confirm(req, res, {
      heading: `Delete dataset ${d.id}?`,
      text: `${d.name} is marked deleted: ServiceX forgets ${files} as the answer for this name.`,
      consequences: [
        "The next request for this dataset looks it up again with the DID finder (which may find other files), so it starts later.",
        "Requests already made with it and their results are not touched.",
        "It leaves the datasets list; “Show deleted datasets” still shows it.",
      ],
      action: `/datasets/${d.id}/delete`,
      button: "Delete dataset",
      danger: true,
      back: `/datasets/${d.id}`,
    });
  });

  r.post("/datasets/:id/delete", kit.form, requireCsrf, kit.adminRequired, async (req, res) => {
    const id = /^\d{1,9}$/.test(String(req.params.id)) ? Number(req.params.id) : null;
    const d = id === null ? null : await pages.dataset(id);
    if (!d) return kit.errorPage(req, res, 404, "Not found", `Dataset ${req.params.id} not found`);
    if (await s.pages.markDatasetStale(d.id)) flash(req, "success", `Dataset ${d.id} has been deleted.`);
    else flash(req, "warning", `Dataset ${d.id} has already been deleted.`);
    res.redirect(303, `/datasets/${d.id}`);
  });

  return r;
}
