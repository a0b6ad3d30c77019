// Transform requests: submit, cancel, delete, and the legacy status report. Owns the request state
// machine (docs/database.md); every write that decides a transition is a conditional statement inside one
// transaction, and whoever makes a request terminal triggers its shutdown once (lifecycle.ts).
import { createHash, randomUUID } from "node:crypto";
import type { Database, DatasetsRepo } from "./repositories.js";
import type { IdempotencyRepo } from "./repositories.js";
import type { RequestRecord, RequestsRepo } from "./repositories.js";
import type { ObjectStore } from "./objectStore.js";
import type { Logger } from "../logger.js";
import { canonicalFileList, didProblem, fileListDatasetName, parseDid } from "./did.js";
import { ownValue } from "./ownValue.js";
import type { Dispatcher } from "./dispatcher.js";
import { appError, badRequest, CodeGenError, transformNotFound } from "./errors.js";
import type { Lifecycle } from "./lifecycle.js";
import { RequestEnd } from "./requestEnd.js";
import type { CodeGenerator, GeneratedCode, TransformerLauncher } from "./ports.js";
import { type Requester, assertMayRequest, requestListScope } from "./policy.js";
import { type TransformStatusName, isLookupRequired, isTerminal } from "./status.js";

// Defined with the rules that read it (policy.ts); re-exported for the modules that import it from here.
export type { Requester } from "./policy.js";

export interface SubmitInput {
  title: string | null;
  did: string | null;
  fileList: string[] | null;
  selection: string;
  codegen: string;
  treeName: string | null;
  workers: number;
  resultDestination: "object-store" | "volume";
  resultFormat: "parquet" | "root-file" | "root-rntuple";
}

export interface TransformationConfig {
  defaultScheme: string;
  validSchemes: readonly string[];
  codeGenImages: Record<string, string>;
  appVersion: string;
  /** REUSE_RESULTS: an identical submit by the same user returns their completed request (docs/decisions.md D17). */
  reuseResults?: boolean;
  /** MAX_ACTIVE_REQUESTS_PER_USER: 0 = no limit. */
  maxActivePerUser?: number;
}

export interface SubmitOptions {
  /** `Idempotency-Key` header (docs/decisions.md D17). */
  idempotencyKey?: string;
}

/**
 * sha256 of JSON.stringify(value) for a flat object whose arrays hold strings, written a few thousand
 * array entries at a time: the same digest without a 1,000,000-path list in one string.
 */
export function jsonSha256(value: object): string {
  const hash = createHash("sha256");
  const STEP = 1024;
  let first = true;
  hash.update("{");
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined) continue;
    hash.update(`${first ? "" : ","}${JSON.stringify(key)}:`);
    first = false;
    if (Array.isArray(v) && v.every((x) => typeof x === "string")) {
      hash.update("[");
      for (let i = 0; i < v.length; i += STEP) {
        const part = JSON.stringify(v.slice(i, i + STEP)).slice(1, -1);
        hash.update(i === 0 ? part : `,${part}`);
      }
      hash.update("]");
    } else hash.update(JSON.stringify(v));
  }
  return hash.update("}").digest("hex");
}

export class TransformationService {
  constructor(
    private readonly db: Database,
    private readonly requests: RequestsRepo,
    private readonly datasets: DatasetsRepo,
    private readonly codegen: CodeGenerator,
    private readonly launcher: TransformerLauncher,
    private readonly dispatcher: Dispatcher,
    lifecycle: Lifecycle,
    private readonly log: Logger,
    private readonly objectStore: ObjectStore | null,
    private readonly cfg: TransformationConfig,
    private readonly idempotency?: IdempotencyRepo,
  ) {
    this.ends = new RequestEnd(db, requests, lifecycle);
  }

  /** Every path here that ends a request goes through it (requestEnd.ts). */
  private readonly ends: RequestEnd;

  /**
   * Submit with the robustness rules around it (docs/decisions.md D17): the file list is canonical (sorted, duplicates
   * removed: #753, #754); an `Idempotency-Key` makes retries return the first request (a different body
   * with the same key is 422; concurrent duplicates wait for the first); REUSE_RESULTS returns the same
   * user's completed identical request; MAX_ACTIVE_REQUESTS_PER_USER bounds a user's active requests.
   */
  async submitRequest(
    input: SubmitInput,
    who: Requester,
    opts: SubmitOptions = {},
  ): Promise<{ requestId: string; reused?: boolean }> {
    const canonical: SubmitInput = {
      ...input,
      fileList: input.fileList ? canonicalFileList(input.fileList) : null,
    };
    const key = opts.idempotencyKey;
    if (key === undefined || !this.idempotency) return this.submitChecked(canonical, who);
    if (key.length === 0 || key.length > 255) {
      throw badRequest("Idempotency-Key must be 1 to 255 characters", "bad_idempotency_key");
    }
    const userKey = who.user?.id ?? 0;
    const hash = jsonSha256(canonical);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (await this.idempotency.claim(userKey, key, hash)) {
        try {
          const out = await this.submitChecked(canonical, who);
          await this.idempotency.complete(userKey, key, out.requestId);
          return out;
        } catch (err) {
          await this.idempotency.release(userKey, key).catch(() => {});
          throw err;
        }
      }
      const row = await this.idempotency.get(userKey, key);
      if (row && row.bodyHash !== hash) {
        throw appError("idempotency_key_reused");
      }
      if (row?.requestId) return { requestId: row.requestId };
      // The first submit with this key is still running (or just failed and freed the key): wait and look again.
      if (Date.now() > deadline) {
        throw appError("idempotency_in_progress");
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private async submitChecked(
    input: SubmitInput,
    who: Requester,
  ): Promise<{ requestId: string; reused?: boolean }> {
    const limit = this.cfg.maxActivePerUser ?? 0;
    if (limit > 0 && who.user) {
      const n = await this.requests.countActive(who.user.id);
      if (n >= limit) {
        throw appError("too_many_active_requests", { n, limit });
      }
    }
    if (this.cfg.reuseResults) {
      const reused = await this.findReusable(input, who);
      if (reused) {
        this.log.info({ requestId: reused }, "identical completed request reused");
        return { requestId: reused, reused: true };
      }
    }
    return this.submit(input, who);
  }

  /** The same user's completed request with the same dataset version, selection, generator and format. */
  private async findReusable(input: SubmitInput, who: Requester): Promise<string | null> {
    const image = ownValue(this.cfg.codeGenImages, input.codegen);
    if (image === undefined) return null;
    let name: string;
    if (input.did) {
      if (didProblem(input.did) !== null) return null;
      const parsed = parseDid(input.did, this.cfg.defaultScheme);
      name = parsed.fullDid;
    } else if (input.fileList && input.fileList.length > 0) {
      name = fileListDatasetName(input.fileList);
    } else return null;
    return this.requests.findReusable({
      datasetName: name,
      selection: input.selection,
      codeGenImage: image,
      resultFormat: input.resultFormat,
      resultDestination: input.resultDestination,
      treeName: input.treeName,
      submittedBy: who.user?.id ?? null,
    });
  }

  /**
   * Starts the request's transformers again (the reconciler, when its Deployment went missing): the code is
   * generated again from the stored selection; the launcher treats objects that exist as success.
   */
  async relaunch(r: RequestRecord): Promise<void> {
    const codegen = Object.entries(this.cfg.codeGenImages).find(([, img]) => img === r.codeGenImage)?.[0];
    if (!codegen) throw new Error(`no code generator for image ${r.codeGenImage} any more`);
    const generated = await this.generate(codegen, r.selection ?? "");
    await this.launcher.start({
      requestId: r.requestId,
      image: generated.image,
      workers: r.workers ?? 1,
      files: r.files,
      resultDestination: r.resultDestination,
      resultFormat: r.resultFormat,
      transformerLanguage: generated.language,
      transformerCommand: generated.command,
      generatedCode: generated,
    });
  }

  /** docs/api.md (with the newer upstream order: code generation before any database write). */
  async submit(input: SubmitInput, who: Requester): Promise<{ requestId: string }> {
    const codeGenImage = ownValue(this.cfg.codeGenImages, input.codegen);
    if (codeGenImage === undefined) {
      // docs/decisions.md D7: 400 instead of upstream's 500
      throw badRequest(`Invalid Codegen Image Passed in Request: ${input.codegen}`, "invalid_codegen");
    }
    if (Boolean(input.did) === Boolean(input.fileList && input.fileList.length > 0)) {
      throw badRequest("Must provide did or file-list but not both", "did_or_file_list");
    }
    const problem = input.did ? didProblem(input.did) : null;
    if (problem !== null) throw badRequest(problem, "invalid_did");
    const parsed = input.did ? parseDid(input.did, this.cfg.defaultScheme) : null;
    if (parsed && !this.cfg.validSchemes.includes(parsed.scheme)) {
      throw badRequest(`DID scheme is not supported: ${parsed.scheme}`, "unsupported_did_scheme");
    }
    if (parsed && parsed.fullDid.length > 1024) throw badRequest("did must be at most 1024 characters");

    const requestId = randomUUID();
    const log = this.log.child({ requestId });
    const generated = await this.generate(input.codegen, input.selection);
    if (this.objectStore && input.resultDestination === "object-store") {
      // docs/decisions.md D28: the sidecar uploads to bucket <request_id> before it reports, so it exists from submit.
      try {
        await this.objectStore.createBucket(requestId);
      } catch (err) {
        throw appError("object_store_unavailable", { why: (err as Error).message });
      }
    }

    const outcome = await this.ends.inTransaction(async (tx, end) => {
      const dataset = parsed
        ? await this.datasets.lockOrCreateForDid(tx, parsed.fullDid, parsed.scheme)
        : await this.datasets.lockOrCreateForFileList(
            tx,
            fileListDatasetName(input.fileList!),
            input.fileList!,
          );
      let status: TransformStatusName;
      let files = 0;
      let lookup = false;
      if (dataset.lookup_status === "complete") {
        status = "running";
        files = await this.datasets.countFiles(tx, dataset.id);
      } else if (isLookupRequired(dataset.lookup_status)) {
        status = "lookup";
        lookup = true;
        await this.datasets.markLooking(tx, dataset.id);
      } else {
        status = "pending_lookup";
      }
      const id = await this.requests.insert(tx, {
        requestId,
        title: input.title,
        did: dataset.name,
        didId: dataset.id,
        selection: input.selection,
        treeName: input.treeName,
        image: generated.image,
        workers: input.workers,
        resultDestination: input.resultDestination,
        resultFormat: input.resultFormat,
        submittedBy: who.user?.id ?? null,
        files,
        generatedCodeCm: `${requestId}-generated-source`,
        status,
        appVersion: this.cfg.appVersion,
        codeGenImage,
        transformerLanguage: generated.language,
        transformerCommand: generated.command,
      });
      // A complete dataset with no files finishes at once (docs/api.md, files == 0).
      if (status === "running" && files === 0) {
        await end(requestId, "complete");
        status = "complete";
      }
      return { id, dataset, status, files, lookup };
    });
    log.info(
      { status: outcome.status, datasetId: outcome.dataset.id, files: outcome.files },
      "transform request submitted",
    );

    if (outcome.lookup) {
      // The lookup is confirmed by the broker before we answer when it can be; when the broker is down the
      // request is accepted and the lookup is sent on reconnect (lookup_published_at stays NULL until then).
      try {
        await this.dispatcher.publishLookup(outcome.dataset);
      } catch (err) {
        log.warn({ err: String(err) }, "lookup not published yet; will be re-sent when the broker is back");
      }
    }
    if (outcome.status === "running") this.dispatcher.kick(outcome.id);
    // A request that ended at once (no files) was shut down when its transaction committed (this.ends).
    if (outcome.status !== "complete") {
      try {
        await this.launcher.start({
          requestId,
          image: generated.image,
          workers: input.workers,
          files: outcome.files,
          resultDestination: input.resultDestination,
          resultFormat: input.resultFormat,
          transformerLanguage: generated.language,
          transformerCommand: generated.command,
          generatedCode: generated,
        });
      } catch (err) {
        log.error({ err }, "could not start transformers");
        await this.fail(requestId, `Could not start transformers: ${(err as Error).message}`);
      }
    }
    return { requestId };
  }

  private async generate(codegen: string, selection: string): Promise<GeneratedCode> {
    try {
      return await this.codegen.generate(codegen, selection);
    } catch (err) {
      if (err instanceof CodeGenError) {
        // A generator that rejects the selection is the user's input problem: 400, shown by the client as
        // "Invalid transform request: …". An unreachable generator is ours: 503.
        const status = err.status === 400 || err.status === 500 ? 400 : err.status;
        throw appError("codegen_failed", { detail: err.message }, { status });
      }
      throw appError("codegen_unavailable", { codegen, why: (err as Error).message });
    }
  }

  async get(id: string, who: Requester): Promise<RequestRecord> {
    const r = await this.requests.find(id);
    if (!r) throw transformNotFound(id);
    assertMayRequest(who, r, "view");
    return r;
  }

  async list(who: Requester, submittedBy: number | undefined, page?: { page: number; perPage: number }) {
    const scope = requestListScope(who, submittedBy);
    const rows = await this.requests.list({
      submittedBy: scope,
      skip: page ? (page.page - 1) * page.perPage : undefined,
      take: page?.perPage,
    });
    const total = page ? await this.requests.count({ submittedBy: scope }) : undefined;
    return { rows, total };
  }

  /** newer upstream; docs/api.md: GET or POST; owner or admin; terminal → 400. */
  async cancel(id: string, who: Requester): Promise<string> {
    const r = await this.requests.find(id);
    if (!r) throw transformNotFound(id);
    assertMayRequest(who, r, "cancel");
    const done = await this.ends.one(r.requestId, "canceled");
    if (!done) throw badRequest(`Transform request with id ${id} is not in progress.`, "not_in_progress");
    this.log.info({ requestId: r.requestId, from: r.status, to: "canceled" }, "transform request canceled");
    return `Canceled transformation request ${id}`;
  }

  /** docs/api.md: only finished requests; results, events and the row go in one transaction. */
  async delete(
    id: string,
    who: Requester,
    removeBucket?: (requestId: string) => Promise<void>,
  ): Promise<string> {
    const r = await this.requests.find(id);
    if (!r) throw transformNotFound(id);
    // Ownership first: a non-owner learns nothing about the request's state.
    assertMayRequest(who, r, "delete");
    if (!isTerminal(r.status))
      throw badRequest(`Transform request with id ${id} is still in progress.`, "in_progress");
    if (this.objectStore && r.resultDestination === "object-store") {
      await this.objectStore.deleteBucketAndContents(r.requestId);
    }
    const deleted = await this.db.sql.transaction((tx) => this.requests.delete(tx, r.id, r.requestId));
    if (!deleted) throw badRequest(`Transform request with id ${id} is still in progress.`, "in_progress");
    this.log.info({ requestId: r.requestId }, "transform request deleted");
    return `Transform request with id ${id} has been archived.`;
  }

  /** Legacy `POST …/<request_id>/status` (docs/api.md): fatal ends the request (and, unlike upstream, shuts it down). */
  async statusReport(
    requestId: string,
    report: { severity: string; source: string; info: string },
  ): Promise<void> {
    if (report.severity !== "fatal") {
      this.log.info({ requestId, ...report }, "transformer status report");
      return;
    }
    const r = await this.requests.find(requestId);
    if (!r) throw transformNotFound(requestId);
    await this.fail(r.requestId, report.info);
  }

  async fail(requestId: string, reason: string): Promise<boolean> {
    const done = await this.ends.one(requestId, "fatal", reason);
    if (done) this.log.warn({ requestId, to: "fatal", reason }, "transform request failed");
    return done;
  }
}
