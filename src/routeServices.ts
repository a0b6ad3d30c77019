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
import { SlackInteractionChannel } from "./adapters/notify/slackInteractions.js";
import { DatasetService } from "./domain/datasets.service.js";
import { ReadinessService } from "./domain/readiness.service.js";
import { SlackApprovalService } from "./domain/slackApproval.service.js";
import { TerminalSignIn } from "./domain/terminalSignIn.service.js";
import type { Auth } from "./http/middleware/auth.js";
import type { DatasetRoutesDeps } from "./http/routes/datasets.routes.js";
import type { DeviceFlowRoutesDeps } from "./http/routes/deviceFlow.routes.js";
import type { OpsRoutesDeps } from "./http/routes/ops.routes.js";
import type { UserRoutesDeps } from "./http/routes/users.routes.js";

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
      accounts: deps.users,
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

/** The token, user administration and Slack routes (users.routes.ts). */
export function userServices(deps: AppDeps, auth: Auth): UserRoutesDeps {
  const slack = new SlackInteractionChannel({
    signingSecret: deps.config.SLACK_SIGNING_SECRET,
    responseUrlHosts: deps.config.SLACK_RESPONSE_URL_HOSTS,
    logger: deps.logger.child({ module: "slack" }),
  });
  return {
    users: deps.users,
    slackApproval: new SlackApprovalService(deps.users, slack),
    auth,
    jwt: deps.jwt,
    config: deps.config,
  };
}

/** Sign-in from a terminal (deviceFlow.routes.ts). */
export function deviceFlowServices(deps: AppDeps): DeviceFlowRoutesDeps {
  return {
    terminal: new TerminalSignIn(
      deps.users,
      deps.logger.child({ module: "terminal-sign-in" }),
      deps.providerTokens ?? null,
      { authEnabled: deps.config.ENABLE_AUTH },
    ),
    ratePerMinute: deps.config.RATE_LIMIT_PER_MINUTE,
  };
}

/** The cached-dataset routes (datasets.routes.ts). */
export function datasetServices(deps: AppDeps, auth: Auth): DatasetRoutesDeps {
  return { datasets: new DatasetService(deps.repos.datasets), auth };
}

/** Liveness, readiness and the OpenAPI document (ops.routes.ts); `draining`: shutdown has begun. */
export function opsServices(deps: AppDeps, draining: () => boolean): OpsRoutesDeps {
  return {
    readiness: new ReadinessService({
      ping: () => deps.db.ping(),
      brokerConnected: () => deps.broker.isConnected(),
      draining,
    }),
    appVersion: deps.config.appVersion,
  };
}
