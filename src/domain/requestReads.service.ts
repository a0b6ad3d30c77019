// What a caller may read about one transform request besides the request itself: the legacy status with
// statistics, the per-file results and failures, the progress history, the transformer Deployment's status
// and download links for result objects (docs/api.md). Every method finds the request and checks the access
// rule (policy.ts) through TransformationService.get, the one place that answers "Transformation request
// not found with id" for these routes.
import { badRequest, notFound } from "./errors.js";
import { assertMayRequest, mayReadRequest, type Requester } from "./policy.js";
import type {
  ProgressPoint,
  RequestRecord,
  RequestsRepo,
  ResultJsonRow,
  ResultsRepo,
} from "./repositories.js";
import type { TransformerLauncher } from "./ports.js";

/** Files not yet done; null while the request knows no file yet (docs/decisions.md D20). */
export function filesRemaining(
  r: Pick<RequestRecord, "files" | "filesCompleted" | "filesFailed">,
): number | null {
  return r.files ? r.files - r.filesCompleted - r.filesFailed : null;
}

export type RequestStats = NonNullable<Awaited<ReturnType<RequestsRepo["stats"]>>>;
export type FailureRow = Awaited<ReturnType<ResultsRepo["failures"]>>[number];

/** The legacy status: the request, its statistics (null without results), per-file results when asked. */
export interface RequestStatus {
  request: RequestRecord;
  stats: RequestStats | null;
  details: ResultJsonRow[] | null;
}

/**
 * Signs download links for result objects: the object store's presigned URLs, or the App's own read-only S3
 * endpoint over local results (the HTTP layer builds it per call: a local link is signed for the caller's
 * host, docs/local-results.md).
 */
export interface ResultLinks {
  /** Whether this signer can give links for the request's results. */
  serves(r: RequestRecord): boolean;
  sign(requestId: string, key: string, expirySeconds: number): Promise<string> | string;
}

export interface SignedLinks {
  links: Array<{ key: string; url: string }>;
  /** Epoch seconds when the links stop working. */
  expiresAt: number;
}

export class RequestReads {
  constructor(
    private readonly deps: {
      /** Finds a request and applies the read rule (TransformationService.get). */
      transformations: { get(id: string, who: Requester): Promise<RequestRecord> };
      requests: Pick<RequestsRepo, "find" | "stats">;
      results: Pick<ResultsRepo, "listForRequest" | "failures">;
      progress: { history(requestId: string): Promise<ProgressPoint[]> };
      launcher: Pick<TransformerLauncher, "deploymentStatus">;
      now?: () => number;
    },
  ) {}

  /** The request itself (the client's polling call). */
  request(id: string, who: Requester): Promise<RequestRecord> {
    return this.deps.transformations.get(id, who);
  }

  /**
   * The request if `who` may read it, else null: for answers that treat another user's request exactly as an
   * unknown one (the result download, docs/local-results.md).
   */
  async visible(id: string, who: Requester): Promise<RequestRecord | null> {
    const request = await this.deps.requests.find(id);
    return request && mayReadRequest(who, request) ? request : null;
  }

  async status(id: string, who: Requester, withDetails: boolean): Promise<RequestStatus> {
    const request = await this.request(id, who);
    const stats = await this.deps.requests.stats(request.requestId);
    const details = withDetails ? await this.deps.results.listForRequest(request.requestId, null) : null;
    return { request, stats, details };
  }

  /** Results newer than `laterThan`; an unknown id has none (as upstream), another user's is a 403. */
  async results(id: string, who: Requester, laterThan: string | null): Promise<ResultJsonRow[]> {
    const request = await this.deps.requests.find(id);
    if (!request) return [];
    assertMayRequest(who, request, "view");
    return this.deps.results.listForRequest(request.requestId, laterThan);
  }

  async failures(id: string, who: Requester): Promise<FailureRow[]> {
    const request = await this.request(id, who);
    return this.deps.results.failures(request.requestId);
  }

  async history(id: string, who: Requester): Promise<{ request: RequestRecord; points: ProgressPoint[] }> {
    const request = await this.request(id, who);
    return { request, points: await this.deps.progress.history(request.requestId) };
  }

  /** The Deployment's status; "not found" without one (upstream answered 500 without a transformer manager). */
  async deploymentStatus(id: string, who: Requester): Promise<object> {
    const request = await this.request(id, who);
    const launcher = this.deps.launcher;
    const status = launcher.deploymentStatus ? await launcher.deploymentStatus(request.requestId) : null;
    if (!status) throw notFound(`Deployment not found: '${id}'`);
    return status;
  }

  /** Download links for `keys` of the request's results, valid for `expirySeconds`. */
  async resultLinks(
    id: string,
    who: Requester,
    keys: readonly string[],
    signer: ResultLinks,
    expirySeconds: number,
  ): Promise<SignedLinks> {
    const request = await this.request(id, who);
    if (!signer.serves(request)) throw badRequest(`Transform request ${id} does not use object-store`);
    const expiresAt = Math.floor((this.deps.now?.() ?? Date.now()) / 1000) + expirySeconds;
    const links: SignedLinks["links"] = [];
    for (const key of keys) {
      links.push({ key, url: await signer.sign(request.requestId, key, expirySeconds) });
    }
    return { links, expiresAt };
  }
}
