// Once per vitest run: migrate a template database that every test file clones. The name is unique per
// run (concurrent runs on one machine must not drop each other's template); workers inherit it via env.
import { randomBytes } from "node:crypto";
import { applyMigrations } from "../../src/adapters/db/migrate.js";
import { dropDatabase, recreateTemplate } from "./pg.js";

export default async function setup(): Promise<() => Promise<void>> {
  const name = `sx_tpl_${randomBytes(4).toString("hex")}`;
  process.env.SX_TEMPLATE_DB = name;
  await recreateTemplate(name, async (url) => {
    await applyMigrations({ kind: "postgres", url });
  });
  return async () => {
    await dropDatabase(name);
  };
}
