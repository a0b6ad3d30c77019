// The container image without a container engine: its file set is rebuilt from the Dockerfile and
// .dockerignore themselves (the build context filtered by .dockerignore, each stage's COPY lines, the RUN
// commands), installed with production dependencies only, and started with the image's CMD on a real
// Postgres. A runtime file the image lacks, a dev dependency the App needs at run time or a Dockerfile
// instruction this test cannot reproduce fails here.
//
// Also the drop-in for upstream's Helm chart: the same file set started the way that chart starts the App
// container (its rendered app.conf, its environment with `$(VAR)` expanded, a /default_users file, no command).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../helpers/appProcess.js";
import { putJson } from "../helpers/fakeWorkers.js";
import { type TestDatabase, createEmptyDatabase } from "../helpers/pg.js";
import { eventually } from "../helpers/wait.js";

const REPO = path.resolve(import.meta.dirname, "../..");

// ---------------------------------------------------------------------------------------------------------
// Dockerfile and .dockerignore

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  name: string | null;
  instructions: Instruction[];
}

/** The stages of a Dockerfile: continuation lines joined, comments dropped. */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const logical = text
    .replace(/\\\r?\n/g, " ")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  for (const line of logical) {
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile: cannot read ${line}`);
    const op = (m[1] as string).toUpperCase();
    const args = m[2] as string;
    if (op === "FROM") {
      stages.push({ name: /\sAS\s+(\S+)$/i.exec(args)?.[1] ?? null, instructions: [{ op, args }] });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`Dockerfile: ${op} before FROM`);
      stage.instructions.push({ op, args });
    }
  }
  return stages;
}

/** Docker's .dockerignore rules: the last matching pattern decides; a pattern also matches every path below. */
function dockerignore(text: string): { excluded(rel: string): boolean; mayInclude(dir: string): boolean } {
  const rules = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => {
      const negate = l.startsWith("!");
      const pattern = path.posix.normalize((negate ? l.slice(1) : l).replace(/^\/+/, "")).replace(/\/$/, "");
      let re = "";
      for (let i = 0; i < pattern.length; i++) {
        const c = pattern[i] as string;
        if (c === "*" && pattern[i + 1] === "*") {
          re += pattern[i + 2] === "/" ? "(?:.*/)?" : ".*";
          i += pattern[i + 2] === "/" ? 2 : 1;
        } else if (c === "*") re += "[^/]*";
        else if (c === "?") re += "[^/]";
        else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
      }
      return { negate, pattern, re: new RegExp(`^${re}$`) };
    });
  const matches = (re: RegExp, rel: string) => {
    const parts = rel.split("/");
    for (let n = 1; n <= parts.length; n++) if (re.test(parts.slice(0, n).join("/"))) return true;
    return false;
  };
  return {
    excluded(rel) {
      let out = false;
      for (const r of rules) if (matches(r.re, rel)) out = !r.negate;
      return out;
    },
    /** Whether an exception pattern could re-include something under an excluded directory. */
    mayInclude(dir) {
      return rules.some((r) => r.negate && (r.pattern.startsWith(`${dir}/`) || r.pattern.startsWith("*")));
    },
  };
}

/** The build context: every file of the repository that .dockerignore lets through (paths relative to REPO). */
function buildContext(): Set<string> {
  const ignore = dockerignore(readFileSync(path.join(REPO, ".dockerignore"), "utf8"));
  const files = new Set<string>();
  const walk = (rel: string) => {
    for (const e of readdirSync(path.join(REPO, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!ignore.excluded(r) || ignore.mayInclude(r)) walk(r);
      } else if (!ignore.excluded(r)) files.add(r);
    }
  };
  walk("");
  return files;
}

/** Splits `a b "c d"` and JSON-array forms into words. */
function words(args: string): string[] {
  if (args.trim().startsWith("[")) return JSON.parse(args) as string[];
  return args.trim().split(/\s+/);
}

/**
 * Builds every stage into its own directory, which stands for the stage's WORKDIR (/app). `npm ci` of the
 * build stage is the workspace's own node_modules (made by `npm ci` from the same lockfile), linked instead
 * of installed again; the runtime stage's production install really runs (offline-first from npm's cache).
 */
function buildImage(root: string): {
  dir: string;
  env: Record<string, string>;
  cmd: string[];
  user: string | null;
} {
  const stages = parseDockerfile(readFileSync(path.join(REPO, "Dockerfile"), "utf8"));
  const context = buildContext();
  const dirs = new Map<string, string>();
  let last: { dir: string; env: Record<string, string>; cmd: string[]; user: string | null } | null = null;
  stages.forEach((stage, n) => {
    const dir = path.join(root, stage.name ?? `stage${n}`);
    mkdirSync(dir, { recursive: true });
    let workdir = "/";
    const env: Record<string, string> = {};
    let cmd: string[] = [];
    let user: string | null = null;
    const inStage = (p: string, base = dir, wd = workdir) => {
      const abs = path.posix.resolve(wd, p);
      if (abs !== "/app" && !abs.startsWith("/app/")) throw new Error(`Dockerfile path outside /app: ${abs}`);
      return path.join(base, abs.slice("/app".length));
    };
    for (const { op, args } of stage.instructions) {
      switch (op) {
        case "FROM":
          expect(args, "the image's base").toMatch(/^node:24[-.\w]*-slim\b/);
          break;
        case "WORKDIR":
          workdir = path.posix.resolve(workdir, args.trim());
          break;
        case "ENV":
          for (const m of args.matchAll(/(\w+)=("[^"]*"|\S+)/g))
            env[m[1] as string] = (m[2] as string).replace(/^"|"$/g, "");
          break;
        case "COPY": {
          const w = words(args);
          const from = w[0]?.startsWith("--from=") ? (w.shift() as string).slice("--from=".length) : null;
          const dest = w.pop() as string;
          const toDir = dest.endsWith("/") || w.length > 1;
          for (const src of w) {
            if (from) {
              const fromDir = dirs.get(from);
              if (!fromDir) throw new Error(`COPY --from=${from}: no such stage`);
              cpSync(inStage(src, fromDir, "/app"), inStage(dest), { recursive: true });
              continue;
            }
            const norm = path.posix.normalize(src).replace(/\/$/, "");
            const picked = [...context].filter((f) => f === norm || f.startsWith(`${norm}/`));
            expect(picked.length, `COPY ${src}: in the build context`).toBeGreaterThan(0);
            for (const f of picked) {
              const target =
                f === norm
                  ? toDir
                    ? path.join(inStage(dest), path.basename(f))
                    : inStage(dest)
                  : path.join(inStage(dest), f.slice(norm.length + 1));
              mkdirSync(path.dirname(target), { recursive: true });
              cpSync(path.join(REPO, f), target);
            }
          }
          break;
        }
        case "RUN":
          for (const step of args.split("&&").map((s) => s.trim()))
            runStep(step, dir, env, stage.name === "build");
          break;
        case "CMD":
          cmd = words(args);
          break;
        case "USER":
          user = args.trim();
          break;
        case "EXPOSE":
        case "HEALTHCHECK":
        case "STOPSIGNAL":
          break;
        default:
          throw new Error(`Dockerfile: ${op} is not reproduced by this test; extend it`);
      }
    }
    if (stage.name) dirs.set(stage.name, dir);
    last = { dir, env, cmd, user };
  });
  if (!last) throw new Error("Dockerfile has no stage");
  return last;
}

function runStep(step: string, dir: string, env: Record<string, string>, buildStage: boolean): void {
  if (/^npm ci\b/.test(step) && buildStage && !step.includes("--omit=dev")) {
    // The build stage's full install: the workspace's node_modules, made by `npm ci` from the same lockfile.
    expect(readFileSync(path.join(dir, "package-lock.json"), "utf8")).toBe(
      readFileSync(path.join(REPO, "package-lock.json"), "utf8"),
    );
    spawnSync("ln", ["-s", path.join(REPO, "node_modules"), path.join(dir, "node_modules")]);
    return;
  }
  if (/^npm cache clean\b/.test(step)) return; // would empty this machine's shared npm cache
  if (/^chown\b/.test(step)) return; // the image's `node` user does not exist here
  if (!/^(npm (ci|run) |mkdir |chmod )/.test(step))
    throw new Error(`RUN ${step}: not reproduced by this test`);
  const command = step.replace(/(^|\s)\/app(?=\/|\s|$)/g, `$1${dir}`);
  const r = spawnSync("bash", ["-c", command], {
    cwd: dir,
    env: { ...process.env, ...env, npm_config_prefer_offline: "true", npm_config_loglevel: "error" },
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`RUN ${step} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
}

// ---------------------------------------------------------------------------------------------------------
// Running the image's CMD

interface Running {
  child: ChildProcess;
  url: string;
  log(): string;
  exited: Promise<number | null>;
}

function start(image: ReturnType<typeof buildImage>, env: Record<string, string>, port: number): Running {
  const [cmd, ...args] = image.cmd;
  // Only what the image defines and what the test sets: nothing of this process's environment but PATH and HOME.
  const child = spawn(cmd as string, args, {
    cwd: image.dir,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...image.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return { child, url: `http://127.0.0.1:${port}`, log: () => out, exited };
}

async function ready(app: Running, timeoutMs = 90_000): Promise<void> {
  let exitedEarly: number | null | undefined;
  void app.exited.then((c) => {
    exitedEarly = c;
  });
  await eventually(
    async () => {
      if (exitedEarly !== undefined) throw new Error(`exited with ${exitedEarly}`);
      return (await fetch(`${app.url}/readyz`)).status === 200;
    },
    timeoutMs,
    "/readyz 200",
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n--- output ---\n${app.log()}`);
  });
}

async function stop(app: Running): Promise<number | null> {
  if (app.child.exitCode !== null) return app.child.exitCode;
  app.child.kill("SIGTERM");
  return app.exited;
}

async function query<T extends pg.QueryResultRow>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

// ---------------------------------------------------------------------------------------------------------

let work: string;
let image: ReturnType<typeof buildImage>;

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), "sx-image-"));
  image = buildImage(path.join(work, "image"));
}, 240_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("The image's file set (Dockerfile + .dockerignore)", () => {
  it("When built from the Dockerfile, then it holds the compiled App and production dependencies only, and runs as a non-root user", () => {
    expect(existsSync(path.join(image.dir, "dist", "main.js"))).toBe(true);
    expect(existsSync(path.join(image.dir, "dist", "generated", "prisma", "client.js"))).toBe(true);
    expect(existsSync(path.join(image.dir, "src")), "no TypeScript sources").toBe(false);
    for (const dev of ["tsx", "typescript", "vitest", "prisma", "@biomejs/biome", "oidc-provider"]) {
      expect(existsSync(path.join(image.dir, "node_modules", dev)), `${dev} is not installed`).toBe(false);
    }
    expect(image.cmd).toEqual(["./boot.sh"]);
    expect(readFileSync(path.join(image.dir, "boot.sh"), "utf8")).toMatch(
      /^exec node (--[\w-]+=\S+ )*dist\/main\.js$/m,
    );
    expect(image.user).toBe("node");
    expect(statSync(path.join(image.dir, "boot.sh")).mode & 0o111).not.toBe(0);
  });

  it("When built, then node_modules holds no source maps, type declarations or other databases' query compilers, and the file set's size is printed", () => {
    const left: string[] = [];
    let bytes = 0;
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile()) {
          bytes += statSync(p).size;
          const pruned = /\.map$|\.d\.[mc]?ts$|\.(sqlserver|cockroachdb|mysql|sqlite)\.wasm/.test(e.name);
          // The App's own dist/ keeps its source maps (stack traces); node_modules is pruned.
          if (pruned && p.includes(`${path.sep}node_modules${path.sep}`)) left.push(p);
        }
      }
    };
    walk(image.dir);
    expect(left.slice(0, 5), "pruned by npm run prune:runtime").toEqual([]);
    // What the image adds to node:24-bookworm-slim (printed for the README's figure; not a timed assertion).
    console.log(`image file set: ${(bytes / 1e6).toFixed(0)} MB`);
    expect(existsSync(path.join(image.dir, "node_modules", "@prisma", "client", "runtime"))).toBe(true);
  });

  it("When the Helm chart's default image tag is used, then it is the package version a build is tagged with (README: Docker)", () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")) as { version: string };
    const chart = readFileSync(path.join(REPO, "helm", "servicex-app", "Chart.yaml"), "utf8");
    expect(/^appVersion:\s*"?([^"\s]+)"?/m.exec(chart)?.[1]).toBe(pkg.version);
  });

  describe("When started with its CMD on an empty Postgres database", () => {
    let db: TestDatabase;
    let app: Running;
    let port: number;
    const data = () => path.join(work, "data");

    beforeAll(async () => {
      port = await freePort();
      db = await createEmptyDatabase();
      mkdirSync(data(), { recursive: true });
      app = start(
        image,
        {
          DATABASE_URL: db.url,
          PORT: String(port),
          BIND_ADDRESS: "127.0.0.1",
          DATA_DIR: data(),
          LOG_LEVEL: "info",
        },
        port,
      );
      await ready(app);
    }, 120_000);

    afterAll(async () => {
      if (app) await stop(app);
      await db?.drop();
    });

    it("then every migration is applied", async () => {
      const dirs = readdirSync(path.join(image.dir, "prisma", "migrations"), { withFileTypes: true }).filter(
        (e) => e.isDirectory(),
      );
      const applied = await query<{ migration_name: string }>(
        db.url,
        "SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL",
      );
      expect(applied.map((r) => r.migration_name).sort()).toEqual(dirs.map((d) => d.name).sort());
    });

    it("then a page and its stylesheet load", async () => {
      const page = await fetch(`${app.url}/dashboard`);
      expect(page.status).toBe(200);
      const html = await page.text();
      const href =
        /<link[^>]+rel="stylesheet"[^>]+href="([^"]+)"/.exec(html)?.[1] ??
        /href="(\/static\/[^"]+\.css)"/.exec(html)?.[1];
      expect(href, "the page links a stylesheet").toBeTruthy();
      const css = await fetch(new URL(href as string, app.url));
      expect(css.status).toBe(200);
      expect(css.headers.get("content-type")).toMatch(/text\/css/);
      expect((await css.text()).length).toBeGreaterThan(100);
    });

    it("then a file-list request with the built-in passthrough generator completes on local transformer processes", async () => {
      const inputs = path.join(work, "inputs");
      mkdirSync(inputs, { recursive: true });
      const files = [0, 1, 2].map((i) => {
        const p = path.join(inputs, `f${i}_${randomBytes(3).toString("hex")}.root`);
        writeFileSync(p, randomBytes(1000 + i));
        return p;
      });
      const sub = await putJson(
        `${app.url}/servicex/transformation`,
        {
          "file-list": files,
          selection: "s",
          codegen: "passthrough",
          "result-destination": "volume",
          workers: 2,
        },
        "POST",
      );
      expect(sub.status, JSON.stringify(sub.body)).toBe(200);
      const id = (sub.body as { request_id: string }).request_id;
      const done = await eventually(
        async () => {
          const b = (await (await fetch(`${app.url}/servicex/transformation/${id}`)).json()) as Record<
            string,
            unknown
          >;
          if (b.status === "Fatal" || b.status === "Canceled") throw new Error(`request ended ${b.status}`);
          return b.status === "Complete" ? b : null;
        },
        60_000,
        `request ${id} Complete`,
      ).catch((e: Error) => {
        throw new Error(`${e.message}\n--- output ---\n${app.log()}`);
      });
      expect(done["files-completed"]).toBe(3);
      const results = readdirSync(path.join(data(), "results", id));
      expect(results).toHaveLength(3);
    });

    it("then SIGTERM to the process the CMD started drains and exits 0, and the port closes", async () => {
      const code = await stop(app);
      expect(code, app.log()).toBe(0);
      expect(app.log()).toMatch(/"msg":"bye"/);
      await expect(fetch(`${app.url}/healthz`)).rejects.toThrow();
    });
  });
});

describe("Upstream's Helm chart starting the image (its app.conf, environment and /default_users)", () => {
  let db: TestDatabase;
  let app: Running;
  let port: number;
  const scheme = `sx${randomBytes(4).toString("hex")}`;
  let startupLog: Record<string, unknown>;

  beforeAll(async () => {
    port = await freePort();
    db = await createEmptyDatabase();
    const conf = path.join(work, "opt-servicex", "app.conf");
    mkdirSync(path.dirname(conf), { recursive: true });
    cpSync(path.join(REPO, "test", "fixtures", "upstream-helm", "app.conf"), conf);
    const users = path.join(work, "default_users", "users.json");
    mkdirSync(path.dirname(users), { recursive: true });
    writeFileSync(
      users,
      JSON.stringify([
        {
          sub: "admin-sub",
          email: "admin@example.com",
          name: "Admin",
          institution: "Lab",
          refresh_token: null,
        },
        { sub: "user-sub", email: "user@example.com", name: "User", institution: "Lab", refresh_token: null },
      ]),
    );
    const rabbit = new URL(process.env.TEST_RABBIT_URL ?? "amqp://guest:guest@127.0.0.1:5672/%2F");
    const pgUrl = new URL(db.url);
    // The chart's container environment, `$(RMQ_PASS)`/`$(PG_PASS)` expanded by Kubernetes. PORT and the
    // test's own DID scheme are the only additions: a free port, and no machine-wide did_finder_rucio queue.
    const chartEnv: Record<string, string> = {
      APP_CONFIG_FILE: conf,
      FLASK_APP: "servicex_app",
      INSTANCE_NAME: "servicex",
      LOG_LEVEL: "INFO",
      RMQ_PASS: rabbit.password,
      RABBIT_MQ_URL: `amqp://${rabbit.username}:${rabbit.password}@${rabbit.host}/%2F`,
      TRANSFORMER_RABBIT_MQ_URL: `amqp://${rabbit.username}:${rabbit.password}@${rabbit.host}/%2F?heartbeat=9000`,
      PG_PASS: pgUrl.password,
      SQLALCHEMY_DATABASE_URI: db.url,
      SECRET_KEY: "chart-secret",
      JWT_SECRET_KEY: "chart-jwt-secret",
      GLOBUS_CLIENT_ID: "",
      GLOBUS_CLIENT_SECRET: "",
      DEFAULT_USERS_FILE: users,
      PORT: String(port),
      BIND_ADDRESS: "127.0.0.1",
      VALID_DID_SCHEMES: JSON.stringify([scheme]),
      DID_FINDER_DEFAULT_SCHEME: scheme,
      // A key app.conf does not define: ignored, as upstream ignores it.
      DATABASE_URL: "postgresql://nobody@127.0.0.1:1/none",
    };
    app = start(image, chartEnv, port);
    await ready(app);
    const line = app
      .log()
      .split("\n")
      .find((l) => l.includes("ServiceX App listening"));
    startupLog = JSON.parse(line ?? "{}") as Record<string, unknown>;
  }, 120_000);

  afterAll(async () => {
    if (app) await stop(app);
    await db?.drop();
  });

  it("When started, then it uses the chart's database (SQLALCHEMY_DATABASE_URI from the Secret), broker, launcher mode and code generators", async () => {
    expect(startupLog).toMatchObject({
      database: "postgres",
      broker: "rabbitmq",
      launcher: "kubernetes",
      codegens: ["uproot", "python"],
      callbackHost: "servicex-servicex-app:8000",
    });
    const applied = await query<{ n: string }>(db.url, "SELECT count(*) AS n FROM _prisma_migrations");
    expect(Number(applied[0]?.n)).toBeGreaterThan(0);
    const codegens = await (await fetch(`${app.url}/multiple-codegen-list`)).json();
    expect(codegens).toEqual({
      uproot: "http://servicex-code-gen-uproot:8000",
      python: "http://servicex-code-gen-python:8000",
    });
  });

  it("When the environment names a key app.conf defines, then it wins; a key app.conf does not define is ignored (upstream's rule)", async () => {
    // VALID_DID_SCHEMES is in app.conf (["rucio"]) and overridden: rucio is refused, the test's scheme gets as
    // far as the code generator, which is app.conf's (its host does not exist here).
    const refused = await putJson(
      `${app.url}/servicex/transformation`,
      { did: "rucio://mc.some.dataset", selection: "s", codegen: "uproot", "result-destination": "volume" },
      "POST",
    );
    expect(refused.status, JSON.stringify(refused.body)).toBe(400);
    expect(JSON.stringify(refused.body)).toMatch(/rucio/);
    const accepted = await putJson(
      `${app.url}/servicex/transformation`,
      {
        did: `${scheme}://mc.some.dataset`,
        selection: "s",
        codegen: "uproot",
        "result-destination": "volume",
      },
      "POST",
    );
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(503);
    expect(accepted.body).toMatchObject({ code: "codegen_failed" });
    expect(JSON.stringify(accepted.body)).toMatch(/servicex-code-gen-uproot/);
    // DATABASE_URL (not in app.conf) names an unreachable server: ignored, the Secret's SQLALCHEMY_DATABASE_URI
    // was used (the App is ready, and the migrations and users below are in that database).
    expect((await fetch(`${app.url}/readyz`)).status).toBe(200);
  });

  it("When /default_users holds users, then boot.sh creates them and JWT_ADMIN's e-mail is an admin", async () => {
    const users = await query<{ email: string; admin: boolean }>(
      db.url,
      "SELECT email, admin FROM users ORDER BY email",
    );
    expect(users).toEqual([
      { email: "admin@example.com", admin: true },
      { email: "user@example.com", admin: false },
    ]);
  });
});
