// The rows and the filters' counts of one dashboard page (docs/decisions.md D38), read through the pages'
// read model. The counts of the filters (one pass over every request of the view) are kept COUNTS_TTL_MS per
// owner and search: reloading, paging and filtering a long list within seconds reuse them; the rows are
// always read fresh. The counts are read first: they choose how the rows are read (status order, search
// plan).
import type {
  DashboardCounts,
  DashboardGroup,
  DashboardRow,
  DashboardSearch,
  PagesRepo,
  SearchPlan,
} from "../../../adapters/repositories/pages.repo.js";
import { type DashboardQuery, PER_PAGE, statusSlices } from "./dashboard.query.js";

/** How long the filters' counts of one view are reused, and how many views are kept. */
const COUNTS_TTL_MS = 10_000;
const COUNTS_CACHE_MAX = 500;
/** A word search with at least this many matches walks the requests; with fewer it reads the index first. */
const WALK_MIN_MATCHES = 1000;

type Counted = { counts: DashboardCounts; groups: DashboardGroup[] };

export type DashboardQueries = Pick<
  PagesRepo,
  "dashboardCounts" | "requests" | "requestsByStatus" | "dashboardRows"
>;

export class DashboardReader {
  private readonly countsCache = new Map<string, { at: number; value: Counted }>();

  constructor(private readonly pages: DashboardQueries) {}

  private async countsFor(o: { submittedBy?: number; search?: DashboardSearch }, fresh: boolean) {
    const { countsCache, pages } = this;
    const key = JSON.stringify([o.submittedBy ?? null, o.search ?? null]);
    const hit = countsCache.get(key);
    const now = Date.now();
    if (!fresh && hit && now - hit.at < COUNTS_TTL_MS) return { ...hit.value, cached: true };
    const value = await pages.dashboardCounts(o);
    if (countsCache.size >= COUNTS_CACHE_MAX) countsCache.delete(countsCache.keys().next().value!);
    countsCache.delete(key);
    countsCache.set(key, { at: now, value });
    return { ...value, cached: false };
  }

  /** The page's rows and the counts of every filter, for the requests of `submittedBy` (all when absent). */
  async page(
    q: DashboardQuery,
    submittedBy: number | undefined,
  ): Promise<{ rows: DashboardRow[]; counts: DashboardCounts }> {
    const pages = this.pages;
    const owner = submittedBy !== undefined ? { submittedBy } : {};
    const scope = { ...owner, ...(q.search ? { search: q.search } : {}) };
    const offset = (q.page - 1) * PER_PAGE;
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
    let counted = await this.countsFor(scope, false);
    // A page past the end (by fresh counts) reads no rows: its OFFSET would skip every request.
    if (offset > 0 && offset >= counted.counts[q.filter] && counted.cached)
      counted = await this.countsFor(scope, true);
    let rows = offset > 0 && offset >= counted.counts[q.filter] ? [] : await rowsFor(counted);
    // Reused counts only under a full page that they also call full; a short, empty or past-the-end page
    // (where the total shows) counts afresh, and reads its rows again if the counts cut them (status order).
    const full = rows.length === PER_PAGE && counted.counts[q.filter] - offset >= PER_PAGE;
    if (counted.cached && !full) {
      counted = await this.countsFor(scope, true);
      if (q.sort === "status" && !q.search) rows = await rowsFor(counted);
    }
    return { rows, counts: counted.counts };
  }
}
