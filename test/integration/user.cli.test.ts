// The user CLI (`npm run user -- …`, scripts/user.ts) against a real Postgres: the same rules as the API
// (JWT_ADMIN becomes admin, a given token means approved, an existing sub is skipped).
import { execFile } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestDatabase, createTestDatabase } from "../helpers/pg.js";

let db: TestDatabase;
let client: pg.Client;
beforeAll(async () => {
  db = await createTestDatabase();
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  await db?.drop();
});

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "scripts/user.ts", ...args],
      {
        env: {
          PATH: process.env.PATH ?? "",
          DATABASE_URL: db.url,
          JWT_ADMIN: "boss@example.org",
          LOG_LEVEL: "silent",
        },
      },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

const user = async (email: string) =>
  (
    await client.query<{ admin: boolean; pending: boolean; sub: string }>(
      "SELECT admin, pending, sub FROM users WHERE lower(email) = lower($1)",
      [email],
    )
  ).rows[0];

// Each test starts the CLI a dozen times (a Node process each, compiling TypeScript on the fly), and each
// call is awaited to its end: on a loaded 2-core machine that takes minutes, not seconds.
describe("When operators manage users with the CLI", { timeout: 300_000 }, () => {
  it("then create, approve, make-admin, revoke-admin, list and delete do what the API does", async () => {
    expect((await cli("create", "sub-a", "alice@example.org", "Alice", "Uni A")).code).toBe(0);
    expect(await user("alice@example.org")).toEqual({ admin: false, pending: true, sub: "sub-a" });

    const again = await cli("create", "sub-a", "alice2@example.org", "Alice", "Uni A");
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/skipped/);

    expect((await cli("create", "sub-boss", "Boss@Example.org", "Boss", "Lab")).code).toBe(0);
    expect(await user("boss@example.org")).toMatchObject({ admin: true, pending: false });

    const approve = await cli("approve", "ALICE@example.org");
    expect(approve).toMatchObject({ code: 0 });
    expect(approve.stdout).toContain("now ready for access");
    expect(await user("alice@example.org")).toMatchObject({ pending: false });

    expect((await cli("make-admin", "alice@example.org")).code).toBe(0);
    expect(await user("alice@example.org")).toMatchObject({ admin: true });
    expect((await cli("revoke-admin", "alice@example.org")).code).toBe(0);
    expect(await user("alice@example.org")).toMatchObject({ admin: false });

    const list = await cli("list", "--email-filter", "ALICE");
    expect(list.stdout.trim().split("\n")).toHaveLength(1);
    expect(list.stdout).toContain("alice@example.org");

    expect((await cli("delete", "alice@example.org")).code).toBe(0);
    expect(await user("alice@example.org")).toBeUndefined();
  });

  it("then unknown users, unknown commands and missing arguments fail with a message and a non-zero code", async () => {
    const unknown = await cli("approve", "nobody@example.org");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("No user registered with email: nobody@example.org");
    const bad = await cli("frobnicate");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown command");
    const missing = await cli("approve");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("usage:");
  });

  it("then load-defaults creates the default users file's users once (boot.sh runs it at every start)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sx-users-"));
    const file = join(dir, "users.json");
    await writeFile(
      file,
      JSON.stringify([
        { sub: "d1", email: "d1@example.org", name: "D One", institution: "X", refresh_token: null },
        { sub: "d2", email: "d2@example.org", name: "D Two", institution: "Y", refresh_token: "tok-d2" },
      ]),
    );
    const first = await cli("load-defaults", file);
    expect(first.stdout).toContain("2 user(s) created");
    expect(await user("d1@example.org")).toMatchObject({ pending: true });
    expect(await user("d2@example.org")).toMatchObject({ pending: false });
    const second = await cli("load-defaults", file);
    expect(second.stdout).toContain("0 user(s) created, 2 already present");
  });
});
