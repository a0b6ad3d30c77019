import { defineConfig } from "vitest/config";

// Two tiers: "main" runs files in parallel on the machine's Postgres and RabbitMQ (each file clones its own
// database and uses its own queues); "faults" restarts Postgres and RabbitMQ on purpose, so it starts private
// instances of both (test/helpers/privateServices.setup.ts) and runs its files one at a time.
// `npm test` runs both tiers (scripts/test.ts), at the same time.
//
// Main-tier files mostly wait (for Postgres, RabbitMQ, a spawned App, Chromium), so it runs more files at once
// than there are cores: vitest's default (cores - 1) is one file at a time on a 2-core machine.
// SX_TEST_WORKERS overrides it.
const mainWorkers = Number(process.env.SX_TEST_WORKERS) || 3;

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: {
          name: "main",
          maxWorkers: mainWorkers,
          include: ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts"],
          globalSetup: ["test/helpers/globalSetup.ts"],
        },
      },
      {
        extends: true,
        test: {
          name: "faults",
          include: ["test/faults/**/*.test.ts"],
          fileParallelism: false,
          globalSetup: ["test/helpers/privateServices.setup.ts", "test/helpers/globalSetup.ts"],
        },
      },
    ],
  },
});
