// Global setup of the fault tier: starts a private PostgreSQL and a private RabbitMQ node (both at once, a
// few seconds), points the tier's workers at them (TEST_PG_ADMIN_URL, TEST_RABBIT_URL) and stops and removes
// them at the end. Runs before test/helpers/globalSetup.ts, which then makes the template database there.
import {
  PrivateServicesEnv as E,
  destroyPrivatePostgres,
  destroyPrivateRabbit,
  reapOrphans,
  startPrivatePostgres,
  startPrivateRabbit,
} from "./privateServices.js";

export default async function setup(): Promise<() => Promise<void>> {
  await reapOrphans();
  const t0 = Date.now();
  const [pg, rmq] = await Promise.allSettled([startPrivatePostgres(), startPrivateRabbit()]);
  if (pg.status === "rejected" || rmq.status === "rejected") {
    if (pg.status === "fulfilled") await destroyPrivatePostgres(pg.value);
    if (rmq.status === "fulfilled") await destroyPrivateRabbit(rmq.value.rabbit, rmq.value.process);
    const reasons = [pg, rmq].filter((r) => r.status === "rejected").map((r) => String(r.reason));
    throw new Error(`The fault tier could not start its private services:\n${reasons.join("\n")}`);
  }
  const postgres = pg.value;
  const { rabbit, process: rabbitProcess } = rmq.value;
  Object.assign(process.env, {
    [E.pgAdminUrl]: postgres.adminUrl,
    [E.pgDataDir]: postgres.dataDir,
    [E.pgBinDir]: postgres.binDir,
    [E.pgPort]: String(postgres.port),
    [E.rabbitUrl]: rabbit.url,
    [E.rabbitNode]: rabbit.node,
    [E.rabbitHome]: rabbit.home,
    [E.rabbitBinDir]: rabbit.binDir,
    [E.rabbitPort]: String(rabbit.port),
  });
  console.log(
    `fault tier: private PostgreSQL on 127.0.0.1:${postgres.port}, private RabbitMQ ${rabbit.node} on ` +
      `127.0.0.1:${rabbit.port} (started in ${Date.now() - t0} ms)`,
  );
  return async () => {
    await Promise.allSettled([destroyPrivatePostgres(postgres), destroyPrivateRabbit(rabbit, rabbitProcess)]);
  };
}
