import { defineConfig } from "vitest/config";

// Two tiers: "main" runs files in parallel on the machine's Postgres and RabbitMQ (each file clones its own
// database and uses its own queues); "faults" restarts Postgres and RabbitMQ on purpose, so it starts private
// instances of both (test/helpers/privateServices.setup.ts) and runs its files one at a time.
// `npm test` runs both tiers (scripts/test.ts).
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: {
          name: "main",
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
