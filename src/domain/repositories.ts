// Repository ports (issue 14): what the domain needs from the database, and the records it reads and
// writes. The classes in src/adapters/repositories implement these interfaces and hold all SQL; the domain
// imports only from here, so it never sees a query, a pool or Prisma.
import type { DatasetLookupStatus, TransformStatusName } from "./status.js";

/** A transaction handle: opaque to the domain, which only passes it from a UnitOfWork to repositories. */
export interface Tx {
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
}

/**
 * What the domain needs of the database itself: running repository calls in one transaction (the adapter's
 * Database, src/adapters/db/database.ts, provides it; a deadlock re-runs `fn`, so it must be safe to repeat).
 */
export interface Database {
  readonly sql: { transaction<R>(fn: (tx: Tx) => Promise<R>): Promise<R> };
}

/** What makes a completed request reusable for a new submit (RequestsRepo.findReusable). */
export interface ReusableQuery {
  datasetName: string;
  selection: string;
  codeGenImage: string;
  resultFormat: string;
  resultDestination: string;
  treeName: string | null;
  submittedBy: number | null;
}

// ---- requests (src/adapters/repositories/requests.repo.ts)

/** A `requests` row as the domain sees it (the status-polling hot path reads it with one raw query). */
export interface RequestRecord {
  id: number;
  requestId: string;
  title: string | null;
  submitTime: Date;
  finishTime: Date | null;
  did: string;
  didId: number;
  selection: string | null;
  treeName: string | null;
  image: string | null;
  workers: number | null;
  resultDestination: string;
  resultFormat: string;
  submittedBy: number | null;
  files: number;
  filesCompleted: number;
  filesFailed: number;
  totalEvents: number | null;
  totalBytes: number | null;
  generatedCodeCm: string | null;
  status: TransformStatusName;
  failureDescription: string | null;
  appVersion: string | null;
  codeGenImage: string | null;
  transformerLanguage: string | null;
  transformerCommand: string | null;
}

export interface NewRequest {
  requestId: string;
  title: string | null;
  did: string;
  didId: number;
  selection: string;
  treeName: string | null;
  image: string;
  workers: number;
  resultDestination: string;
  resultFormat: string;
  submittedBy: number | null;
  files: number;
  generatedCodeCm: string;
  status: TransformStatusName;
  appVersion: string;
  codeGenImage: string;
  transformerLanguage: string | null;
  transformerCommand: string | null;
}

/** The few columns the dispatcher needs to publish a request's transform tasks. */
export interface DispatchRow {
  id: number;
  request_id: string;
  did_id: number;
  status: TransformStatusName;
  tasks_published_through: number;
  result_destination: string;
  result_format: string;
}

export interface RequestsRepo {
  /** The running requests on a dataset, in id order. */
  runningOnDataset(tx: Tx, datasetId: number): Promise<number[]>;
  /** Sets the request's file count. */
  setFiles(tx: Tx, id: number, files: number): Promise<void>;
  /** A request waiting on its dataset's lookup starts running with that many files. */
  startRunning(tx: Tx, id: number, files: number): Promise<void>;
  /** The user's requests that are not finished yet (submitted, pending_lookup, lookup, running). */
  countActive(userId: number): Promise<number>;
  /** The newest completed request a submit with these properties may reuse, or null. */
  findReusable(q: ReusableQuery): Promise<string | null>;
  /** By UUID, or by integer primary key given as a numeric string (docs/api.md). */
  find(idOrUuid: string): Promise<RequestRecord | null>;
  list(opts: { submittedBy?: number; skip?: number; take?: number }): Promise<RequestRecord[]>;
  /** Status by UUID for the given ids; ids without a row are absent from the map. */
  statuses(requestIds: readonly string[]): Promise<Map<string, TransformStatusName>>;
  resultFormat(requestId: string): Promise<string | null>;
  count(opts: { submittedBy?: number }): Promise<number>;
  insert(tx: Tx, r: NewRequest): Promise<number>;
  /**
   * Moves a request to a terminal status if it is not terminal yet. Returns true only for the caller that
   * made the transition, which therefore owns the shutdown (exactly once).
   */
  finish(
    tx: Tx,
    requestId: string,
    status: TransformStatusName,
    failure?: string | null,
    onlyFrom?: readonly TransformStatusName[] | null,
  ): Promise<boolean>;
  /** Requests waiting on a dataset's lookup, locked in id order (docs/api.md lock_awaiting_dataset). */
  lockAwaitingDataset(
    tx: Tx,
    datasetId: number,
  ): Promise<
    Array<{
      id: number;
      request_id: string;
      status: TransformStatusName;
      files: number;
      done: number;
    }>
  >;
  dispatchRow(id: number): Promise<DispatchRow | null>;
  /** Requests whose transform tasks the dispatcher must keep published. */
  activeDispatchIds(): Promise<number[]>;
  advanceWatermark(id: number, through: number): Promise<void>;
  /**
   * Deletes a finished request with its results. The request row is locked first (the order every writer
   * uses), so a late file-complete batch cannot interleave; false when it is not terminal (any more).
   */
  delete(tx: Tx, id: number, requestId: string): Promise<boolean>;
  /**
   * Aggregates over the request's results (docs/api.md `stats`); null when there are none. The average
   * rate is taken in numeric: every avg_rate fits a float8, but a float8 sum of two of 1e308 overflows.
   */
  stats(requestId: string): Promise<{
    minTime: number;
    maxTime: number;
    avgTime: number;
    totalTime: number;
    avgRate: number;
    totalBytes: number;
    totalEvents: number;
  } | null>;
  /** Cache size for the data lifecycle: SUM(transform_result.total_bytes) (docs/api.md). */
  cacheBytes(): Promise<number>;
  /**
   * The earliest submit_time at which SUM(requests.total_bytes) ORDER BY submit_time reaches `bytes`
   * (null when it never does): deleting everything up to it frees at least that much (docs/api.md).
   */
  submitTimeFreeing(bytes: number): Promise<string | null>;
  /** Requests submitted at or before `cutoff` (naive UTC ISO), oldest first, with their status. */
  submittedThrough(cutoff: string): Promise<
    Array<{
      id: number;
      requestId: string;
      status: TransformStatusName;
    }>
  >;
  /** Requests per status name, and the sums of their file counters (the /metrics gauges). */
  countByStatus(): Promise<{
    byStatus: Record<string, number>;
    filesCompleted: number;
    filesFailed: number;
  }>;
}

// ---- progress (src/adapters/repositories/progress.repo.ts)

export interface ProgressPoint {
  time: Date;
  /** Status name as stored in `requests.status` (e.g. "running"). */
  status: string;
  filesCompleted: number;
  filesFailed: number;
  bytes: number;
  events: number;
}

export interface ProgressRepo {
  /**
   * One snapshot row per given request that is still running, read from its `requests` row, in one
   * statement. A request that already has a row newer than `minGapMs` is skipped, so replicas sharing a
   * database still write at most one snapshot per interval. Returns how many rows were written.
   */
  snapshotRunning(requestIds: readonly string[], minGapMs: number): Promise<number>;
  /** The series of one request, oldest first (capped; the chart needs no more). */
  history(requestId: string, limit?: number): Promise<ProgressPoint[]>;
  /** Removes a request's history (with the request: RequestsRepo.delete). */
  deleteFor(tx: Tx, requestId: string): Promise<void>;
}

// ---- reconcile (src/adapters/repositories/reconcile.repo.ts)

export interface StalledLookup {
  id: number;
  requestId: string;
  attempts: number;
  datasetId: number;
  datasetName: string;
  didFinder: string;
}

export interface StalledRun {
  id: number;
  requestId: string;
  attempts: number;
  files: number;
  done: number;
}

export interface ReconcileRepo {
  /** Requests in Lookup whose DID finder sent nothing (no /files, no /complete) for `seconds`. */
  stalledLookups(seconds: number): Promise<StalledLookup[]>;
  /**
   * Running requests with files still to do and no file-complete report (no file_status row) for `seconds`
   * since the later of their last report and their last re-drive.
   */
  stalledRuns(seconds: number): Promise<StalledRun[]>;
  /** Counts a re-drive; returns the new attempt count. */
  noteAttempt(requestDbId: number): Promise<number>;
  /** Re-opens a lookup for re-sending: the dispatcher's unpublished-lookups pass sends it again. */
  reopenLookup(datasetId: number): Promise<void>;
  /**
   * Takes or renews the lease `name` for `holder` for `ttlMs`; true when this holder has it. A lease whose
   * holder died is free once expired, so another replica takes over within one TTL.
   */
  lease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** When the current holder took (or last renewed) the lease, in database time; null when free. */
  leaseAcquiredAt(name: string, ttlMs: number): Promise<number | null>;
  /** The database's clock (ms), so lease times compare on one clock across replicas. */
  dbNow(): Promise<number>;
  /**
   * Active requests with files beyond their watermark (tasks never confirmed) whose `dispatch:<id>` claim
   * is free: nobody is publishing them, e.g. because the replica that was died.
   */
  unclaimedDispatches(): Promise<number[]>;
  releaseLease(name: string, holder: string): Promise<void>;
}

// ---- reruns (src/adapters/repositories/reruns.repo.ts)

/** Why a re-run cannot start, decided under the row locks (the domain turns it into a 409). */
export type RerunRefusal = "active" | "not_complete" | "no_failed_files" | "dataset_stale" | "gone";

export interface RerunStarted {
  /** Files whose failure was cleared; each gets a new task. */
  files: number;
  /** The audit row: the how-many-th re-run of this request, and when it started. */
  rerun: number;
  at: Date;
}

export interface RerunRecord {
  id: number;
  userId: number | null;
  userEmail: string | null;
  files: number;
  at: Date;
}

export interface RerunsRepo {
  /** Whether the dataset is stale (a missing dataset counts as stale): the check before the locked one. */
  datasetStale(datasetId: number): Promise<boolean>;
  /**
   * The state of the request a re-run is checked against. The dataset row is locked first and the request
   * row second, the order every writer uses (sx_apply_file_reports, lookups), so a late file report cannot
   * deadlock with this; a second re-run of the same request waits here and then sees it Running.
   */
  lock(
    tx: Tx,
    requestDbId: number,
  ): Promise<{
    status: TransformStatusName;
    filesFailed: number;
    stale: boolean;
  } | null>;
  /**
   * Clears the failed results and moves the request back to Running, in the caller's transaction (after
   * lock()). Counters stay exact: each cleared file leaves `files_failed` (and its bytes and events leave
   * the sums), so `files - files_completed - files_failed` is exactly the files being re-run, and the next
   * report of each counts once through sx_apply_file_reports as for a first run. Returns null when no
   * failed result was found (nothing changed).
   */
  start(
    tx: Tx,
    r: {
      id: number;
      requestId: string;
      userId: number | null;
    },
  ): Promise<RerunStarted | null>;
  /**
   * The re-runs of a request (its UUID, or its integer id as a numeric string), newest first: the request
   * page and its confirmation page.
   */
  list(idOrUuid: string, limit?: number): Promise<RerunRecord[]>;
}

// ---- results (src/adapters/repositories/results.repo.ts)

export interface FileReport {
  requestId: string;
  fileId: number;
  success: boolean;
  /** The status string as reported (stored verbatim in transform_status / file_status). */
  status: string;
  filePath: string;
  /** Seconds, with their fraction (the sidecar's `total-time`). */
  transformTime: number;
  totalEvents: number;
  totalBytes: number;
  avgRate: number;
  s3ObjectName: string | null;
  podName: string | null;
  info: string | null;
}

/**
 * `request_not_running`: the request has no transform tasks yet (Submitted, Pending Lookup), so the report
 * cannot be about one of its files; nothing was written.
 */
export type ReportOutcome = "ok" | "request_not_found" | "file_not_in_request" | "request_not_running";

export interface ApplyResult {
  outcomes: ReportOutcome[];
  /** request_ids that this batch moved to Complete (the caller shuts them down, exactly once). */
  completed: string[];
}

export interface ResultJsonRow {
  id: number;
  file_id: number | null;
  file_path: string;
  request_id: string;
  transform_status: string;
  transform_time: number | null;
  total_events: string | number | null;
  total_bytes: string | number | null;
  avg_rate: number | null;
  s3_object_name: string | null;
  created_at: string | null;
}

export interface ResultsRepo {
  /**
   * Applies a batch of file-complete reports atomically (docs/api.md, docs/decisions.md D11): dataset and request rows
   * are locked (datasets first, then requests, in id order: no deadlock with lookups or other replicas),
   * the batch is reduced per (request, file) so the outcome does not depend on arrival order (a success is
   * final, a success replaces an earlier failure, duplicates change no counter), and a request becomes
   * Complete only from Running, in the same statement that moves its counters.
   */
  applyReports(reports: readonly FileReport[]): Promise<ApplyResult>;
  listForRequest(requestId: string, laterThanUtc: string | null): Promise<ResultJsonRow[]>;
  failures(requestId: string): Promise<
    Array<{
      pod_name: string | null;
      paths: string | null;
      file_events: number | null;
      info: string | null;
    }>
  >;
  addFileStatus(row: {
    requestId: string;
    fileId: number;
    status: string;
    timestamp: string;
    podName: string | null;
    info: string | null;
  }): Promise<void>;
}

// ---- idempotency (src/adapters/repositories/idempotency.repo.ts)

export interface IdempotencyRepo {
  /** Claims the key for this body; false when it exists already (someone else has or had it). */
  claim(userKey: number, key: string, bodyHash: string): Promise<boolean>;
  get(
    userKey: number,
    key: string,
  ): Promise<{
    bodyHash: string;
    requestId: string | null;
  } | null>;
  complete(userKey: number, key: string, requestId: string): Promise<void>;
  /** The submit failed: free the key so a retry can run it again. */
  release(userKey: number, key: string): Promise<void>;
  /** Keys older than `hours` are forgotten (the data-lifecycle job calls this). */
  expire(hours: number): Promise<number>;
}

// ---- users (src/adapters/repositories/users.repo.ts)

export interface UserRecord {
  id: number;
  sub: string;
  email: string;
  name: string;
  institution: string | null;
  experiment: string | null;
  admin: boolean;
  pending: boolean;
  refreshToken: string | null;
  createdAt: Date | null;
  updatedAt: Date | null;
  /** `created_at` in seconds since the epoch (the column holds UTC without a zone, as upstream's). */
  createdEpoch: number | null;
  /**
   * Only from `list()` and `byIdWithStatus()`: true when a sign-in identity's provider vouched for the
   * e-mail, false when not, null when unknown (rows made by upstream or by the CLI, never signed in here).
   */
  emailVerified?: boolean | null;
}

/** A row of `user_identities`. */
export interface IdentityBinding {
  userId: number;
  iss: string;
  sub: string;
  email: string | null;
  emailVerified: boolean;
}

export interface NewUser {
  sub: string;
  email: string;
  name: string;
  institution: string | null;
  experiment: string | null;
  admin: boolean;
  pending: boolean;
  refreshToken: string | null;
}

export interface UsersRepo {
  byId(id: number): Promise<UserRecord | null>;
  byIdWithStatus(id: number): Promise<UserRecord | null>;
  byEmail(email: string): Promise<UserRecord | null>;
  bySub(sub: string): Promise<UserRecord | null>;
  /** First user matching any of the e-mails, in the given order. */
  byAnyEmail(emails: readonly string[]): Promise<UserRecord | null>;
  list(opts?: { pending?: boolean; emailContains?: string }): Promise<UserRecord[]>;
  countByState(): Promise<{
    pending: number;
    approved: number;
  }>;
  /** A new user, with its sign-in identity when given (one transaction). */
  insert(u: NewUser, identity?: Omit<IdentityBinding, "userId">): Promise<UserRecord>;
  /**
   * The account bound to one of `subjects` at `iss` (the first subject that has one wins), or else a row of
   * upstream's (no identity of ours yet) whose `users.sub` is one of them.
   */
  bySubject(
    iss: string,
    subjects: readonly string[],
  ): Promise<{
    user: UserRecord;
    boundSub: string | null;
    legacySub: string | null;
  } | null>;
  /** Binds (iss, sub) to the user; a binding that exists already is left as it is (returns false). */
  bindIdentity(b: IdentityBinding): Promise<boolean>;
  /** Whether any sign-in identity is bound to the user (then the account is never claimed by e-mail). */
  hasIdentity(userId: number): Promise<boolean>;
  /** Notes a sign-in: the asserted e-mail and whether the provider vouches for the account's e-mail now. */
  noteSignIn(iss: string, sub: string, email: string | null, emailVerified: boolean): Promise<void>;
  /** The account's e-mail changed: whether the identity that changed it vouches for the new one. */
  setEmailVerified(userId: number, emailVerified: boolean): Promise<void>;
  startSession(s: {
    id: string;
    userId: number | null;
    iss: string;
    sub: string;
    ttlSeconds: number;
  }): Promise<void>;
  /** The live session's user id (null: no profile yet); undefined when the session has ended. */
  sessionUser(id: string): Promise<
    | {
        userId: number | null;
      }
    | undefined
  >;
  /** The session's profile was created (or claimed): the session now belongs to that user. */
  attachSession(id: string, userId: number): Promise<void>;
  /**
   * Ends sessions: the one given, every session of `userId`, and every session without a profile of the
   * identity (iss, sub). Returns how many ended.
   */
  endSessions(o: { id?: string; userId?: number; iss?: string; sub?: string }): Promise<number>;
  update(
    id: number,
    fields: Partial<
      Pick<
        UserRecord,
        "sub" | "email" | "name" | "institution" | "experiment" | "admin" | "pending" | "refreshToken"
      >
    >,
  ): Promise<UserRecord | null>;
  delete(id: number): Promise<boolean>;
  deleteAll(opts?: { pending?: boolean }): Promise<number>;
}

// ---- datasets (src/adapters/repositories/datasets.repo.ts)

export interface LockedDataset {
  id: number;
  name: string;
  lookup_status: DatasetLookupStatus;
  did_finder: string;
  stale: boolean;
}

export interface FileEntry {
  paths: string;
  adler32: string | null;
  fileSize: number;
  fileEvents: number;
}

/** The datasets repository as the domain uses it (the adapter also serves the pages' Prisma-typed reads). */
export interface DatasetsRepo {
  /**
   * The live (non-stale) dataset of that name, created when missing, locked FOR UPDATE so that concurrent
   * submits of one DID serialise on it and share one lookup (docs/database.md).
   */
  lockOrCreateForDid(tx: Tx, name: string, scheme: string): Promise<LockedDataset>;
  /**
     * A database adopted from upstream's App keeps upstream's plain UNIQUE (name) on `datasets`, so a stale
     * dataset would keep its name forever and a resubmit of its DID could never create a live one. The stale
     * rows give their name up instead (`<name> (stale #<id>)`);
    /** A file-list dataset: complete from birth, one file row per path (docs/database.md from_file_list). */
  lockOrCreateForFileList(tx: Tx, name: string, paths: readonly string[]): Promise<LockedDataset>;
  /** The dataset row, locked; `lookup_attempts`: how many times its lookup was re-sent. */
  lockById(
    tx: Tx,
    id: number,
  ): Promise<
    | (LockedDataset & {
        lookup_attempts: number;
      })
    | null
  >;
  markLooking(tx: Tx, id: number): Promise<void>;
  markLookupPublished(id: number): Promise<void>;
  /** Live datasets whose lookup was decided but never confirmed by the broker. */
  unpublishedLookups(): Promise<
    Array<{
      id: number;
      name: string;
      did_finder: string;
    }>
  >;
  countFiles(tx: Tx, datasetId: number): Promise<number>;
  /**
   * One statement (one round trip) for a DID finder's batch: lock the dataset while it is being looked up
   * (and note the time, at most every 10 s: the reconciler's "no news from the DID finder" clock), insert
   * the files whose path the dataset does not have yet, in order, and grow every request in Lookup on it by
   * that many. A path is added once whatever is repeated: within the batch, by a retried or re-sent batch,
   * or by batches arriving concurrently (the key in dataset_file_paths is unique, and the dataset lock
   * keeps file ids in commit order for the dispatcher's watermark). Returns null when the dataset is not
   * being looked up (or does not exist); then nothing was written.
   */
  addFilesToLookup(
    datasetId: number,
    files: readonly FileEntry[],
  ): Promise<{
    fedRequests: number[];
    added: number;
  } | null>;
  exists(datasetId: number): Promise<boolean>;
  hasFile(datasetId: number, fileId: number): Promise<boolean>;
  /** The DID finder's last /complete whose count differed from the files that had arrived, if any. */
  lastShortfall(
    tx: Tx,
    datasetId: number,
  ): Promise<{
    reported: number;
    arrived: number;
  } | null>;
  noteShortfall(tx: Tx, datasetId: number, reported: number, arrived: number): Promise<void>;
  markComplete(
    tx: Tx,
    id: number,
    s: {
      files: number;
      events: number;
      bytes: number;
    },
  ): Promise<void>;
  markFailed(tx: Tx, id: number, errorType: string): Promise<void>;
  /** Files of a dataset after a given id, in id order (the dispatcher's outbox read). */
  filesAfter(
    datasetId: number,
    afterId: number,
    limit: number,
  ): Promise<
    Array<{
      id: number;
      paths: string;
    }>
  >;
  /** Files up to a watermark that have no result for the request yet (re-published after a broker restart). */
  filesWithoutResult(
    datasetId: number,
    requestId: string,
    afterId: number,
    throughId: number,
    limit: number,
  ): Promise<
    Array<{
      id: number;
      paths: string;
    }>
  >;
  /** Soft delete; false when the dataset was already stale. */
  markStale(id: number): Promise<boolean>;
  /** Data lifecycle (docs/api.md): live datasets not updated for more than `ageHours` become stale. */
  markStaleOlderThan(ageHours: number): Promise<number>;
  /**
   * Deletes every dataset no request references, with its files (docs/api.md). Rows a concurrent
   * submit holds locked are skipped (that submit is about to reference them); returns the deleted names.
   */
  deleteOrphans(tx: Tx): Promise<string[]>;
  /** Live (non-stale) datasets per lookup_status (the /metrics gauge). */
  countByLookupStatus(): Promise<Record<string, number>>;
}
