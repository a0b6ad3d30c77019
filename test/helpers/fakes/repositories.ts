// In-memory implementations of the repository ports (src/domain/repositories.ts) over the shared Tables
// of memoryDatabase.ts. Each method does what its interface comment (and the SQL of its adapter) says, in
// the fewest lines: the domain's unit tests run the real services on these, in milliseconds, with no
// Postgres. Methods no domain service calls on the request path answer plainly (empty lists, zeros).
import type {
  ApplyResult,
  DatasetsRepo,
  DispatchRow,
  FileEntry,
  FileReport,
  IdempotencyRepo,
  LockedDataset,
  NewRequest,
  ReportOutcome,
  RequestRecord,
  RequestsRepo,
  RerunRecord,
  RerunStarted,
  RerunsRepo,
  ResultJsonRow,
  ResultsRepo,
  ReusableQuery,
  Tx,
} from "../../../src/domain/repositories.js";
import { ACTIVE_STATUSES, type TransformStatusName, isTerminal } from "../../../src/domain/status.js";
import type { DatasetRow, MemoryDatabase, RequestRow, Tables } from "./memoryDatabase.js";

const locked = (d: DatasetRow): LockedDataset => ({
  id: d.id,
  name: d.name,
  lookup_status: d.lookup_status,
  did_finder: d.did_finder,
  stale: d.stale,
});

const record = (r: RequestRow): RequestRecord => {
  const { tasksPublishedThrough: _, ...rest } = r;
  return { ...rest };
};

export class FakeRequestsRepo implements RequestsRepo {
  constructor(private readonly db: MemoryDatabase) {}
  private get t(): Tables {
    return this.db.tables;
  }

  async runningOnDataset(_tx: Tx, datasetId: number): Promise<number[]> {
    return this.t.requests.filter((r) => r.didId === datasetId && r.status === "running").map((r) => r.id);
  }
  async setFiles(_tx: Tx, id: number, files: number): Promise<void> {
    const r = this.t.requests.find((x) => x.id === id);
    if (r) r.files = files;
  }
  async startRunning(_tx: Tx, id: number, files: number): Promise<void> {
    const r = this.t.requests.find((x) => x.id === id);
    if (!r) return;
    this.t.setStatus(r, "running");
    r.files = files;
  }
  async countActive(userId: number): Promise<number> {
    return this.t.requests.filter((r) => r.submittedBy === userId && ACTIVE_STATUSES.includes(r.status))
      .length;
  }
  async findReusable(q: ReusableQuery): Promise<string | null> {
    const hits = this.t.requests.filter((r) => {
      const ds = this.t.dataset(r.didId);
      return (
        r.status === "complete" &&
        ds !== undefined &&
        !ds.stale &&
        r.did === q.datasetName &&
        r.selection === q.selection &&
        r.codeGenImage === q.codeGenImage &&
        r.resultFormat === q.resultFormat &&
        r.resultDestination === q.resultDestination &&
        r.treeName === q.treeName &&
        r.submittedBy === q.submittedBy
      );
    });
    return hits.at(-1)?.requestId ?? null;
  }
  async find(idOrUuid: string): Promise<RequestRecord | null> {
    const r = /^\d+$/.test(idOrUuid)
      ? this.t.requests.find((x) => x.id === Number(idOrUuid))
      : this.t.request(idOrUuid);
    return r ? record(r) : null;
  }
  async list(opts: { submittedBy?: number; skip?: number; take?: number }): Promise<RequestRecord[]> {
    const rows = this.t.requests
      .filter((r) => opts.submittedBy === undefined || r.submittedBy === opts.submittedBy)
      .slice()
      .reverse();
    const from = opts.skip ?? 0;
    return rows.slice(from, opts.take === undefined ? undefined : from + opts.take).map(record);
  }
  async statuses(requestIds: readonly string[]): Promise<Map<string, TransformStatusName>> {
    const out = new Map<string, TransformStatusName>();
    for (const id of requestIds) {
      const r = this.t.request(id);
      if (r) out.set(id, r.status);
    }
    return out;
  }
  async resultFormat(requestId: string): Promise<string | null> {
    return this.t.request(requestId)?.resultFormat ?? null;
  }
  async count(opts: { submittedBy?: number }): Promise<number> {
    return this.t.requests.filter((r) => opts.submittedBy === undefined || r.submittedBy === opts.submittedBy)
      .length;
  }
  async insert(_tx: Tx, n: NewRequest): Promise<number> {
    const id = this.t.nextId("requests");
    this.t.requests.push({
      ...n,
      id,
      submitTime: new Date(),
      finishTime: null,
      filesCompleted: 0,
      filesFailed: 0,
      totalEvents: null,
      totalBytes: null,
      failureDescription: null,
      status: "submitted",
      tasksPublishedThrough: 0,
    });
    this.t.setStatus(this.t.requests.at(-1)!, n.status);
    return id;
  }
  async finish(
    _tx: Tx,
    requestId: string,
    status: TransformStatusName,
    failure: string | null = null,
    onlyFrom: readonly TransformStatusName[] | null = null,
  ): Promise<boolean> {
    const r = this.t.request(requestId);
    if (!r) return false;
    if (onlyFrom ? !onlyFrom.includes(r.status) : isTerminal(r.status)) return false;
    this.t.setStatus(r, status);
    r.finishTime = new Date();
    if (failure !== null) r.failureDescription = failure;
    return true;
  }
  async lockAwaitingDataset(_tx: Tx, datasetId: number) {
    return this.t.requests
      .filter((r) => r.didId === datasetId && (r.status === "lookup" || r.status === "pending_lookup"))
      .map((r) => ({
        id: r.id,
        request_id: r.requestId,
        status: r.status,
        files: r.files,
        done: r.filesCompleted + r.filesFailed,
      }));
  }
  async dispatchRow(id: number): Promise<DispatchRow | null> {
    const r = this.t.requests.find((x) => x.id === id);
    if (!r) return null;
    return {
      id: r.id,
      request_id: r.requestId,
      did_id: r.didId,
      status: r.status,
      tasks_published_through: r.tasksPublishedThrough,
      result_destination: r.resultDestination,
      result_format: r.resultFormat,
    };
  }
  async activeDispatchIds(): Promise<number[]> {
    return this.t.requests.filter((r) => r.status === "lookup" || r.status === "running").map((r) => r.id);
  }
  async advanceWatermark(id: number, through: number): Promise<void> {
    const r = this.t.requests.find((x) => x.id === id);
    if (r) r.tasksPublishedThrough = Math.max(r.tasksPublishedThrough, through);
  }
  async delete(_tx: Tx, id: number, requestId: string): Promise<boolean> {
    const r = this.t.requests.find((x) => x.id === id);
    if (!r || !isTerminal(r.status)) return false;
    this.t.results = this.t.results.filter((x) => x.requestId !== requestId);
    this.t.fileStatus = this.t.fileStatus.filter((x) => x.requestId !== requestId);
    this.t.requests = this.t.requests.filter((x) => x.id !== id);
    return true;
  }
  async stats(requestId: string) {
    const rows = this.t.results.filter((r) => r.requestId === requestId);
    if (rows.length === 0) return null;
    const times = rows.map((r) => r.transformTime);
    const total = times.reduce((a, b) => a + b, 0);
    return {
      minTime: Math.min(...times),
      maxTime: Math.max(...times),
      avgTime: total / rows.length,
      totalTime: total,
      avgRate: rows.reduce((a, r) => a + r.avgRate, 0) / rows.length,
      totalBytes: rows.reduce((a, r) => a + r.totalBytes, 0),
      totalEvents: rows.reduce((a, r) => a + r.totalEvents, 0),
    };
  }
  async cacheBytes(): Promise<number> {
    return this.t.results.reduce((a, r) => a + r.totalBytes, 0);
  }
  async submitTimeFreeing(): Promise<string | null> {
    return null;
  }
  async submittedThrough(cutoff: string) {
    const limit = new Date(`${cutoff}Z`).getTime();
    return this.t.requests
      .filter((r) => r.submitTime.getTime() <= limit)
      .map((r) => ({ id: r.id, requestId: r.requestId, status: r.status }));
  }
  async countByStatus() {
    const byStatus: Record<string, number> = {};
    let filesCompleted = 0;
    let filesFailed = 0;
    for (const r of this.t.requests) {
      byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
      filesCompleted += r.filesCompleted;
      filesFailed += r.filesFailed;
    }
    return { byStatus, filesCompleted, filesFailed };
  }
}

export class FakeDatasetsRepo implements DatasetsRepo {
  constructor(private readonly db: MemoryDatabase) {}
  private get t(): Tables {
    return this.db.tables;
  }

  private create(name: string, didFinder: string, status: DatasetRow["lookup_status"]): DatasetRow {
    const d: DatasetRow = {
      id: this.t.nextId("datasets"),
      name,
      did_finder: didFinder,
      lookup_status: status,
      stale: false,
      lookup_attempts: 0,
      lookupPublished: false,
      nFiles: 0,
      events: 0,
      size: 0,
      shortfall: null,
    };
    this.t.datasets.push(d);
    return d;
  }

  private addFile(datasetId: number, f: FileEntry): void {
    this.t.files.push({ id: this.t.nextId("files"), datasetId, ...f });
  }

  async lockOrCreateForDid(_tx: Tx, name: string, scheme: string): Promise<LockedDataset> {
    const live = this.t.datasets.find((d) => d.name === name && !d.stale);
    return locked(live ?? this.create(name, scheme, "created"));
  }
  async lockOrCreateForFileList(_tx: Tx, name: string, paths: readonly string[]): Promise<LockedDataset> {
    const live = this.t.datasets.find((d) => d.name === name && !d.stale);
    if (live) return locked(live);
    const d = this.create(name, "user", "complete");
    for (const p of paths) this.addFile(d.id, { paths: p, adler32: null, fileSize: 0, fileEvents: 0 });
    d.nFiles = paths.length;
    return locked(d);
  }
  async lockById(_tx: Tx, id: number) {
    const d = this.t.dataset(id);
    return d ? { ...locked(d), lookup_attempts: d.lookup_attempts } : null;
  }
  async markLooking(_tx: Tx, id: number): Promise<void> {
    const d = this.t.dataset(id);
    if (!d) return;
    d.lookup_status = "looking";
    d.lookupPublished = false;
  }
  async markLookupPublished(id: number): Promise<void> {
    const d = this.t.dataset(id);
    if (d) d.lookupPublished = true;
  }
  async unpublishedLookups() {
    return this.t.datasets
      .filter((d) => d.lookup_status === "looking" && !d.lookupPublished && !d.stale)
      .map((d) => ({ id: d.id, name: d.name, did_finder: d.did_finder }));
  }
  async countFiles(_tx: Tx, datasetId: number): Promise<number> {
    return this.t.files.filter((f) => f.datasetId === datasetId).length;
  }
  async addFilesToLookup(datasetId: number, files: readonly FileEntry[]) {
    return this.db.serial(async () => {
      const d = this.t.dataset(datasetId);
      if (d?.lookup_status !== "looking") return null;
      const have = new Set(this.t.files.filter((f) => f.datasetId === datasetId).map((f) => f.paths));
      let added = 0;
      for (const f of files) {
        if (have.has(f.paths)) continue;
        have.add(f.paths);
        this.addFile(datasetId, f);
        added += 1;
      }
      const fed = this.t.requests.filter((r) => r.didId === datasetId && r.status === "lookup");
      for (const r of fed) r.files += added;
      return { fedRequests: fed.map((r) => r.id), added };
    });
  }
  async exists(datasetId: number): Promise<boolean> {
    return this.t.dataset(datasetId) !== undefined;
  }
  async hasFile(datasetId: number, fileId: number): Promise<boolean> {
    return this.t.files.some((f) => f.id === fileId && f.datasetId === datasetId);
  }
  async lastShortfall(_tx: Tx, datasetId: number) {
    return this.t.dataset(datasetId)?.shortfall ?? null;
  }
  async noteShortfall(_tx: Tx, datasetId: number, reported: number, arrived: number): Promise<void> {
    const d = this.t.dataset(datasetId);
    if (d) d.shortfall = { reported, arrived };
  }
  async markComplete(_tx: Tx, id: number, s: { files: number; events: number; bytes: number }) {
    const d = this.t.dataset(id);
    if (!d) return;
    d.lookup_status = "complete";
    d.nFiles = s.files;
    d.events = s.events;
    d.size = s.bytes;
  }
  async markFailed(_tx: Tx, id: number, errorType: string): Promise<void> {
    const d = this.t.dataset(id);
    if (!d) return;
    d.lookup_status = errorType as DatasetRow["lookup_status"];
    d.stale = true;
  }
  async filesAfter(datasetId: number, afterId: number, limit: number) {
    return this.t.files
      .filter((f) => f.datasetId === datasetId && f.id > afterId)
      .slice(0, limit)
      .map((f) => ({ id: f.id, paths: f.paths }));
  }
  async filesWithoutResult(
    datasetId: number,
    requestId: string,
    afterId: number,
    throughId: number,
    limit: number,
  ) {
    const done = new Set(this.t.results.filter((r) => r.requestId === requestId).map((r) => r.fileId));
    return this.t.files
      .filter((f) => f.datasetId === datasetId && f.id > afterId && f.id <= throughId && !done.has(f.id))
      .slice(0, limit)
      .map((f) => ({ id: f.id, paths: f.paths }));
  }
  async markStale(id: number): Promise<boolean> {
    const d = this.t.dataset(id);
    if (!d || d.stale) return false;
    d.stale = true;
    return true;
  }
  async markStaleOlderThan(): Promise<number> {
    return 0;
  }
  async deleteOrphans(): Promise<string[]> {
    const used = new Set(this.t.requests.map((r) => r.didId));
    const gone = this.t.datasets.filter((d) => !used.has(d.id));
    this.t.datasets = this.t.datasets.filter((d) => used.has(d.id));
    this.t.files = this.t.files.filter((f) => used.has(f.datasetId));
    return gone.map((d) => d.name);
  }
  async countByLookupStatus(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const d of this.t.datasets.filter((x) => !x.stale))
      out[d.lookup_status] = (out[d.lookup_status] ?? 0) + 1;
    return out;
  }
}

/**
 * File-complete reports as sx_apply_file_reports applies them (docs/decisions.md D11): per (request, file)
 * a success wins over a failure and the last success over earlier ones; a new result moves one counter, a
 * success replacing a failure moves it from failed to completed, a repeat moves nothing; a Running request
 * whose counters reach its file count becomes Complete in the same step. Requests in Submitted or Pending
 * Lookup have no tasks yet and take no report.
 */
export class FakeResultsRepo implements ResultsRepo {
  constructor(private readonly db: MemoryDatabase) {}
  private get t(): Tables {
    return this.db.tables;
  }

  applyReports(reports: readonly FileReport[]): Promise<ApplyResult> {
    return this.db.serial(async () => {
      const outcomes: ReportOutcome[] = [];
      const chosen = new Map<string, FileReport>();
      for (const rep of reports) {
        const r = this.t.request(rep.requestId);
        if (!r) {
          outcomes.push("request_not_found");
          continue;
        }
        if (r.status === "submitted" || r.status === "pending_lookup") {
          outcomes.push("request_not_running");
          continue;
        }
        if (!this.t.files.some((f) => f.id === rep.fileId && f.datasetId === r.didId)) {
          outcomes.push("file_not_in_request");
          continue;
        }
        outcomes.push("ok");
        this.t.fileStatus.push({
          requestId: rep.requestId,
          fileId: rep.fileId,
          status: rep.success ? "success" : "failure",
          podName: rep.podName,
          info: rep.info,
        });
        // Per (request, file): the last success if there is one, else the first failure.
        const key = `${rep.requestId}/${rep.fileId}`;
        const prev = chosen.get(key);
        if (!prev || rep.success) chosen.set(key, rep);
      }
      const completed: string[] = [];
      const before = new Map(this.t.requests.map((r) => [r.requestId, r.status]));
      for (const rep of chosen.values()) this.write(rep);
      for (const [requestId, was] of before) {
        const r = this.t.request(requestId)!;
        if (was === "running" && r.status === "complete") completed.push(requestId);
      }
      return { outcomes, completed };
    });
  }

  private write(rep: FileReport): void {
    const r = this.t.request(rep.requestId)!;
    const old = this.t.results.find((x) => x.requestId === rep.requestId && x.fileId === rep.fileId);
    const changes =
      rep.success &&
      old !== undefined &&
      (!old.success || old.totalBytes !== rep.totalBytes || old.totalEvents !== rep.totalEvents);
    if (old && !changes) return;
    if (!old) {
      if (rep.success) r.filesCompleted += 1;
      else r.filesFailed += 1;
    } else if (!old.success) {
      r.filesFailed -= 1;
      r.filesCompleted += 1;
    }
    r.totalBytes = (r.totalBytes ?? 0) + rep.totalBytes - (old?.totalBytes ?? 0);
    r.totalEvents = (r.totalEvents ?? 0) + rep.totalEvents - (old?.totalEvents ?? 0);
    const row = {
      requestId: rep.requestId,
      fileId: rep.fileId,
      filePath: rep.filePath,
      status: rep.status,
      success: rep.success,
      transformTime: rep.transformTime,
      totalEvents: rep.totalEvents,
      totalBytes: rep.totalBytes,
      avgRate: rep.avgRate,
      s3ObjectName: rep.s3ObjectName ?? old?.s3ObjectName ?? null,
      createdAt: new Date(),
    };
    if (old) Object.assign(old, row);
    else this.t.results.push(row);
    if (r.status === "running" && r.files > 0 && r.filesCompleted + r.filesFailed >= r.files) {
      this.t.setStatus(r, "complete");
      r.finishTime = new Date();
    }
  }

  async listForRequest(requestId: string): Promise<ResultJsonRow[]> {
    return this.t.results
      .filter((r) => r.requestId === requestId)
      .map((r, i) => ({
        id: i + 1,
        file_id: r.fileId,
        file_path: r.filePath,
        request_id: r.requestId,
        transform_status: r.status,
        transform_time: Math.round(r.transformTime),
        total_events: r.totalEvents,
        total_bytes: r.totalBytes,
        avg_rate: r.avgRate,
        s3_object_name: r.s3ObjectName,
        created_at: r.createdAt.toISOString(),
      }));
  }
  async failures(requestId: string) {
    return this.t.fileStatus
      .filter((s) => s.requestId === requestId && s.status === "failure")
      .map((s) => ({
        pod_name: s.podName,
        paths: this.t.files.find((f) => f.id === s.fileId)?.paths ?? null,
        file_events: null,
        info: s.info,
      }));
  }
  async addFileStatus(row: {
    requestId: string;
    fileId: number;
    status: string;
    podName: string | null;
    info: string | null;
  }): Promise<void> {
    this.t.fileStatus.push({ ...row });
  }
}

/** Re-runs (docs/decisions.md D35): failed results cleared, counters back down, the request Running again. */
export class FakeRerunsRepo implements RerunsRepo {
  constructor(private readonly db: MemoryDatabase) {}
  private get t(): Tables {
    return this.db.tables;
  }

  async datasetStale(datasetId: number): Promise<boolean> {
    return this.t.dataset(datasetId)?.stale ?? true;
  }
  async lock(_tx: Tx, requestDbId: number) {
    const r = this.t.requests.find((x) => x.id === requestDbId);
    if (!r) return null;
    return { status: r.status, filesFailed: r.filesFailed, stale: this.t.dataset(r.didId)?.stale ?? true };
  }
  async start(_tx: Tx, q: { id: number; requestId: string; userId: number | null }) {
    const r = this.t.requests.find((x) => x.id === q.id);
    const failed = this.t.results.filter((x) => x.requestId === q.requestId && !x.success);
    if (!r || failed.length === 0) return null;
    this.t.results = this.t.results.filter((x) => !failed.includes(x));
    r.filesFailed -= failed.length;
    r.totalBytes = (r.totalBytes ?? 0) - failed.reduce((a, x) => a + x.totalBytes, 0);
    r.totalEvents = (r.totalEvents ?? 0) - failed.reduce((a, x) => a + x.totalEvents, 0);
    r.finishTime = null;
    this.t.setStatus(r, "running");
    const last = this.t.files.filter((f) => f.datasetId === r.didId).at(-1)?.id ?? 0;
    r.tasksPublishedThrough = Math.max(r.tasksPublishedThrough, last);
    const n = this.t.reruns.filter((x) => x.requestDbId === q.id).length + 1;
    const at = new Date();
    this.t.reruns.push({
      id: this.t.nextId("reruns"),
      requestDbId: q.id,
      userId: q.userId,
      files: failed.length,
      at,
    });
    const started: RerunStarted = { files: failed.length, rerun: n, at };
    return started;
  }
  async list(idOrUuid: string): Promise<RerunRecord[]> {
    const r = /^\d+$/.test(idOrUuid)
      ? this.t.requests.find((x) => x.id === Number(idOrUuid))
      : this.t.request(idOrUuid);
    if (!r) return [];
    return this.t.reruns
      .filter((x) => x.requestDbId === r.id)
      .reverse()
      .map((x) => ({ id: x.id, userId: x.userId, userEmail: null, files: x.files, at: x.at }));
  }
}

export class FakeIdempotencyRepo implements IdempotencyRepo {
  readonly keys = new Map<string, { bodyHash: string; requestId: string | null }>();

  async claim(userKey: number, key: string, bodyHash: string): Promise<boolean> {
    const k = `${userKey}/${key}`;
    if (this.keys.has(k)) return false;
    this.keys.set(k, { bodyHash, requestId: null });
    return true;
  }
  async get(userKey: number, key: string) {
    return this.keys.get(`${userKey}/${key}`) ?? null;
  }
  async complete(userKey: number, key: string, requestId: string): Promise<void> {
    const row = this.keys.get(`${userKey}/${key}`);
    if (row) row.requestId = requestId;
  }
  async release(userKey: number, key: string): Promise<void> {
    this.keys.delete(`${userKey}/${key}`);
  }
  async expire(): Promise<number> {
    return 0;
  }
}
