// moto's S3 server (python3 -m moto.server) on a free port: a real S3-protocol server for the object-store
// tests. Not skipped when moto is missing: start() fails with instructions.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";

export interface MotoServer {
  /** host:port, as MINIO_URL takes it */
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function startMoto(): Promise<MotoServer> {
  const port = await freePort();
  let output = "";
  let exited: string | undefined;
  const child: ChildProcess = spawn("python3", ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  child.on("error", (err) => {
    exited = `could not run python3: ${err.message}`;
  });
  child.on("exit", (code, signal) => {
    exited ??= `exited with code ${code} signal ${signal}`;
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (exited !== undefined) {
      throw new Error(
        `moto S3 server did not start (${exited}). This test needs moto's server: ` +
          `pip install 'moto[server]' (python3 -m moto.server). Output:\n${output}`,
      );
    }
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`);
      await res.arrayBuffer();
      return { endpoint: `127.0.0.1:${port}`, port, stop };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await stop();
  throw new Error(`moto S3 server did not answer on port ${port} within 20 s. Output:\n${output}`);
}
