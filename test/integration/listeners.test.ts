// The HTTP listeners (src/http/listeners.ts, app.ts "Listener"): with INTERNAL_PORT the DID-finder, sidecar
// and lifecycle routes move to a listener of their own and the public port answers 404 for them; the
// callback URLs handed to DID finders and transformers name the internal port. The lifecycle routes, which
// delete every user's data, need an admin bearer token on the public port when ENABLE_AUTH is on, and a
// start-up warning says what stays anonymous when the internal routes share the public port.
import { randomBytes, randomUUID } from "node:crypto";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../bench/lib.js";
import { compose, shutdownDeps, startDeps } from "../../src/compose.js";
import { loadConfig } from "../../src/config.js";
import type { AppDeps } from "../../src/http/deps.js";
import { type Listeners, startListeners } from "../../src/http/listeners.js";
import { makeFiles, startDidFinder, startSidecars } from "../helpers/fakeWorkers.js";
import { type Answer, expectAnswer, httpCall } from "../helpers/http.js";
import { type TestDatabase, createTestDatabase } from "../helpers/pg.js";
import { RABBIT_URL, RecordingLauncher, eventually } from "../helpers/testApp.js";

const JWT_SECRET = `listeners-${randomBytes(8).toString("hex")}`;
/** ENABLE_AUTH with its own admin e-mail (the App instances of this file share one database). */
const authEnv = (adminEmail: string) => ({
  ENABLE_AUTH: "true",
  JWT_SECRET_KEY: JWT_SECRET,
  SECRET_KEY: "s",
  JWT_ADMIN: adminEmail,
});

interface Started {
  deps: AppDeps;
  listeners: Listeners;
  pub: string;
  internal: string | null;
  scheme: string;
  logs: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

let db: TestDatabase;
const running: Started[] = [];

beforeAll(async () => {
  db = await createTestDatabase("sx_lst");
}, 120_000);

afterAll(async () => {
  await Promise.allSettled(running.map((s) => s.close()));
  await db?.drop();
});

/** The App as main.ts starts it (compose + startListeners), its JSON log captured. */
async function start(env: Record<string, string>, split: boolean): Promise<Started> {
  const port = await freePort();
  const internalPort = split ? await freePort() : undefined;
  const scheme = `l${randomBytes(4).toString("hex")}`;
  const config = loadConfig({
    PORT: String(port),
    ...(internalPort ? { INTERNAL_PORT: String(internalPort) } : {}),
    BIND_ADDRESS: "127.0.0.1",
    ADVERTISED_HOSTNAME: `127.0.0.1:${port}`,
    LOG_LEVEL: "info",
    DATA_DIR: "memory://",
    DATABASE_URL: db.url,
    RABBIT_MQ_URL: RABBIT_URL,
    VALID_DID_SCHEMES: JSON.stringify([scheme]),
    DID_FINDER_DEFAULT_SCHEME: scheme,
    ...env,
  });
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const deps = await compose(config, logger, { launcher: new RecordingLauncher() });
  await startDeps(deps);
  const listeners = await startListeners(deps, { draining: false });
  const s: Started = {
    deps,
    listeners,
    pub: `http://127.0.0.1:${listeners.publicPort}`,
    internal: listeners.internalPort ? `http://127.0.0.1:${listeners.internalPort}` : null,
    scheme,
    logs,
    async close() {
      listeners.public.closeAllConnections();
      listeners.internal?.closeAllConnections();
      await listeners.close();
      await shutdownDeps(deps);
    },
  };
  running.push(s);
  return s;
}

const warnings = (s: Started) =>
  s.logs.filter((l) => l.level === 40 && String(l.msg).includes("INTERNAL_PORT is unset"));

/** A sample of every kind of internal route, with a body each would accept. */
const CALLBACKS = (requestId: string) =>
  [
    ["PUT", "/servicex/internal/transformation/1/files", [{ paths: ["root://x//a.root"] }]],
    ["PUT", "/servicex/internal/transformation/1/complete", { files: 1 }],
    ["PUT", "/servicex/internal/transformation/1/error", { "error-type": "not_found", message: "x" }],
    [
      "PUT",
      `/servicex/internal/transformation/${requestId}/file-complete`,
      { "file-id": 1, "file-path": "a", status: "success" },
    ],
    ["POST", `/servicex/internal/transformation/${requestId}/status`, { severity: "fatal", info: "x" }],
  ] as const;

const LIFECYCLE = [
  ["POST", "/servicex/internal/data-lifecycle?cutoff_timestamp=9999-12-31T00:00:00"],
  ["POST", "/servicex/internal/dataset-lifecycle?age=0"],
  ["POST", "/servicex/internal/kubernetes-cleanup?maxAge=1"],
] as const;

describe("With INTERNAL_PORT set (auth off)", () => {
  let app: Started;
  beforeAll(async () => {
    app = await start({}, true);
  }, 120_000);

  it("When a DID-finder, sidecar or lifecycle route is called on the public port, then it answers 404 and changes nothing", async () => {
    const id = randomUUID();
    for (const [method, path, body] of CALLBACKS(id)) {
      const r = await httpCall(`${app.pub}${path}`, method, { body });
      expectAnswer(r, 404, {
        message: `The requested URL ${method} ${path} was not found on the server.`,
      });
    }
    for (const [method, path] of LIFECYCLE) {
      const r = await httpCall(`${app.pub}${path}`, method);
      expect({ path, status: r.status }).toEqual({ path, status: 404 });
    }
  });

  it("When the internal port is asked for anything but internal routes and health, then it answers 404", async () => {
    expectAnswer(await httpCall(`${app.internal}/healthz`, "GET"), 200, { status: "ok" });
    expect((await httpCall(`${app.internal}/readyz`, "GET")).status).toBe(200);
    for (const [method, path] of [
      ["GET", "/servicex"],
      ["GET", "/servicex/transformation"],
      ["GET", `/servicex/transformation/${randomUUID()}`],
      ["POST", "/servicex/transformation"],
      ["GET", "/metrics"],
      ["GET", "/openapi.json"],
      ["GET", "/"],
    ] as const) {
      const r = await httpCall(`${app.internal}${path}`, method, method === "POST" ? { body: {} } : {});
      expect({ path, status: r.status }).toEqual({ path, status: 404 });
    }
  });

  it("When the lifecycle routes are called on the internal port, then they run anonymously as upstream's CronJobs call them", async () => {
    for (const [method, path] of LIFECYCLE) {
      const r = await httpCall(`${app.internal}${path}`, method);
      expect({ path, status: r.status }).toEqual({ path, status: 200 });
    }
  });

  it("When a DID request runs, then the DID finder and the sidecars are given the internal port and the request completes through it", async () => {
    const did = `mc23:listeners.${randomBytes(4).toString("hex")}`;
    const finder = await startDidFinder({ scheme: app.scheme, did, count: 50, files: makeFiles(did) });
    try {
      const sub = await httpCall(`${app.pub}/servicex/transformation`, "POST", {
        body: {
          did: `${app.scheme}://${did}`,
          selection: "(call ResultTTree ...)",
          codegen: "passthrough",
          "result-destination": "object-store",
          "result-format": "parquet",
        },
      });
      expect(sub.status, sub.text).toBe(200);
      const id = (sub.json as { request_id: string }).request_id;
      const sidecars = await startSidecars({ requestId: id });
      try {
        const done = await eventually(
          async () => {
            const r = await httpCall(`${app.pub}/servicex/transformation/${id}`, "GET");
            const j = r.json as Record<string, unknown>;
            return j.status === "Complete" ? j : undefined;
          },
          60_000,
          `request ${id} to complete`,
        );
        expect(done["files-completed"]).toBe(50);
        expect(finder.messages[0]!.args[2]).toBe(`${app.internal}/servicex/internal/transformation/`);
        expect(sidecars.messages[0]!.kwargs.service_endpoint).toBe(
          `${app.internal}/servicex/internal/transformation/${id}`,
        );
        await eventually(async () => sidecars.reported === 50, 10_000, "every report answered 200");
      } finally {
        await sidecars.stop();
      }
    } finally {
      await finder.stop();
    }
  }, 90_000);

  it("When auth is off, then no exposure warning is logged", () => {
    expect(warnings(app)).toEqual([]);
  });
});

describe("With ENABLE_AUTH=true and the internal routes on the public port (INTERNAL_PORT unset)", () => {
  let app: Started;
  let adminToken: string;
  let userToken: string;
  beforeAll(async () => {
    const adminEmail = "root-shared@listeners.example";
    app = await start(authEnv(adminEmail), false);
    const admin = await app.deps.users.provision({
      sub: `a-${randomUUID()}`,
      email: adminEmail,
      name: "Root",
      institution: null,
    });
    expect(admin?.admin).toBe(true);
    adminToken = app.deps.jwt!.issue("access", adminEmail).token;
    const email = `u-${randomBytes(3).toString("hex")}@listeners.example`;
    await app.deps.users.provision({ sub: `u-${randomUUID()}`, email, name: "U", institution: null });
    await app.deps.users.accept(email);
    userToken = app.deps.jwt!.issue("access", email).token;
  }, 120_000);

  it("When the App starts, then it logs one warning naming what is exposed without authentication", () => {
    const w = warnings(app);
    expect(w).toHaveLength(1);
    expect(w[0]!.msg).toContain("/servicex/internal/transformation/*");
    expect(w[0]!.msg).toContain("Set INTERNAL_PORT");
  });

  /** Finished requests in the (shared) database: the DID request of the first group completed. */
  const finished = async () =>
    (
      await app.deps.db.sql.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM requests WHERE status NOT IN ('lookup','running','pending_lookup','submitted')",
      )
    )[0]!.n;

  it("When a lifecycle route is called without a token, then it is refused with 401 and deletes nothing", async () => {
    const before = await finished();
    expect(before).toBeGreaterThan(0);
    for (const [method, path] of LIFECYCLE) {
      const r: Answer = await httpCall(`${app.pub}${path}`, method);
      expect({ path, status: r.status }).toEqual({ path, status: 401 });
      expectAnswer(r, 401, { message: "Missing Authorization Header" });
    }
    expect(await finished()).toBe(before);
  });

  it("When a lifecycle route is called with a non-admin user's token, then it is refused with 403 and deletes nothing", async () => {
    const before = await finished();
    for (const [method, path] of LIFECYCLE) {
      const r = await httpCall(`${app.pub}${path}`, method, { token: userToken });
      expect({ path, status: r.status }).toEqual({ path, status: 403 });
      expect((r.json as { message: string }).message).toMatch(/restricted to administrators/);
    }
    expect(await finished()).toBe(before);
  });

  it("When a lifecycle route is called with an admin's token, then it runs", async () => {
    for (const [method, path] of LIFECYCLE) {
      const r = await httpCall(`${app.pub}${path}`, method, { token: adminToken });
      expect({ path, status: r.status, body: r.text }).toMatchObject({ path, status: 200 });
    }
    expect(await finished()).toBe(0);
  });

  it("When a DID finder or sidecar calls back without a token, then it is still served (its request shape is unchanged)", async () => {
    const r = await httpCall(`${app.pub}/servicex/internal/transformation/987654321/files`, "PUT", {
      body: [{ paths: ["root://x//a.root"] }],
    });
    expectAnswer(r, 404, { message: "Dataset 987654321 not found" });
    const fc = await httpCall(
      `${app.pub}/servicex/internal/transformation/${randomUUID()}/file-complete`,
      "PUT",
      { body: { "file-id": 1, "file-path": "a", status: "success" } },
    );
    expectAnswer(fc, 404, { message: "Request not found" });
  });
});

describe("With ENABLE_AUTH=true and INTERNAL_PORT set", () => {
  let app: Started;
  let adminToken: string;
  beforeAll(async () => {
    const adminEmail = "root-split@listeners.example";
    app = await start(authEnv(adminEmail), true);
    await app.deps.users.provision({
      sub: `a-${randomUUID()}`,
      email: adminEmail,
      name: "Root",
      institution: null,
    });
    adminToken = app.deps.jwt!.issue("access", adminEmail).token;
  }, 120_000);

  it("When the App starts, then no exposure warning is logged", () => {
    expect(warnings(app)).toEqual([]);
  });

  it("When a lifecycle route is called on the public port, then an admin token runs it and an anonymous call gets 401", async () => {
    for (const [method, path] of LIFECYCLE) {
      expect((await httpCall(`${app.pub}${path}`, method)).status).toBe(401);
      expect((await httpCall(`${app.pub}${path}`, method, { token: adminToken })).status).toBe(200);
      expect((await httpCall(`${app.internal}${path}`, method)).status).toBe(200);
    }
  });

  it("When a DID-finder or sidecar route is called on the public port, even with an admin token, then it answers 404", async () => {
    for (const [method, path, body] of CALLBACKS(randomUUID())) {
      const r = await httpCall(`${app.pub}${path}`, method, { body, token: adminToken });
      expect({ path, status: r.status }).toEqual({ path, status: 404 });
    }
  });
});

describe("INTERNAL_PORT configuration", () => {
  it("When INTERNAL_PORT is set without INTERNAL_ADVERTISED_HOSTNAME, then callbacks use ADVERTISED_HOSTNAME's host with the internal port", () => {
    const c = loadConfig({ PORT: "5000", INTERNAL_PORT: "5001", ADVERTISED_HOSTNAME: "sx-app:8000" });
    expect(c.internalAdvertisedHostname).toBe("sx-app:5001");
    expect(loadConfig({ INTERNAL_PORT: "5001" }).internalAdvertisedHostname).toBe("localhost:5001");
    expect(
      loadConfig({ INTERNAL_PORT: "5001", INTERNAL_ADVERTISED_HOSTNAME: "sx-internal:8001" })
        .internalAdvertisedHostname,
    ).toBe("sx-internal:8001");
    expect(loadConfig({ ADVERTISED_HOSTNAME: "h:1" }).internalAdvertisedHostname).toBe("h:1");
  });

  it("When INTERNAL_PORT equals PORT or is not a port, then start-up fails naming the key", () => {
    expect(() => loadConfig({ PORT: "5000", INTERNAL_PORT: "5000" })).toThrow(/INTERNAL_PORT: must differ/);
    expect(() => loadConfig({ INTERNAL_PORT: "http" })).toThrow(/INTERNAL_PORT/);
  });
});
