// What the routers are given: the services each one uses, taken from the dependencies compose() built (the
// routers never see that whole set). A service compose() does not build yet is built here over the same
// repositories, so no router constructs a repository or reaches one.
import { PagesRepo } from "./adapters/repositories/pages.repo.js";
import { RemovedAccountsRepo } from "./adapters/repositories/removedAccounts.repo.js";
import { PagesService } from "./domain/pages.service.js";
import { TransformerReportsService } from "./domain/transformerReports.service.js";
import type { AppDeps } from "./http/deps.js";
import type { CallbackServices } from "./http/routes/internal.routes.js";
import type { WebServices } from "./http/routes/web.routes.js";

/** The DID-finder and transformer callbacks (internal.routes.ts). */
export function callbackServices(deps: AppDeps): CallbackServices {
  return {
    lookups: deps.lookups,
    fileComplete: deps.fileComplete,
    transformerReports: new TransformerReportsService({
      requests: deps.repos.requests,
      datasets: deps.repos.datasets,
      results: deps.repos.results,
      transformations: deps.transformations,
    }),
  };
}

/** The web pages (web.routes.ts and routes/pages/), and the page kit's error pages in app.ts. */
export function webServices(deps: AppDeps): WebServices {
  const broker = deps.broker as AppDeps["broker"] & { queueDepth?: (q: string) => Promise<number | null> };
  return {
    config: deps.config,
    logger: deps.logger,
    sessions: deps.sessions,
    users: deps.users,
    oidc: deps.oidc,
    codegen: deps.codegen,
    transformations: deps.transformations,
    reruns: deps.reruns,
    progress: deps.progress,
    pages: new PagesService({
      users: deps.users.repo,
      removedAccounts: new RemovedAccountsRepo(deps.db),
      requests: deps.repos.requests,
      datasets: deps.repos.datasets,
      launcher: deps.launcher,
      queueDepth: broker.queueDepth?.bind(broker),
    }),
    queries: new PagesRepo(deps.db),
    objectStoreDownloads: deps.objectStore !== null,
    localS3: deps.localS3 ?? null,
  };
}
