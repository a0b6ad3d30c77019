// The HTTP listeners: the public port (PORT) and, with INTERNAL_PORT, a second one for the DID-finder,
// sidecar and lifecycle routes, so the ingress that exposes the public port never routes those (app.ts,
// "Listener"). Used by main.ts and by the tests.
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type AppState, buildHandler } from "../app.js";
import type { Config } from "../config.js";
import type { AppDeps } from "./deps.js";

export interface Listeners {
  public: Server;
  /** null: INTERNAL_PORT unset, the public port serves the internal routes too. */
  internal: Server | null;
  publicPort: number;
  internalPort: number | null;
  /** Stops accepting connections; resolves when every connection has ended. */
  close(): Promise<void>;
  closeIdleConnections(): void;
}

/**
 * What the start-up warning says when ENABLE_AUTH is on and the internal routes share the public port
 * (null when there is nothing to warn about).
 */
export function exposureWarning(config: Config): string | null {
  if (!config.ENABLE_AUTH || config.INTERNAL_PORT !== undefined) return null;
  return (
    `INTERNAL_PORT is unset: the DID-finder and transformer callbacks (/servicex/internal/transformation/*) ` +
    `are served without authentication on the public port ${config.PORT}; anyone who reaches it can add ` +
    "files to a lookup, fail or finish any user's request and post its results. The lifecycle routes there " +
    "need an admin token. Set INTERNAL_PORT and keep that port off the ingress."
  );
}

function listenOn(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export async function startListeners(
  deps: AppDeps,
  state: AppState,
  config: Config = deps.config,
): Promise<Listeners> {
  const split = config.INTERNAL_PORT !== undefined;
  const warning = exposureWarning(config);
  if (warning) deps.logger.warn({ exposed: "/servicex/internal/transformation/*" }, warning);
  const pub = createServer(
    { keepAliveTimeout: 65_000 },
    buildHandler(deps, state, split ? "public" : "combined"),
  );
  const internal = split
    ? createServer({ keepAliveTimeout: 65_000 }, buildHandler(deps, state, "internal"))
    : null;
  const publicPort = await listenOn(pub, config.PORT, config.BIND_ADDRESS);
  let internalPort: number | null = null;
  if (internal) {
    try {
      internalPort = await listenOn(internal, config.INTERNAL_PORT!, config.BIND_ADDRESS);
    } catch (err) {
      pub.close();
      throw err;
    }
  }
  const servers = internal ? [pub, internal] : [pub];
  return {
    public: pub,
    internal,
    publicPort,
    internalPort,
    close: () => Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => {}),
    closeIdleConnections: () => {
      for (const s of servers) s.closeIdleConnections();
    },
  };
}
