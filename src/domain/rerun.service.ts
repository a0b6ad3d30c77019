// Re-running the failed files of a finished request (docs/decisions.md D35, docs/database.md). Only a
// Complete request whose dataset is still live can be re-run: its failed results are cleared and it goes
// back to Running in one transaction under the row locks (a second, concurrent re-run then finds it
// Running and is refused with 409), the failed files get new tasks on its `transformer-<id>` queue as at
// submit, transformers are started again, and the reports that follow merge into the same request, bucket
// and counters; the last one makes it Complete again through the ordinary file-complete path.
import type { Database } from "./repositories.js";
import type { ObjectStore } from "./objectStore.js";
import type { RequestRecord, RequestsRepo } from "./repositories.js";
import type { RerunRecord, RerunRefusal, RerunStarted, RerunsRepo } from "./repositories.js";
import type { Logger } from "../logger.js";
import type { Dispatcher } from "./dispatcher.js";
import {
  type AppError,
  appError,
  type CodeWithStatus,
  conflict,
  type ErrorCode,
  forbidden,
  transformNotFound,
} from "./errors.js";
import type { Lifecycle } from "./lifecycle.js";
import { RequestEnd } from "./requestEnd.js";
import type { CodeGenerator, GeneratedCode, TransformerLauncher } from "./ports.js";
import { type TransformStatusName, displayStatus, isTerminal } from "./status.js";
import type { Requester } from "./transformation.service.js";

export interface RerunResult {
  requestId: string;
  /** Files given a new task. */
  files: number;
  /** 1 for the first re-run of the request, 2 for the second, … */
  rerun: number;
  at: Date;
}

/** Stable codes of the 409 answers (docs/api.md). */
export const RERUN_REFUSALS: Record<RerunRefusal, ErrorCode> = {
  active: "rerun_request_active",
  not_complete: "rerun_not_complete",
  no_failed_files: "rerun_no_failed_files",
  dataset_stale: "rerun_dataset_stale",
  gone: "not_found",
};

export class RerunService {
  private readonly ends: RequestEnd;

  constructor(
    private readonly db: Database,
    private readonly requests: RequestsRepo,
    private readonly reruns: RerunsRepo,
    private readonly codegen: CodeGenerator,
    private readonly launcher: TransformerLauncher,
    private readonly dispatcher: Dispatcher,
    private readonly lifecycle: Lifecycle,
    private readonly objectStore: ObjectStore | null,
    private readonly log: Logger,
    private readonly cfg: { codeGenImages: Record<string, string> },
  ) {
    this.ends = new RequestEnd(db, requests, lifecycle);
  }

  /** The request, if `who` may re-run it (404 unknown; 403 another user's, as cancel and delete). */
  async load(id: string, who: Requester): Promise<RequestRecord> {
    const r = await this.requests.find(id);
    if (!r) throw transformNotFound(id);
    if (who.user && !who.user.admin && r.submittedBy !== who.user.id) {
      throw forbidden("You are not authorized to re-run this request");
    }
    return r;
  }

  /** The re-runs of a request (UUID or integer id), newest first: who, when, how many files. */
  history(idOrUuid: string): Promise<RerunRecord[]> {
    return this.reruns.list(idOrUuid);
  }

  /** Whether the dataset went stale (a re-run is then refused). */
  datasetStale(datasetId: number): Promise<boolean> {
    return this.reruns.datasetStale(datasetId);
  }

  /** Why this request cannot be re-run now, as the 409 it gets; null when it can (checked again under lock). */
  refusal(r: Pick<RequestRecord, "requestId" | "status" | "filesFailed">, datasetStale: boolean) {
    const why = this.reason(r.status, r.filesFailed, datasetStale);
    return why ? this.refusalError(why, r) : null;
  }

  async rerunFailed(id: string, who: Requester): Promise<RerunResult> {
    const rec = await this.load(id, who);
    const early = this.refusal(rec, await this.reruns.datasetStale(rec.didId));
    if (early) throw early;
    // As at submit: the code is generated (and the bucket made sure of) before any database write, so a
    // generator that is down leaves the request Complete as it was.
    const generated = await this.generate(rec);
    if (this.objectStore && rec.resultDestination === "object-store") {
      try {
        await this.objectStore.createBucket(rec.requestId);
      } catch (err) {
        throw appError("object_store_unavailable", { why: (err as Error).message });
      }
    }

    type Outcome =
      | { started: RerunStarted }
      | { refused: RerunRefusal; status?: TransformStatusName; filesFailed?: number };
    const outcome = await this.db.sql.transaction(async (tx): Promise<Outcome> => {
      const now = await this.reruns.lock(tx, rec.id);
      if (!now) return { refused: "gone" };
      const why = this.reason(now.status, now.filesFailed, now.stale);
      if (why) return { refused: why, status: now.status, filesFailed: now.filesFailed };
      const started = await this.reruns.start(tx, {
        id: rec.id,
        requestId: rec.requestId,
        userId: who.user?.id ?? null,
      });
      return started ? { started } : { refused: "no_failed_files" };
    });
    if ("refused" in outcome) {
      throw this.refusalError(outcome.refused, {
        requestId: rec.requestId,
        status: outcome.status ?? rec.status,
        filesFailed: outcome.filesFailed ?? 0,
      });
    }
    const s = outcome.started;
    const log = this.log.child({ requestId: rec.requestId });
    // The audit line (docs/decisions.md D35); the same facts are in request_reruns.
    log.info(
      { from: "complete", to: "running", files: s.files, rerun: s.rerun, by: who.user?.id ?? null },
      "failed files re-run",
    );

    // The previous run's shutdown (its transformers and queue) may still be going on in this process: it
    // must finish before the new tasks are published and the transformers started, or it would remove them.
    await this.lifecycle.idle();
    this.dispatcher.redrive(rec.id);
    try {
      await this.launcher.start({
        requestId: rec.requestId,
        image: generated.image,
        workers: rec.workers ?? 1,
        files: s.files,
        resultDestination: rec.resultDestination,
        resultFormat: rec.resultFormat,
        transformerLanguage: generated.language,
        transformerCommand: generated.command,
        generatedCode: generated,
      });
    } catch (err) {
      // As at submit: a request whose transformers cannot start ends Fatal, saying why.
      log.error({ err }, "could not start transformers for the re-run");
      const reason = `Could not start transformers: ${(err as Error).message}`;
      await this.ends.one(rec.requestId, "fatal", reason, ["running"]);
    }
    return { requestId: rec.requestId, files: s.files, rerun: s.rerun, at: s.at };
  }

  private reason(status: RequestRecord["status"], filesFailed: number, stale: boolean): RerunRefusal | null {
    if (!isTerminal(status)) return "active";
    if (status !== "complete") return "not_complete";
    if (filesFailed <= 0) return "no_failed_files";
    if (stale) return "dataset_stale";
    return null;
  }

  private refusalError(
    why: RerunRefusal,
    r: Pick<RequestRecord, "requestId" | "status" | "filesFailed">,
  ): AppError {
    const id = r.requestId;
    const code = RERUN_REFUSALS[why] as CodeWithStatus<409>; // "gone" (404) does not use it
    switch (why) {
      case "active":
        return conflict(
          `Transform request ${id} is ${displayStatus(r.status)}: its failed files can be re-run once it has finished.`,
          code,
        );
      case "not_complete":
        return conflict(
          `Transform request ${id} ended ${displayStatus(r.status)}: only the failed files of a Complete request can be re-run.`,
          code,
        );
      case "no_failed_files":
        return conflict(`Transform request ${id} has no failed files to re-run.`, code);
      case "dataset_stale":
        return conflict(
          `The dataset of transform request ${id} has been marked stale (deleted or expired): its files cannot be re-run. Submit the request again.`,
          code,
        );
      case "gone":
        return transformNotFound(id);
    }
  }

  /** The request's code, generated again from its stored selection by the generator of its image. */
  private async generate(r: RequestRecord): Promise<GeneratedCode> {
    const codegen = Object.entries(this.cfg.codeGenImages).find(([, img]) => img === r.codeGenImage)?.[0];
    if (!codegen) {
      throw conflict(
        `The code generator of transform request ${r.requestId} (${r.codeGenImage ?? "none"}) is no longer configured: its files cannot be re-run.`,
        "rerun_codegen_gone",
      );
    }
    try {
      return await this.codegen.generate(codegen, r.selection ?? "");
    } catch (err) {
      // The selection was accepted at submit: whatever the generator says now is its problem, not the
      // caller's input.
      throw appError("codegen_unavailable", { codegen, why: (err as Error).message });
    }
  }
}
