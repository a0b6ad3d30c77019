// The database as the domain sees it (the Database port of src/domain/repositories.ts), held in memory:
// the tables the repository fakes read and write, and a transaction runner. Transactions run one at a time
// in arrival order, which stands in for Postgres's row locks (every writer locks dataset then request, so
// under the real locks conflicting transactions are serial too, docs/database.md). A test can hold the
// lock to line transactions up in an order of its choosing (`hold()`, `queued`).
import type { Database, Tx } from "../../../src/domain/repositories.js";
import type { DatasetLookupStatus, TransformStatusName } from "../../../src/domain/status.js";
import type { RequestRecord } from "../../../src/domain/repositories.js";

export interface DatasetRow {
  id: number;
  name: string;
  did_finder: string;
  lookup_status: DatasetLookupStatus;
  stale: boolean;
  lookup_attempts: number;
  lookupPublished: boolean;
  nFiles: number;
  events: number;
  size: number;
  shortfall: { reported: number; arrived: number } | null;
}

export interface FileRow {
  id: number;
  datasetId: number;
  paths: string;
  adler32: string | null;
  fileSize: number;
  fileEvents: number;
}

export interface RequestRow extends RequestRecord {
  tasksPublishedThrough: number;
}

export interface ResultRow {
  requestId: string;
  fileId: number;
  filePath: string;
  status: string;
  success: boolean;
  transformTime: number;
  totalEvents: number;
  totalBytes: number;
  avgRate: number;
  s3ObjectName: string | null;
  createdAt: Date;
}

export interface FileStatusRow {
  requestId: string;
  fileId: number;
  status: string;
  podName: string | null;
  info: string | null;
}

export interface RerunRow {
  id: number;
  requestDbId: number;
  userId: number | null;
  files: number;
  at: Date;
}

/** The rows every fake repository shares. */
export class Tables {
  datasets: DatasetRow[] = [];
  files: FileRow[] = [];
  requests: RequestRow[] = [];
  results: ResultRow[] = [];
  fileStatus: FileStatusRow[] = [];
  reruns: RerunRow[] = [];
  /** Every status a request took, in order (the history trigger of docs/database.md, for assertions). */
  history: Array<{ requestId: string; status: TransformStatusName }> = [];
  private seq = { datasets: 0, files: 0, requests: 0, reruns: 0 };

  nextId(table: keyof Tables["seq"]): number {
    this.seq[table] += 1;
    return this.seq[table];
  }

  request(requestId: string): RequestRow | undefined {
    return this.requests.find((r) => r.requestId === requestId);
  }

  dataset(id: number): DatasetRow | undefined {
    return this.datasets.find((d) => d.id === id);
  }

  setStatus(r: RequestRow, status: TransformStatusName): void {
    r.status = status;
    this.history.push({ requestId: r.requestId, status });
  }
}

/** A transaction handle: the fakes never run SQL, so any query is a bug in the fake or the service. */
const noSql: Tx = {
  async query() {
    throw new Error("the in-memory fakes run no SQL: a domain service used the transaction handle directly");
  },
};

export class MemoryDatabase implements Database {
  readonly tables = new Tables();
  /** Transactions waiting for the lock (the one running is not counted). */
  queued = 0;
  /** Transactions committed. */
  commits = 0;
  /** The next transactions (or applyReports calls) fail with this error, once each. */
  readonly failNext: unknown[] = [];
  private tail: Promise<void> = Promise.resolve();

  readonly sql = {
    transaction: <R>(fn: (tx: Tx) => Promise<R>): Promise<R> => this.serial(() => fn(noSql)),
  };

  /** Runs `fn` alone, after every transaction that arrived before it. */
  serial<R>(fn: () => Promise<R>): Promise<R> {
    this.queued += 1;
    const run = this.tail.then(async () => {
      this.queued -= 1;
      const failure = this.failNext.shift();
      if (failure !== undefined) throw failure;
      // A failed transaction leaves no trace: the rows are restored from a copy.
      const before = structuredClone(this.snapshot());
      try {
        const out = await fn();
        this.commits += 1;
        return out;
      } catch (err) {
        this.restore(before);
        throw err;
      }
    });
    this.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Holds the lock until the returned function is called: transactions started meanwhile queue up. */
  hold(): () => void {
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    const before = this.tail;
    this.tail = before.then(() => held);
    return release;
  }

  private snapshot() {
    const t = this.tables;
    return {
      datasets: t.datasets,
      files: t.files,
      requests: t.requests,
      results: t.results,
      fileStatus: t.fileStatus,
      reruns: t.reruns,
      history: t.history,
    };
  }

  private restore(s: ReturnType<MemoryDatabase["snapshot"]>): void {
    Object.assign(this.tables, s);
  }
}

/** Resolves once `cond` holds, looking after each turn of the event loop (at most `turns` times). */
export async function until(cond: () => boolean, turns = 1000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (cond()) return;
    await new Promise<void>((r) => setImmediate(r));
  }
  throw new Error("condition not reached");
}
