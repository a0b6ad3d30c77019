// Private PostgreSQL and RabbitMQ instances for the fault tier. Fault tests stop and restart their services on
// purpose; they must never touch the machine's own Postgres (5432) or RabbitMQ (5672), which other processes
// (a developer's server, another test run, a benchmark) are using. So the fault tier starts its own: a
// Postgres cluster made with `initdb` in a temp directory on a free port, and a RabbitMQ node with its own
// name, port, distribution port, cookie and data directory. Both are described to the test workers through
// environment variables (see `PrivateServicesEnv`), so any worker can restart them by name.
//
// Every external command has a timeout: a missing binary, a taken port or a node that does not boot fails
// with a message naming what is missing, never a hang.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { chmod, chown, mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { type AddressInfo, createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The variables the fault tier's global setup sets for its workers. */
export const PrivateServicesEnv = {
  pgAdminUrl: "TEST_PG_ADMIN_URL",
  rabbitUrl: "TEST_RABBIT_URL",
  pgDataDir: "SX_PRIVATE_PG_DATA",
  pgBinDir: "SX_PRIVATE_PG_BIN",
  pgPort: "SX_PRIVATE_PG_PORT",
  rabbitNode: "SX_PRIVATE_RABBIT_NODE",
  rabbitHome: "SX_PRIVATE_RABBIT_HOME",
  rabbitBinDir: "SX_PRIVATE_RABBIT_BIN",
  rabbitPort: "SX_PRIVATE_RABBIT_PORT",
} as const;

/** A TCP port nobody listens on right now (the kernel's pick). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve, reject) => {
    s.once("error", reject);
    s.listen(0, "127.0.0.1", resolve);
  });
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

export function portOpen(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host, port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** Polls `check` until it is true; throws naming `what` after `timeoutMs`. */
async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

const isRoot = () => process.getuid?.() === 0;

/** Runs a command (as `user` when we are root), with a timeout; errors carry the command's output. */
async function run(
  file: string,
  args: string[],
  opts: { user?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {},
): Promise<string> {
  const [cmd, argv] =
    opts.user && isRoot() ? ["runuser", ["-u", opts.user, "--", file, ...args]] : [file, args];
  try {
    const { stdout } = await exec(cmd, argv, {
      timeout: opts.timeoutMs ?? 60_000,
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string; killed?: boolean };
    const why = err.killed ? `timed out after ${opts.timeoutMs ?? 60_000} ms` : err.message.split("\n")[0];
    throw new Error(
      `${file} ${args.join(" ")}: ${why}\n${(err.stderr ?? "").trim()}\n${(err.stdout ?? "").trim()}`.trim(),
    );
  }
}

// --- PostgreSQL --------------------------------------------------------------------------------------------

/** The directory holding initdb/pg_ctl: TEST_PG_BINDIR, else Debian's newest /usr/lib/postgresql/<v>/bin. */
export function findPostgresBinDir(root = "/usr/lib/postgresql"): string {
  const fromEnv = process.env.TEST_PG_BINDIR;
  if (fromEnv) {
    if (!existsSync(join(fromEnv, "initdb"))) throw new Error(`TEST_PG_BINDIR=${fromEnv} has no initdb`);
    return fromEnv;
  }
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error(
      `The fault tier needs a private PostgreSQL but initdb was not found (looked in ${root}/*/bin). ` +
        "Install Debian's postgresql package (`apt-get install postgresql`) or set TEST_PG_BINDIR.",
    );
  }
  return join(root, versions[0]!, "bin");
}

export interface PrivatePostgres {
  port: number;
  dataDir: string;
  binDir: string;
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  adminUrl: string;
}

/** The user the cluster runs as: `postgres` when we are root (Postgres refuses to run as root). */
function pgUser(): string | undefined {
  return isRoot() ? "postgres" : undefined;
}

async function pgCtl(pg: Pick<PrivatePostgres, "binDir" | "dataDir" | "port">, ...args: string[]) {
  return run(join(pg.binDir, "pg_ctl"), ["-D", pg.dataDir, ...args], {
    user: pgUser(),
    timeoutMs: 90_000,
    cwd: "/",
  });
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const binDir = findPostgresBinDir();
  const base = await mkdtemp(join(tmpdir(), "sx-private-pg-"));
  await chmod(base, 0o755);
  const dataDir = join(base, "data");
  await mkdir(dataDir, { mode: 0o700 });
  const user = pgUser();
  if (user) {
    const { stdout } = await exec("id", ["-u", user]).catch(() => {
      throw new Error(
        `The private PostgreSQL runs as the '${user}' user when the tests run as root; it is missing`,
      );
    });
    const uid = Number(stdout.trim());
    const gid = Number((await exec("id", ["-g", user])).stdout.trim());
    await chown(base, uid, gid);
    await chown(dataDir, uid, gid);
  }
  await writeOwner(base);
  await run(
    join(binDir, "initdb"),
    ["-D", dataDir, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
    {
      user,
      timeoutMs: 120_000,
      cwd: "/",
    },
  );
  // Durability is not under test (restarts are clean shutdowns); speed is.
  await writeFile(
    join(dataDir, "postgresql.auto.conf"),
    [
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${base}'`,
      "max_connections = 300",
      "fsync = off",
      "synchronous_commit = off",
      "full_page_writes = off",
      "",
    ].join("\n"),
  );
  if (user) await exec("chown", [user, join(dataDir, "postgresql.auto.conf")]);
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const pg = { port, dataDir, binDir, adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres` };
    try {
      await pgCtl(pg, "-w", "-t", "60", "-l", join(base, "postgres.log"), "-o", `-p ${port}`, "start");
      return pg;
    } catch (e) {
      // Most likely the port was taken between choosing it and binding it: try another.
      lastError = e;
      const log = await readFile(join(base, "postgres.log"), "utf8").catch(() => "");
      lastError = new Error(`${String(e)}\n--- postgres.log ---\n${log.slice(-2000)}`);
    }
  }
  await rm(base, { recursive: true, force: true });
  throw new Error(`The private PostgreSQL did not start: ${String(lastError)}`);
}

/** The private Postgres the fault tier's global setup started, described by the environment. */
export function privatePostgresFromEnv(): PrivatePostgres {
  const dataDir = process.env[PrivateServicesEnv.pgDataDir];
  const binDir = process.env[PrivateServicesEnv.pgBinDir];
  const port = Number(process.env[PrivateServicesEnv.pgPort]);
  if (!dataDir || !binDir || !port) {
    throw new Error(
      "No private PostgreSQL: fault tests restart their database, so they run only in the fault tier " +
        "(`npx vitest run --project faults`), whose global setup starts one (test/helpers/privateServices.setup.ts).",
    );
  }
  return { dataDir, binDir, port, adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres` };
}

export async function stopPostgres(pg: PrivatePostgres, mode: "fast" | "immediate" = "fast"): Promise<void> {
  await pgCtl(pg, "-w", "-t", "60", "-m", mode, "stop");
}

export async function startPostgres(pg: PrivatePostgres): Promise<void> {
  const log = join(pg.dataDir, "..", "postgres.log");
  await pgCtl(pg, "-w", "-t", "60", "-l", log, "-o", `-p ${pg.port}`, "start");
}

/** Stops the cluster, keeps it down for `downMs`, starts it again; resolves when it accepts connections. */
export async function restartPostgres(pg: PrivatePostgres, downMs = 2500): Promise<void> {
  await stopPostgres(pg);
  await sleep(downMs);
  await startPostgres(pg);
}

export async function destroyPrivatePostgres(pg: PrivatePostgres): Promise<void> {
  await stopPostgres(pg, "immediate").catch(() => undefined);
  await rm(join(pg.dataDir, ".."), { recursive: true, force: true });
}

// --- RabbitMQ ----------------------------------------------------------------------------------------------

/** The directory of RabbitMQ's own scripts (not Debian's /usr/sbin wrappers, which switch to the rabbitmq user). */
export function findRabbitBinDir(
  candidates = [process.env.TEST_RABBITMQ_BINDIR, "/usr/lib/rabbitmq/bin"].filter(Boolean) as string[],
): string {
  for (const d of candidates) if (existsSync(join(d, "rabbitmq-server"))) return d;
  throw new Error(
    "The fault tier needs a private RabbitMQ node but rabbitmq-server was not found (looked in " +
      `${candidates.join(", ")}). Install Debian's rabbitmq-server package or set TEST_RABBITMQ_BINDIR.`,
  );
}

export interface PrivateRabbit {
  node: string;
  home: string;
  binDir: string;
  port: number;
  url: string;
}

function rabbitEnv(
  r: Pick<PrivateRabbit, "home" | "node">,
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    LANG: "C.UTF-8",
    LC_ALL: "C.UTF-8",
    // HOME holds this node's own Erlang cookie; rabbitmqctl with the same HOME can talk to it.
    HOME: r.home,
    // Our own (empty) env file instead of /etc/rabbitmq/rabbitmq-env.conf, which names the machine's node.
    RABBITMQ_CONF_ENV_FILE: join(r.home, "rabbitmq-env.conf"),
    RABBITMQ_NODENAME: r.node,
    ...extra,
  };
}

/** rabbitmqctl against the private node. */
export function privateRabbitmqctl(r: PrivateRabbit, ...args: string[]): Promise<string> {
  return run(join(r.binDir, "rabbitmqctl"), ["-n", r.node, ...args], {
    env: rabbitEnv(r),
    timeoutMs: 120_000,
    cwd: r.home,
  });
}

export async function startPrivateRabbit(): Promise<{ rabbit: PrivateRabbit; process: ChildProcess }> {
  const binDir = findRabbitBinDir();
  const home = await mkdtemp(join(tmpdir(), "sx-private-rabbit-"));
  await writeOwner(home);
  await writeFile(join(home, "rabbitmq-env.conf"), "");
  await writeFile(join(home, "enabled_plugins"), "[].\n");
  await mkdir(join(home, "mnesia"));
  await mkdir(join(home, "log"));
  let lastError = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const distPort = await freePort();
    const node = `sxfaults${process.pid}a${attempt}@localhost`;
    const rabbit: PrivateRabbit = { node, home, binDir, port, url: `amqp://guest:guest@127.0.0.1:${port}` };
    await writeFile(
      join(home, "rabbitmq.conf"),
      `listeners.tcp.local = 127.0.0.1:${port}\nloopback_users = none\n`,
    );
    const out: string[] = [];
    const child = spawn(join(binDir, "rabbitmq-server"), [], {
      cwd: home,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: rabbitEnv(rabbit, {
        RABBITMQ_NODE_PORT: String(port),
        RABBITMQ_DIST_PORT: String(distPort),
        RABBITMQ_CONFIG_FILE: join(home, "rabbitmq.conf"),
        RABBITMQ_ENABLED_PLUGINS_FILE: join(home, "enabled_plugins"),
        RABBITMQ_MNESIA_BASE: join(home, "mnesia"),
        RABBITMQ_LOG_BASE: join(home, "log"),
        ERL_EPMD_ADDRESS: "127.0.0.1",
      }),
    });
    child.stdout?.on("data", (d) => out.push(String(d)));
    child.stderr?.on("data", (d) => out.push(String(d)));
    let exited = false;
    child.once("exit", () => {
      exited = true;
    });
    try {
      await until(async () => exited || (await portOpen(port)), 90_000, `private RabbitMQ on port ${port}`);
      if (exited) throw new Error("rabbitmq-server exited during start-up");
      await privateRabbitmqctl(rabbit, "await_startup");
      child.stdout?.removeAllListeners("data");
      child.stderr?.removeAllListeners("data");
      child.stdout?.resume();
      child.stderr?.resume();
      child.unref();
      return { rabbit, process: child };
    } catch (e) {
      lastError = `${String(e)}\n--- rabbitmq-server output ---\n${out.join("").slice(-2000)}`;
      try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {}
    }
  }
  await rm(home, { recursive: true, force: true });
  throw new Error(`The private RabbitMQ node did not start: ${lastError}`);
}

export function privateRabbitFromEnv(): PrivateRabbit {
  const node = process.env[PrivateServicesEnv.rabbitNode];
  const home = process.env[PrivateServicesEnv.rabbitHome];
  const binDir = process.env[PrivateServicesEnv.rabbitBinDir];
  const port = Number(process.env[PrivateServicesEnv.rabbitPort]);
  if (!node || !home || !binDir || !port) {
    throw new Error(
      "No private RabbitMQ: fault tests restart their broker, so they run only in the fault tier " +
        "(`npx vitest run --project faults`), whose global setup starts one (test/helpers/privateServices.setup.ts).",
    );
  }
  return { node, home, binDir, port, url: `amqp://guest:guest@127.0.0.1:${port}` };
}

export async function destroyPrivateRabbit(r: PrivateRabbit, child?: ChildProcess): Promise<void> {
  await privateRabbitmqctl(r, "stop").catch(() => undefined);
  if (child?.pid) {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {}
  }
  await rm(r.home, { recursive: true, force: true });
}

/**
 * Marks a private service's directory as this process's. Written under another name and renamed, so that a
 * run starting at the same moment (the two fault tiers start together) never reads it half-written, which
 * read as "no owner" and had that run remove the directory while this one was still filling it.
 */
async function writeOwner(dir: string): Promise<void> {
  await writeFile(join(dir, "owner.pid.new"), String(process.pid));
  await rename(join(dir, "owner.pid.new"), join(dir, "owner.pid"));
}

/**
 * Removes what an earlier run that was killed left behind: temp directories whose owner process is gone,
 * with their Postgres cluster stopped and their RabbitMQ node halted.
 */
export async function reapOrphans(): Promise<void> {
  const dirs = readdirSync(tmpdir()).filter((d) => /^sx-private-(pg|rabbit)-/.test(d));
  for (const d of dirs) {
    const path = join(tmpdir(), d);
    let owner = 0;
    try {
      owner = Number(readFileSync(join(path, "owner.pid"), "utf8"));
    } catch {
      continue; // being made by another run right now (or not ours)
    }
    if (!Number.isInteger(owner) || owner <= 0) continue; // not a file this code wrote
    if (processAlive(owner)) continue;
    if (d.startsWith("sx-private-pg-")) {
      const binDir = (() => {
        try {
          return findPostgresBinDir();
        } catch {
          return null;
        }
      })();
      if (binDir && existsSync(join(path, "data", "postmaster.pid"))) {
        await pgCtl({ binDir, dataDir: join(path, "data"), port: 0 }, "-m", "immediate", "stop").catch(
          () => {},
        );
      }
    } else {
      // Every node of ours ran with HOME=<dir>; find its beam process by that and end it.
      await exec("pkill", ["-KILL", "-f", "--", `-home ${path}`]).catch(() => {});
    }
    await rm(path, { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** start_app on the private node (after a test's stop_app), waiting until it has booted. */
export async function startPrivateRabbitApp(r: PrivateRabbit): Promise<void> {
  await privateRabbitmqctl(r, "start_app");
  await privateRabbitmqctl(r, "await_startup");
}
