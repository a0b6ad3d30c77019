// Controls the fault tier's private RabbitMQ node (started by privateServices.setup.ts): stop/start its app,
// and bring it back whatever state a test left it in. The machine's own RabbitMQ is never touched.
import { connect } from "amqplib";
import {
  portOpen as tcpPortOpen,
  privateRabbitFromEnv,
  privateRabbitmqctl,
  startPrivateRabbitApp,
} from "./privateServices.js";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A control command to the private node (its own rabbitmqctl invocation), e.g. `privateNodeCtl("stop_app")`. */
export function privateNodeCtl(...args: string[]): Promise<string> {
  return privateRabbitmqctl(privateRabbitFromEnv(), ...args);
}

/** Whether the private node's AMQP port accepts TCP connections. */
export function portOpen(): Promise<boolean> {
  return tcpPortOpen(privateRabbitFromEnv().port);
}

export async function amqpUsable(): Promise<boolean> {
  try {
    const c = await connect(privateRabbitFromEnv().url);
    c.on("error", () => {});
    await c.close();
    return true;
  } catch {
    return false;
  }
}

/** Makes sure the private node accepts AMQP connections again, whatever state the test left it in. */
export async function ensureRabbitRunning(): Promise<void> {
  if ((await portOpen()) && (await amqpUsable())) return;
  await startPrivateRabbitApp(privateRabbitFromEnv());
  for (let i = 0; i < 120 && !(await amqpUsable()); i++) await sleep(250);
  if (!(await amqpUsable())) throw new Error("the private RabbitMQ node does not accept connections again");
}
