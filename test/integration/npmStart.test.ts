// `npm start` (README quick start): the compiled App under npm, stopped the way a terminal, a process
// manager or a CI job stops it — SIGTERM to the `npm` process itself, not to the server.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestDatabase, createTestDatabase } from "../helpers/pg.js";
import { eventually } from "../helpers/wait.js";

const REPO = path.resolve(import.meta.dirname, "../..");

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The process ids whose parent is `pid` (Linux /proc). */
function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

describe("npm start", () => {
  it("When SIGTERM is sent to the npm process, then the compiled server drains, its port closes and every process exits", async () => {
    // PORT=0: the kernel picks a free port and the App says which in its "listening on" line (a port chosen
    // here at random could be taken meanwhile, seen as EADDRINUSE).
    const npm = spawn("npm", ["start"], {
      cwd: REPO,
      env: {
        ...process.env,
        PORT: "0",
        BIND_ADDRESS: "127.0.0.1",
        DATABASE_URL: db.url,
        RABBIT_MQ_URL: "",
        TRANSFORMER_MANAGER_ENABLED: "false",
        LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    npm.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    npm.stderr.on("data", (c: Buffer) => {
      out += c.toString();
    });
    const npmExited = new Promise<number | null>((r) => npm.once("exit", (code) => r(code)));
    // prestart may compile src/ first (dist missing or older than the sources): allow for it.
    let base = "";
    await eventually(
      async () => {
        const listening = /ServiceX App listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (!listening) return false;
        base = listening[1] as string;
        return (await fetch(`${base}/readyz`)).status === 200;
      },
      240_000,
      "the App's 'listening on' line and /readyz 200 under npm start",
    ).catch((e: Error) => {
      npm.kill("SIGKILL");
      throw new Error(`${e.message}\n${out}`);
    });
    // npm echoes the start script: node, its options (package.json), the compiled entry.
    expect(out).toMatch(/node (--\S+ )*dist\/main\.js/);
    // npm runs the start script through a shell that execs node: the server is npm's own child.
    const server = children(npm.pid as number).find((pid) =>
      readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("dist/main.js"),
    );
    expect(server, `a node dist/main.js child of npm (${out})`).toBeDefined();

    npm.kill("SIGTERM");
    await npmExited;
    await eventually(async () => !alive(server as number), 30_000, "the server process exits");
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
    expect(out).toMatch(/"signal":"SIGTERM"/);
    expect(out).toMatch(/"msg":"bye"/);
  }, 300_000);
});
