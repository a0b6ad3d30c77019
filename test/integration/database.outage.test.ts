// Database down (robustness issue item 4): /readyz answers 503, the API answers 503 with a clear message,
// the process keeps running, and everything works again once the database is back — no restart. The
// database is made unreachable for this App only, with a TCP proxy in front of the real Postgres.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postSubmit } from "../helpers/factories.js";
import { client } from "../helpers/http.js";
import { type TestDatabase, createTestDatabase } from "../helpers/pg.js";
import { type TcpProxy, tcpProxy } from "../helpers/tcpProxy.js";
import { type TestApp, eventually, startTestApp } from "../helpers/testApp.js";

let db: TestDatabase;
let proxy: TcpProxy;
let app: TestApp;
beforeAll(async () => {
  db = await createTestDatabase();
  const u = new URL(db.url);
  proxy = await tcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
  await proxy.up();
  u.port = String(proxy.port);
  app = await startTestApp({ backend: "postgres", broker: "memory", databaseUrl: u.toString() });
});
afterAll(async () => {
  await app?.close().catch(() => {});
  await proxy?.down();
  await db?.drop();
});

const api = client(() => app.url);
/** A one-file submit; the answer as it came (a 503 while the database is away). */
const submit = () => postSubmit(app, { "file-list": [`root://a//${Date.now()}.root`] });

describe("When the database becomes unreachable", () => {
  it("then /readyz and the API answer 503 with a clear message, and all works again once it is back", async () => {
    const before = await submit();
    expect(before.status).toBe(200);
    const id = (before.json as { request_id: string }).request_id;

    await proxy.down();
    const ready = await api.get("/readyz");
    expect(ready.status).toBe(503);
    expect((ready.json as { checks: Record<string, string> }).checks.database).toMatch(/^unavailable/);
    // Liveness stays green: the process is fine, only a dependency is down.
    expect((await api.get("/healthz")).status).toBe(200);

    const status = await api.get(`/servicex/transformation/${id}`);
    expect(status.status).toBe(503);
    expect(status.json).toMatchObject({
      message: "The database is unavailable; please retry shortly.",
    });
    const list = await api.get("/servicex/transformation");
    expect(list.status).toBe(503);
    const during = await submit();
    expect(during.status).toBe(503);
    expect(during.json).toMatchObject({ message: "The database is unavailable; please retry shortly." });

    await proxy.up();
    await eventually(async () => (await api.get("/readyz")).status === 200, 20_000, "ready again");
    const after = await api.get(`/servicex/transformation/${id}`);
    expect(after.status).toBe(200);
    expect((await submit()).status).toBe(200);
  });
});
