// RequestEnd (src/domain/requestEnd.ts), the one operation that ends a request, with in-memory fakes: the
// shutdown follows only a transition this call made, only after its transaction committed, once per
// request, and a transaction the database re-runs does not shut down what its first attempt ended.
import { describe, expect, it } from "vitest";
import type { Database, Tx } from "../../src/domain/repositories.js";
import { RequestEnd } from "../../src/domain/requestEnd.js";
import type { TransformStatusName } from "../../src/domain/status.js";

function world(initial: Record<string, TransformStatusName>) {
  const status = new Map(Object.entries(initial));
  const log: string[] = [];
  const terminal = new Set<TransformStatusName>(["complete", "canceled", "fatal", "bad_dataset"]);
  let failNextCommit = false;
  let deadlocks = 0;
  const db: Database = {
    sql: {
      transaction: async <R>(fn: (tx: Tx) => Promise<R>): Promise<R> => {
        // A copy of the rows is the transaction's view; it replaces the rows only at commit.
        for (;;) {
          const view = new Map(status);
          const tx = { query: async () => [], view } as unknown as Tx;
          log.push("begin");
          const out = await fn(tx);
          if (deadlocks > 0) {
            deadlocks -= 1;
            log.push("deadlock: re-run");
            continue;
          }
          if (failNextCommit) {
            failNextCommit = false;
            log.push("rollback");
            throw new Error("commit failed");
          }
          for (const [k, v] of view) status.set(k, v);
          log.push("commit");
          return out;
        }
      },
    },
  };
  const requests = {
    finish: async (
      tx: Tx,
      id: string,
      to: TransformStatusName,
      _reason?: string | null,
      onlyFrom?: readonly TransformStatusName[] | null,
    ) => {
      const view = (tx as unknown as { view: Map<string, TransformStatusName> }).view;
      const now = view.get(id);
      if (now === undefined || terminal.has(now) || (onlyFrom && !onlyFrom.includes(now))) return false;
      view.set(id, to);
      log.push(`finish ${id} ${to}`);
      return true;
    },
  };
  const lifecycle = { terminated: (id: string, s: TransformStatusName) => log.push(`shutdown ${id} ${s}`) };
  return {
    ends: new RequestEnd(db, requests, lifecycle),
    status,
    log,
    failCommit: () => {
      failNextCommit = true;
    },
    deadlock: () => {
      deadlocks = 1;
    },
  };
}

describe("RequestEnd", () => {
  it("When a running request is ended, then it is shut down after the commit, once", async () => {
    const w = world({ a: "running" });
    expect(await w.ends.one("a", "canceled")).toBe(true);
    expect(await w.ends.one("a", "fatal", "late")).toBe(false);
    expect(w.status.get("a")).toBe("canceled");
    expect(w.log).toEqual(["begin", "finish a canceled", "commit", "shutdown a canceled", "begin", "commit"]);
  });

  it("When the request is not in the allowed statuses, then nothing changes and nothing is shut down", async () => {
    const w = world({ a: "lookup" });
    expect(await w.ends.one("a", "fatal", "why", ["running"])).toBe(false);
    expect(w.status.get("a")).toBe("lookup");
    expect(w.log.filter((l) => l.startsWith("shutdown"))).toEqual([]);
  });

  it("When the transaction does not commit, then no request is shut down", async () => {
    const w = world({ a: "running", b: "lookup" });
    w.failCommit();
    await expect(
      w.ends.inTransaction(async (_tx, end) => {
        await end("a", "fatal", "x");
        await end("b", "bad_dataset", "y");
      }),
    ).rejects.toThrow("commit failed");
    expect(w.status.get("a")).toBe("running");
    expect(w.log.filter((l) => l.startsWith("shutdown"))).toEqual([]);
  });

  it("When the database re-runs the transaction, then each request is shut down once, after the commit", async () => {
    const w = world({ a: "lookup", b: "pending_lookup", c: "complete" });
    w.deadlock();
    const ended = await w.ends.inTransaction(async (_tx, end) => {
      const out: string[] = [];
      for (const id of ["a", "b", "c"]) if (await end(id, "bad_dataset", "lookup failed")) out.push(id);
      return out;
    });
    expect(ended).toEqual(["a", "b"]);
    expect(w.log.filter((l) => l.startsWith("shutdown"))).toEqual([
      "shutdown a bad_dataset",
      "shutdown b bad_dataset",
    ]);
    expect(w.log.indexOf("commit")).toBeLessThan(w.log.indexOf("shutdown a bad_dataset"));
  });
});
