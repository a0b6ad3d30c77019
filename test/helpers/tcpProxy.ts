// A TCP proxy in front of a real service (Postgres, RabbitMQ) that a test can take down and bring back, to
// make the service unreachable for one App without stopping it for every other test running in parallel.
import { type Server, type Socket, connect, createServer } from "node:net";

export interface TcpProxy {
  port: number;
  /** Starts listening (again). */
  up(): Promise<void>;
  /** Stops listening and cuts every open connection. */
  down(): Promise<void>;
}

export async function freeTcpPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

export async function tcpProxy(target: { host: string; port: number }, port?: number): Promise<TcpProxy> {
  const p = port ?? (await freeTcpPort());
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  return {
    port: p,
    async up() {
      if (server) return;
      server = createServer((client) => {
        const upstream = connect(target.port, target.host);
        sockets.add(client).add(upstream);
        client.pipe(upstream).pipe(client);
        const end = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on("error", end).on("close", end);
        upstream.on("error", end).on("close", end);
      });
      await new Promise<void>((r) => server!.listen(p, "127.0.0.1", r));
    },
    async down() {
      const s = server;
      server = null;
      for (const sock of sockets) sock.destroy();
      sockets.clear();
      if (s) await new Promise((r) => s.close(r));
    },
  };
}
