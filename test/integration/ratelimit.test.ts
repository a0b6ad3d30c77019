// Who the rate limits count: a caller with a verified token is counted as its user (one user's script does
// not lock out everyone behind the same ingress; many tokens of one user share one budget), anyone else by
// client address, which is the socket's unless TRUST_PROXY names the proxies in front (then the address
// X-Forwarded-For gives).
import { randomBytes, randomUUID } from "node:crypto";
import jwt from "jsonwebtoken";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Answer, type CallOptions, httpCall } from "../helpers/http.js";
import { type TestApp, startTestApp } from "../helpers/testApp.js";

const LIMIT = 3;
const SUBMIT_LIMIT = 2;
const JWT_SECRET = `rl-jwt-${randomBytes(8).toString("hex")}`;

let plain: TestApp;
let direct: TestApp;
let hops: TestApp;
let listed: TestApp;

const start = (extra: Record<string, string> = {}) =>
  startTestApp({
    backend: "postgres",
    broker: "memory",
    env: {
      ENABLE_AUTH: "true",
      JWT_SECRET_KEY: JWT_SECRET,
      SECRET_KEY: "rl-session",
      RATE_LIMIT_PER_MINUTE: String(LIMIT),
      SUBMIT_RATE_LIMIT_PER_MINUTE: String(SUBMIT_LIMIT),
      ...extra,
    },
  });

beforeAll(async () => {
  [plain, direct, hops, listed] = await Promise.all([
    start(),
    start(),
    start({ TRUST_PROXY: "1" }),
    start({ TRUST_PROXY: "127.0.0.1/32, ::1" }),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([plain, direct, hops, listed].map((a) => a?.close()));
});

/** An approved user with an API (refresh) token and an access token. */
async function user(app: TestApp, label: string) {
  const email = `${label}.${randomBytes(3).toString("hex")}@rl.example`;
  const u = await app.deps.users.provision({
    sub: `s-${randomUUID()}`,
    email,
    name: label,
    institution: null,
    refreshToken: "pre-approved",
  });
  const refresh = await app.deps.users.rotateApiToken(u!.id);
  return { email, refresh, access: () => app.deps.jwt!.issue("access", email).token };
}

const refresh = (app: TestApp, o: CallOptions = {}) => httpCall(`${app.url}/token/refresh`, "POST", o);

const submit = (app: TestApp, token: string): Promise<Answer> =>
  httpCall(`${app.url}/servicex/transformation`, "POST", {
    token,
    body: {
      "file-list": [`root://eos.example//rl/${randomBytes(4).toString("hex")}.root`],
      selection: "(Select lambda e: e.Jets)",
      codegen: "passthrough",
      "result-destination": "object-store",
    },
  });

const statuses = (rs: Answer[]) => rs.map((r) => r.status);

describe("Per-user limits of authenticated callers", () => {
  it("When one user's script exceeds the /token/refresh limit, then other users behind the same address still refresh", async () => {
    const greedy = await user(plain, "greedy");
    const other = await user(plain, "other");
    const burst: Answer[] = [];
    for (let i = 0; i < LIMIT + 2; i++) burst.push(await refresh(plain, { token: greedy.refresh }));
    expect(statuses(burst)).toEqual([...Array(LIMIT).fill(200), 429, 429]);
    expect((await refresh(plain, { token: other.refresh })).status).toBe(200);
  });

  it("When a caller sends tokens that are invalid or merely claim a victim's e-mail, then it is counted by address and the victim is unaffected", async () => {
    const victim = await user(plain, "victim");
    const forged = jwt.sign(
      { sub: victim.email, type: "refresh", jti: randomUUID(), fresh: false },
      "not-the-server-key",
      { algorithm: "HS256" },
    );
    const tries: Answer[] = [];
    for (let i = 0; i < LIMIT + 1; i++) {
      tries.push(await refresh(plain, { token: i % 2 === 0 ? forged : "garbage" }));
    }
    expect(
      statuses(tries)
        .slice(0, LIMIT)
        .every((s) => s === 422 || s === 401),
    ).toBe(true);
    expect(tries[LIMIT]!.status).toBe(429);
    for (let i = 0; i < LIMIT; i++)
      expect((await refresh(plain, { token: victim.refresh })).status).toBe(200);
  });

  it("When one user submits past the limit with several access tokens, then they share one budget and another user still submits", async () => {
    const busy = await user(plain, "busy");
    const calm = await user(plain, "calm");
    const got: Answer[] = [];
    for (let i = 0; i < SUBMIT_LIMIT + 1; i++) got.push(await submit(plain, busy.access()));
    expect(statuses(got)).toEqual([...Array(SUBMIT_LIMIT).fill(200), 429]);
    expect((await submit(plain, calm.access())).status).toBe(200);
  });
});

describe("Client addresses and TRUST_PROXY", () => {
  const anonymousBurst = async (app: TestApp, forwardedFor: (i: number) => string) => {
    const got: Answer[] = [];
    for (let i = 0; i < LIMIT + 1; i++) {
      got.push(await refresh(app, { headers: { "x-forwarded-for": forwardedFor(i) } }));
    }
    return statuses(got);
  };

  it("When TRUST_PROXY is unset, then X-Forwarded-For is ignored: a client cannot pick a fresh budget per call", async () => {
    expect(await anonymousBurst(direct, (i) => `203.0.113.${i + 1}`)).toEqual([
      ...Array(LIMIT).fill(401),
      429,
    ]);
  });

  it("When TRUST_PROXY=1 (one ingress), then each X-Forwarded-For client has its own budget", async () => {
    expect(await anonymousBurst(hops, () => "198.51.100.7")).toEqual([...Array(LIMIT).fill(401), 429]);
    // Another client behind the same ingress is not locked out; the left-most (client-chosen) entries of a
    // longer chain do not matter, only the address the ingress appended.
    expect(await anonymousBurst(hops, (i) => `10.9.9.${i}, 198.51.100.8`)).toEqual([
      ...Array(LIMIT).fill(401),
      429,
    ]);
  });

  it("When TRUST_PROXY lists the proxy's address, then X-Forwarded-For is believed from it", async () => {
    expect(await anonymousBurst(listed, () => "192.0.2.1")).toEqual([...Array(LIMIT).fill(401), 429]);
    expect((await refresh(listed, { headers: { "x-forwarded-for": "192.0.2.2" } })).status).toBe(401);
  });
});
