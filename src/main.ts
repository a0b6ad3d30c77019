// Process entry: configuration, dependencies, HTTP server, graceful shutdown.
import { compose, shutdownDeps, startDeps } from "./compose.js";
import { DataDirLockedError } from "./adapters/db/dataDirLock.js";
import { ConfigError, loadProcessConfig } from "./config.js";
import { startListeners } from "./http/listeners.js";
import { createLogger } from "./logger.js";

async function main(): Promise<void> {
  let config: ReturnType<typeof loadProcessConfig>;
  try {
    config = loadProcessConfig();
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

  // A stop signal during start-up (migrations, broker connection): finish the step in progress — a migration
  // killed half-way stays recorded as failed — and exit before listening. As PID 1 in a container a signal
  // without a handler would be ignored, and `docker stop` would wait for its SIGKILL.
  let stopDuringStartup = null as NodeJS.Signals | null;
  const early = (signal: NodeJS.Signals) => {
    stopDuringStartup ??= signal;
    logger.info({ signal }, "stop requested during start-up: exiting once the current step is done");
    setTimeout(() => process.exit(1), config.SHUTDOWN_GRACE_MS).unref();
  };
  // One listener per signal for the whole run, pointed at the handler of the current phase: removing a
  // signal's last listener stops Node's watcher for it, and a signal that arrived while start-up kept the
  // event loop busy (the embedded database's migrations hardly yield) was lost with it, the App then
  // listening as if nothing had been asked.
  let onStopSignal: (signal: NodeJS.Signals) => void = early;
  process.on("SIGTERM", (signal) => onStopSignal(signal));
  process.on("SIGINT", (signal) => onStopSignal(signal));
  const deps = await compose(config, logger);
  const stopIfAsked = async () => {
    // A signal is handled at the event loop's next poll: let one that arrived during the step in.
    await new Promise((r) => setImmediate(r));
    if (!stopDuringStartup) return;
    await shutdownDeps(deps);
    logger.info("bye");
    process.exit(0);
  };
  await stopIfAsked();
  try {
    await startDeps(deps);
  } catch (err) {
    await shutdownDeps(deps).catch(() => {});
    throw err;
  }
  await stopIfAsked();
  const state = { draining: false };
  const server = await startListeners(deps, state, config);
  logger.info(
    {
      address: server.public.address(),
      ...(server.internal ? { internalAddress: server.internal.address() } : {}),
      callbackHost: config.internalAdvertisedHostname,
      database: deps.db.kind,
      broker: config.rabbitUrls.length > 0 ? "rabbitmq" : "in-process",
      launcher: deps.launcher.kind,
      codegens: Object.keys(config.codeGenImages),
    },
    `ServiceX App listening on http://${config.BIND_ADDRESS}:${server.publicPort}` +
      (server.internalPort !== null
        ? ` (internal routes on http://${config.BIND_ADDRESS}:${server.internalPort})`
        : ""),
  );

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
    const closed = server.close();
    const reaper = setInterval(() => server.closeIdleConnections(), 50);
    await closed;
    clearInterval(reaper);
    await shutdownDeps(deps);
    logger.info("bye");
    process.exit(0);
  };
  onStopSignal = (signal) => void stop(signal);
  if (stopDuringStartup) void stop(stopDuringStartup);
}

main().catch((err) => {
  // Another process holds the embedded database: one line that names it, no stack.
  if (err instanceof DataDirLockedError) process.stderr.write(`${err.message}\n`);
  else process.stderr.write(`fatal: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
