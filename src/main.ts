// Process entry: configuration, dependencies, HTTP server, graceful shutdown.
import { createServer } from "node:http";
import { buildHandler } from "./app.js";
import { compose, shutdownDeps } from "./compose.js";
import { ConfigError, loadConfig } from "./config.js";
import { createLogger } from "./logger.js";

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const logger = createLogger(config.LOG_LEVEL, { instance: config.INSTANCE_NAME });
  process.on("unhandledRejection", (err) => logger.error({ err }, "unhandled rejection"));
  process.on("uncaughtException", (err) => {
    logger.fatal({ err }, "uncaught exception");
    process.exit(1);
  });

  const deps = await compose(config, logger);
  const state = { draining: false };
  const app = buildHandler(deps, state);
  const server = createServer({ keepAliveTimeout: 65_000 }, app);
  server.listen(config.PORT, config.BIND_ADDRESS, () => {
    const addr = server.address();
    logger.info(
      {
        address: addr,
        database: deps.db.kind,
        broker: config.rabbitUrls.length > 0 ? "rabbitmq" : "in-process",
        launcher: deps.launcher.kind,
        codegens: Object.keys(config.codeGenImages),
      },
      `ServiceX App listening on http://${config.BIND_ADDRESS}:${config.PORT}`,
    );
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    state.draining = true;
    logger.info({ signal }, "shutting down: no new connections, finishing in-flight requests");
    const force = setTimeout(() => {
      logger.warn("grace period over, exiting");
      process.exit(1);
    }, config.SHUTDOWN_GRACE_MS);
    force.unref();
    // Stop accepting; answers now carry "Connection: close" (see buildHandler), so keep-alive clients let go
    // once their in-flight request is answered; idle sockets are closed as they appear.
    const closed = new Promise<void>((r) => server.close(() => r()));
    const reaper = setInterval(() => server.closeIdleConnections(), 50);
    await closed;
    clearInterval(reaper);
    await shutdownDeps(deps);
    logger.info("bye");
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((err) => {
  process.stderr.write(`fatal: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
