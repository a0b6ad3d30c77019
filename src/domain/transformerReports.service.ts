// The transformers' reports other than file-complete (docs/api.md, internal routes): the legacy status report
// (severity fatal ends the request) and the legacy per-file status event, stored in file_status. Both wait
// out a restarting database, as the sidecars ignore HTTP status codes (docs/decisions.md D26). An event
// repeated after a lost answer adds a second event row, which is harmless (it is a log).
import { whileDatabaseRestarts } from "./databaseWait.js";
import { appError } from "./errors.js";
import type { DatasetsRepo, RequestsRepo, ResultsRepo } from "./repositories.js";
import type { TransformationService } from "./transformation.service.js";

/** One legacy per-file status event, as the route has read it. */
export interface FileStatusEvent {
  fileId: number;
  status: string;
  /** Naive UTC ISO time. */
  timestamp: string;
  podName: string | null;
  info: string | null;
}

export class TransformerReportsService {
  constructor(
    private readonly o: {
      requests: Pick<RequestsRepo, "find">;
      datasets: Pick<DatasetsRepo, "hasFile">;
      results: Pick<ResultsRepo, "addFileStatus">;
      transformations: Pick<TransformationService, "statusReport">;
    },
  ) {}

  /** The legacy status report; a fatal one ends the request (TransformationService.statusReport). */
  status(requestId: string, report: { severity: string; source: string; info: string }): Promise<void> {
    return whileDatabaseRestarts(() => this.o.transformations.statusReport(requestId, report));
  }

  /** Stores a per-file status event of a file of the request (404 unknown request, 400 another file). */
  fileStatus(requestId: string, e: FileStatusEvent): Promise<void> {
    return whileDatabaseRestarts(async () => {
      const rec = await this.o.requests.find(requestId);
      if (!rec) throw appError("request_not_found");
      if (!(await this.o.datasets.hasFile(rec.didId, e.fileId))) {
        throw appError("file_not_in_request", { file: e.fileId, request: requestId });
      }
      await this.o.results.addFileStatus({ requestId: rec.requestId, ...e });
    });
  }
}
