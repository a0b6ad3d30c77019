// Once per vitest run: migrate the template database every test file clones.
import { applyMigrations } from "../../src/adapters/db/migrate.js";
import { recreateTemplate } from "./pg.js";

export default async function setup(): Promise<void> {
  await recreateTemplate(async (url) => {
    await applyMigrations({ kind: "postgres", url });
  });
}
