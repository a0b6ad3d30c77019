// Boots the real App (compose + startDeps + buildHandler) on a real port, against the real Postgres/RabbitMQ or the
// embedded PGlite + in-process broker. The transformer launcher is a recording fake (Kubernetes cannot
// run here; the core service only needs to know start/shutdown were called).
import { randomBytes } from "node:crypto";
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { buildHandler } from "../../src/app.js";
import { compose, shutdownDeps, startDeps } from "../../src/compose.js";
import { loadConfig } from "../../src/config.js";
import type { LaunchSpec, TransformerLauncher } from "../../src/domain/ports.js";
import type { AppDeps } from "../../src/http/deps.js";
import { type TestDatabase, createTestDatabase } from "./pg.js";

export { eventually } from "./wait.js";

export const RABBIT_URL = process.env.TEST_RABBIT_URL ?? "amqp://guest:guest@127.0.0.1:5672";

export class RecordingLauncher implements TransformerLauncher {
  readonly kind = "recording";
  readonly started: LaunchSpec[] = [];
  readonly shutdowns: string[] = [];
  async start(spec: LaunchSpec): Promise<void> {
    this.started.push(spec);
  }
  async shutdown(requestId: string): Promise<void> {
    this.shutdowns.push(requestId);
  }
  shutdownCount(requestId: string): number {
    return this.shutdowns.filter((r) => r === requestId).length;
  }
}

export interface TestApp {
  deps: AppDeps;
  url: string;
  port: number;
  launcher: RecordingLauncher;
  /** A DID scheme unique to this app, so parallel test files never share a did_finder queue. */
  scheme: string;
  db?: TestDatabase;
  close(): Promise<void>;
}

export interface TestAppOptions {
  backend?: "postgres" | "pglite";
  broker?: "amqp" | "memory";
  env?: Record<string, string>;
  /** "config": the launcher the configuration selects (e.g. local transformers) instead of the recording fake. */
  launcher?: "recording" | "config";
  /** An object store to use (e.g. MemoryObjectStore); default none. */
  objectStore?: import("../../src/adapters/objectStore/objectStore.js").ObjectStore;
  /** Reuse an existing database (e.g. a second replica). */
  databaseUrl?: string;
}

export async function startTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const backend = opts.backend ?? "postgres";
  const db = backend === "postgres" && !opts.databaseUrl ? await createTestDatabase() : undefined;
  // The server listens first (port 0: the kernel picks a free port, no window for another process to take
  // it), so the App's callback URLs can name the port; the handler is attached once the App is built.
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  // The machine's did_finder_rucio (and other upstream scheme queues) may have consumers of other processes,
  // so a DID without a scheme goes to this app's own queue; `rucio://` stays valid for parsing tests that
  // use the in-process broker.
  const scheme = `t${randomBytes(4).toString("hex")}`;
  const env: Record<string, string> = {
    PORT: String(port),
    ADVERTISED_HOSTNAME: `127.0.0.1:${port}`,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    VALID_DID_SCHEMES: JSON.stringify(["rucio", scheme]),
    DID_FINDER_DEFAULT_SCHEME: scheme,
    DATA_DIR: "memory://",
    ...(backend === "postgres" ? { DATABASE_URL: opts.databaseUrl ?? db!.url } : {}),
    ...((opts.broker ?? "amqp") === "amqp" ? { RABBIT_MQ_URL: RABBIT_URL } : {}),
    ...opts.env,
  };
  const launcher = new RecordingLauncher();
  let deps: AppDeps | undefined;
  try {
    const config = loadConfig(env);
    const logger = pino({ level: config.LOG_LEVEL });
    deps = await compose(config, logger, {
      ...(opts.launcher === "config" ? {} : { launcher }),
      ...(opts.objectStore ? { objectStore: opts.objectStore } : {}),
    });
    await startDeps(deps);
  } catch (e) {
    if (deps) await shutdownDeps(deps).catch(() => {});
    await new Promise((r) => server.close(r));
    await db?.drop();
    throw e;
  }
  const started = deps;
  server.on("request", buildHandler(started));
  return {
    deps: started,
    url: `http://127.0.0.1:${port}`,
    port,
    launcher,
    scheme,
    db,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await shutdownDeps(started);
      await db?.drop();
    },
  };
}
