// Idempotent submit and result reuse (contract A.17, robustness issue item 3), canonical file lists (#753,
// #754), and the per-user limit on active requests (item 5).
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeTokenRecord } from "../../src/adapters/auth/jwt.js";
import { fileCompleteBody, putJson } from "../helpers/fakeWorkers.js";
import { type TestApp, startTestApp } from "../helpers/testApp.js";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ backend: "postgres", broker: "memory", env: { REUSE_RESULTS: "true" } });
});
afterAll(async () => {
  await app?.close();
});

const q = <T>(sql: string, params: unknown[] = []) => app.deps.db.sql.query<T>(sql, params);

async function post(a: TestApp, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${a.url}/servicex/transformation`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const body = (files: string[], selection = "s") => ({
  "file-list": files,
  selection,
  codegen: "passthrough",
  "result-destination": "object-store",
});
const uniq = () => `root://eos//${randomBytes(5).toString("hex")}.root`;

async function completeAll(a: TestApp, id: string): Promise<void> {
  const files = await a.deps.db.sql.query<{ id: number; paths: string }>(
    "SELECT f.id, f.paths FROM files f JOIN requests r ON r.did_id = f.dataset_id WHERE r.request_id = $1",
    [id],
  );
  for (const f of files) {
    const r = await putJson(
      `${a.url}/servicex/internal/transformation/${id}/file-complete`,
      fileCompleteBody({ request_id: id, file_id: f.id, paths: [f.paths] }, "success"),
    );
    expect(r.status).toBe(200);
  }
}

describe("Idempotency-Key", () => {
  it("When the same key comes with the same body, then the same request id comes back and one request exists", async () => {
    const key = `k-${randomBytes(6).toString("hex")}`;
    const b = body([uniq()]);
    const first = await post(app, b, { "Idempotency-Key": key });
    const second = await post(app, b, { "Idempotency-Key": key });
    expect(first.status).toBe(200);
    expect(second).toEqual(first);
  });

  it("When the same key comes with a different body, then 422 with a clear message", async () => {
    const key = `k-${randomBytes(6).toString("hex")}`;
    expect((await post(app, body([uniq()]), { "Idempotency-Key": key })).status).toBe(200);
    const other = await post(app, body([uniq()]), { "Idempotency-Key": key });
    expect(other.status).toBe(422);
    expect(other.body.message).toBe("This Idempotency-Key was already used with a different request body");
  });

  it("When 20 submits with one key arrive at once, then exactly one request is created and all get its id", async () => {
    const key = `k-${randomBytes(6).toString("hex")}`;
    const file = uniq();
    const before = (await q<{ n: number }>("SELECT count(*)::int AS n FROM requests"))[0]!.n;
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => post(app, body([file], "concurrent"), { "Idempotency-Key": key })),
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(new Set(answers.map((a) => a.body.request_id)).size).toBe(1);
    const after = (await q<{ n: number }>("SELECT count(*)::int AS n FROM requests"))[0]!.n;
    expect(after - before).toBe(1);
  });

  it("When the first submit with a key fails, then the key is free again for the retry", async () => {
    const key = `k-${randomBytes(6).toString("hex")}`;
    const bad = await post(
      app,
      { ...body([uniq()]), codegen: "no-such-generator" },
      { "Idempotency-Key": key },
    );
    expect(bad.status).toBe(400);
    const good = await post(app, body([uniq()]), { "Idempotency-Key": key });
    expect(good.status).toBe(200);
  });

  it("When the key is longer than 255 characters, then 400", async () => {
    const r = await post(app, body([uniq()]), { "Idempotency-Key": "x".repeat(256) });
    expect(r.status).toBe(400);
    expect(r.body.message).toBe("Idempotency-Key must be 1 to 255 characters");
  });
});

describe("Canonical file lists (#753, #754)", () => {
  it("When a file list has duplicates or another order, then it names the same dataset and each file once", async () => {
    const [a, b] = [uniq(), uniq()];
    const one = await post(app, body([b, a, a]));
    const two = await post(app, body([a, b]));
    const rows = await q<{ did_id: number; files: number }>(
      "SELECT did_id, files FROM requests WHERE request_id = ANY($1::text[]) ORDER BY id",
      [[one.body.request_id, two.body.request_id]],
    );
    expect(rows[0]!.did_id).toBe(rows[1]!.did_id);
    expect(rows.map((r) => r.files)).toEqual([2, 2]);
  });
});

describe("REUSE_RESULTS", () => {
  it("When an identical request completed before, then the submit returns it; a different selection is a new request", async () => {
    const files = [uniq(), uniq()];
    const first = await post(app, body(files, "reuse-me"));
    const id = first.body.request_id as string;
    // Not complete yet: no reuse.
    const early = await post(app, body(files, "reuse-me"));
    expect(early.body.request_id).not.toBe(id);
    await completeAll(app, id);
    await completeAll(app, early.body.request_id as string);
    const reused = await post(app, body([...files].reverse(), "reuse-me"));
    expect([id, early.body.request_id]).toContain(reused.body.request_id);
    const other = await post(app, body(files, "another selection"));
    expect([id, early.body.request_id]).not.toContain(other.body.request_id);
  });

  it("When REUSE_RESULTS is off (the default), then identical submits are separate requests", async () => {
    const off = await startTestApp({ backend: "postgres", broker: "memory", databaseUrl: app.db!.url });
    try {
      const files = [uniq()];
      const a = await post(off, body(files, "no-reuse"));
      await completeAll(off, a.body.request_id as string);
      const b = await post(off, body(files, "no-reuse"));
      expect(b.body.request_id).not.toBe(a.body.request_id);
    } finally {
      await off.close();
    }
  });
});

describe("MAX_ACTIVE_REQUESTS_PER_USER", () => {
  it("When a user has as many active requests as the limit, then the next submit is 429 with the reason; others are unaffected", async () => {
    const limited = await startTestApp({
      backend: "postgres",
      broker: "memory",
      databaseUrl: app.db!.url,
      env: {
        ENABLE_AUTH: "true",
        JWT_SECRET_KEY: "j".repeat(32),
        SECRET_KEY: "s",
        MAX_ACTIVE_REQUESTS_PER_USER: "2",
      },
    });
    try {
      const token = async (email: string) => {
        const u = await limited.deps.users.provision({
          sub: email,
          email,
          name: email,
          institution: null,
          refreshToken: "x",
        });
        const { token: refresh, record } = limited.deps.jwt!.issue("refresh", email);
        await limited.deps.users.repo.update(u!.id, {
          refreshToken: encodeTokenRecord(record),
          pending: false,
        });
        const r = await fetch(`${limited.url}/token/refresh`, {
          method: "POST",
          headers: { authorization: `Bearer ${refresh}` },
        });
        return `Bearer ${((await r.json()) as { access_token: string }).access_token}`;
      };
      const alice = await token(`alice-${randomBytes(3).toString("hex")}@x.org`);
      const bob = await token(`bob-${randomBytes(3).toString("hex")}@x.org`);
      expect((await post(limited, body([uniq()]), { authorization: alice })).status).toBe(200);
      expect((await post(limited, body([uniq()]), { authorization: alice })).status).toBe(200);
      const third = await post(limited, body([uniq()]), { authorization: alice });
      expect(third.status).toBe(429);
      expect(third.body.message).toBe(
        "You have 2 transform requests in progress; the limit is 2. Wait for one to finish or cancel one.",
      );
      expect((await post(limited, body([uniq()]), { authorization: bob })).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});
