// What the routers are given: the services each one uses, taken from the dependencies compose() built (the
// routers never see that whole set). A service compose() does not build yet is built here over the same
// repositories, so no router constructs a repository or reaches one.
import { TransformerReportsService } from "./domain/transformerReports.service.js";
import type { AppDeps } from "./http/deps.js";
import type { CallbackServices } from "./http/routes/internal.routes.js";

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
