// One replica re-publishes after a broker restart (src/domain/replayGate.ts): the first to take the lease
// replays, the others skip; a lease left by a replica that died before the restart is waited out.
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReconcileRepo } from "../../src/adapters/repositories/reconcile.repo.js";
import { replayGate } from "../../src/domain/replayGate.js";
import { type TestApp, startTestApp } from "../helpers/testApp.js";

let app: TestApp;
let repo: ReconcileRepo;
const log = pino({ level: "silent" });
beforeAll(async () => {
  app = await startTestApp({ backend: "postgres", broker: "memory" });
  repo = new ReconcileRepo(app.deps.db);
});
afterAll(async () => {
  await app?.close();
});

describe("replayGate", () => {
  it("When two replicas reconnect after a broker restart, then exactly one re-publishes", async () => {
    await app.deps.db.sql.query("DELETE FROM app_leases WHERE name = 'republisher'");
    const a = replayGate(repo, log, { holder: "replica-a", ttlMs: 2000, pollMs: 50 });
    const b = replayGate(repo, log, { holder: "replica-b", ttlMs: 2000, pollMs: 50 });
    const [ra, rb] = await Promise.all([a(), b()]);
    expect([ra, rb].filter(Boolean)).toHaveLength(1);
  });

  it("When the lease was left by a replica before the restart, then the gate waits it out and replays", async () => {
    await app.deps.db.sql.query("DELETE FROM app_leases WHERE name = 'republisher'");
    expect(await repo.lease("republisher", "dead-replica", 600)).toBe(true);
    await new Promise((r) => setTimeout(r, 200)); // the restart happens after the dead replica's lease
    const gate = replayGate(repo, log, { holder: "survivor", ttlMs: 600, pollMs: 50, slackMs: 100 });
    const t0 = Date.now();
    expect(await gate()).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
  });

  it("When the same replica reconnects again, then it replays again (it renews its own lease)", async () => {
    await app.deps.db.sql.query("DELETE FROM app_leases WHERE name = 'republisher'");
    const gate = replayGate(repo, log, { holder: "same", ttlMs: 5000, pollMs: 50 });
    expect(await gate()).toBe(true);
    expect(await gate()).toBe(true);
  });
});
