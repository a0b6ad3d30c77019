import { defineConfig } from "vitest/config";

// Two projects: "main" runs files in parallel (each test creates its own rows, databases per worker);
// "faults" restarts RabbitMQ/Postgres on purpose, so its files run one at a time after "main".
export default defineConfig({
  test: {
    testTimeout: 60_000,
    globalSetup: ["test/helpers/globalSetup.ts"],
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: { name: "main", include: ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts"] },
      },
      {
        extends: true,
        test: { name: "faults", include: ["test/faults/**/*.test.ts"], fileParallelism: false },
      },
    ],
  },
});
