// W7 — the price of authentication on the client's status poll: two App processes on one database, one with
// ENABLE_AUTH=false, one with ENABLE_AUTH=true; the same GET /servicex/transformation/<id> at the same
// concurrency against each (the authenticated one with a bearer access token of the request's owner).
// Goal: authenticated rate ≥ 0.8 × unauthenticated rate.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { JwtService, encodeTokenRecord } from "../src/adapters/auth/jwt.js";
import { closedLoop, fmt, freePort, request, startProcess, stopProcess, pgExec } from "./lib.js";

export interface W7Options {
  pgAdminUrl: string;
  line: (name: string, value: string, extra?: string) => void;
  calls?: number;
  concurrency?: number;
}

const admin = pgExec;

export async function runW7(o: W7Options): Promise<{ ratio: number }> {
  const CALLS = o.calls ?? 40_000;
  const C = o.concurrency ?? 64;
  const tag = randomBytes(4).toString("hex");
  const dbName = `sx_bench_w7_${tag}`;
  await admin(o.pgAdminUrl, `CREATE DATABASE "${dbName}"`);
  const dbUrl = o.pgAdminUrl.replace(/\/[^/]*$/, `/${dbName}`);
  const secret = randomBytes(32).toString("hex");
  const common = {
    BIND_ADDRESS: "127.0.0.1",
    DATABASE_URL: dbUrl,
    RABBIT_MQ_URL: "",
    TRANSFORMER_MANAGER_ENABLED: "false",
    LOG_LEVEL: process.env.BENCH_APP_LOG_LEVEL ?? "warn",
    JWT_SECRET_KEY: secret,
    SECRET_KEY: secret,
  };
  const openPort = await freePort();
  const open = await startProcess(
    "src/main.ts",
    { ...common, PORT: String(openPort), ENABLE_AUTH: "false" },
    `http://127.0.0.1:${openPort}/healthz`,
  );
  const authPort = await freePort();
  const auth = await startProcess(
    "src/main.ts",
    { ...common, PORT: String(authPort), ENABLE_AUTH: "true" },
    `http://127.0.0.1:${authPort}/healthz`,
  );
  try {
    // A user with an API token, as the sign-up flow leaves them.
    const jwt = new JwtService({ secret, accessExpiresSeconds: 3600, refreshExpiresSeconds: false });
    const email = `bench-${tag}@example.org`;
    const { token: refresh, record } = jwt.issue("refresh", email);
    const c = new pg.Client({ connectionString: dbUrl });
    await c.connect();
    await c.query(
      "INSERT INTO users (sub, email, name, admin, pending, refresh_token) VALUES ($1, $2, 'Bench', false, false, $3)",
      [`sub-${tag}`, email, encodeTokenRecord(record)],
    );
    await c.end();
    const authBase = `http://127.0.0.1:${authPort}`;
    const refreshed = await request(`${authBase}/token/refresh`, "POST", undefined, {
      authorization: `Bearer ${refresh}`,
    });
    if (refreshed.status !== 200)
      throw new Error(`W7 refresh answered ${refreshed.status}: ${refreshed.body}`);
    const bearer = {
      authorization: `Bearer ${(JSON.parse(refreshed.body) as { access_token: string }).access_token}`,
    };
    const sub = await request(
      `${authBase}/servicex/transformation`,
      "POST",
      {
        "file-list": ["root://bench//w7.root"],
        selection: "s",
        codegen: "passthrough",
        "result-destination": "object-store",
      },
      bearer,
    );
    if (sub.status !== 200) throw new Error(`W7 submit answered ${sub.status}: ${sub.body}`);
    const id = (JSON.parse(sub.body) as { request_id: string }).request_id;

    const openUrl = `http://127.0.0.1:${openPort}/servicex/transformation/${id}`;
    const authUrl = `${authBase}/servicex/transformation/${id}`;
    // Warm-up, then alternate the two measurements twice and keep each side's best (machine noise).
    await closedLoop(C, 3000, () => request(openUrl, "GET"));
    await closedLoop(C, 3000, () => request(authUrl, "GET", undefined, bearer));
    let best = { open: 0, auth: 0, openP99: 0, authP99: 0, errors: 0 };
    for (let round = 0; round < 2; round++) {
      const a = await closedLoop(C, CALLS / 2, () => request(openUrl, "GET"));
      const b = await closedLoop(C, CALLS / 2, () => request(authUrl, "GET", undefined, bearer));
      best.errors += a.errors + b.errors;
      if (a.rate > best.open) best = { ...best, open: a.rate, openP99: a.p99 };
      if (b.rate > best.auth) best = { ...best, auth: b.rate, authP99: b.p99 };
    }
    const ratio = best.auth / best.open;
    o.line(
      "W7 status GET, ENABLE_AUTH=false",
      `${fmt(best.open)} req/s`,
      `p99 ${fmt(best.openP99, 1)} ms, ${C} callers`,
    );
    o.line(
      "W7 status GET, ENABLE_AUTH=true (bearer)",
      `${fmt(best.auth)} req/s`,
      `p99 ${fmt(best.authP99, 1)} ms; ratio ${fmt(ratio, 2)} (goal ≥ 0.8); errors ${best.errors}`,
    );
    return { ratio };
  } finally {
    await stopProcess(open);
    await stopProcess(auth);
    await admin(o.pgAdminUrl, `DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).catch(() => {});
  }
}
