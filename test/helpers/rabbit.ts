// Controls the machine's RabbitMQ for the fault tests: stop/start the app, and bring it back whatever
// state a test left it in.
import { execFile } from "node:child_process";
import { createConnection } from "node:net";
import { promisify } from "node:util";
import { connect } from "amqplib";
import { RABBIT_URL } from "./testApp.js";

const run = promisify(execFile);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** rabbitmqctl as root (it needs the node's Erlang cookie); through `sudo -n` for other users. */
export async function rabbitmqctl(...args: string[]): Promise<string> {
  const asRoot = process.getuid?.() === 0;
  const [cmd, argv] = asRoot ? ["rabbitmqctl", args] : ["sudo", ["-n", "rabbitmqctl", ...args]];
  const { stdout } = await run(cmd, argv, { timeout: 120_000 });
  return stdout;
}

export function portOpen(port = 5672): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export async function amqpUsable(): Promise<boolean> {
  try {
    const c = await connect(RABBIT_URL);
    c.on("error", () => {});
    await c.close();
    return true;
  } catch {
    return false;
  }
}

/** Makes sure RabbitMQ accepts AMQP connections again, whatever state the test left it in. */
export async function ensureRabbitRunning(): Promise<void> {
  if ((await portOpen()) && (await amqpUsable())) return;
  await rabbitmqctl("start_app").catch(() => "");
  for (let i = 0; i < 60 && !(await amqpUsable()); i++) await sleep(500);
  if (await amqpUsable()) return;
  // The node itself is down: start it the way the machine does.
  const asRoot = process.getuid?.() === 0;
  await run(
    asRoot ? "rabbitmq-server" : "sudo",
    asRoot ? ["-detached"] : ["-n", "rabbitmq-server", "-detached"],
    {
      timeout: 60_000,
    },
  ).catch(() => undefined);
  await rabbitmqctl("await_startup").catch(() => "");
  for (let i = 0; i < 120 && !(await amqpUsable()); i++) await sleep(500);
  if (!(await portOpen()) || !(await amqpUsable())) throw new Error("RabbitMQ could not be restarted");
}
