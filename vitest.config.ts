import { defineConfig } from "vitest/config";
import LongestFirst from "./test/helpers/sequencer.js";

// Three tiers (vitest projects), which `npm test` (scripts/test.ts) runs at the same time:
// - "main" runs files in parallel on the machine's Postgres and RabbitMQ (each file clones its own database and
//   uses its own queues), the longest first (test/helpers/sequencer.ts);
// - "faults" and "faults-rabbitmq" restart Postgres and RabbitMQ on purpose, so each starts its own private
//   instances of both (test/helpers/privateServices.setup.ts) and runs its files one at a time. The fault
//   files are split in two because they mostly wait (for a restart, a reconnect, a two-minute soak): the
//   RabbitMQ restarts in one, everything else (Postgres restarts, replicas, soak) in the other.
//
// Main-tier files mostly wait too (for Postgres, RabbitMQ, a spawned App, Chromium), so it runs more files at
// once than there are cores: vitest's default (cores - 1) is one file at a time on a 2-core machine.
// SX_TEST_WORKERS overrides it.
const mainWorkers = Number(process.env.SX_TEST_WORKERS) || 3;
const RABBITMQ_RESTARTS = ["test/faults/broker.restart.test.ts", "test/faults/fanout.restart.test.ts"];
const privateServices = ["test/helpers/privateServices.setup.ts", "test/helpers/globalSetup.ts"];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // SX_TEST_CPU_LOG=<file>: CPU seconds per test file (test/helpers/cpuUsage.setup.ts).
    setupFiles: ["test/helpers/cpuUsage.setup.ts"],
    // Longest file first within each tier (a sequencer is set for the whole run, not per project).
    sequence: { sequencer: LongestFirst },
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
          exclude: RABBITMQ_RESTARTS,
          fileParallelism: false,
          globalSetup: privateServices,
        },
      },
      {
        extends: true,
        test: {
          name: "faults-rabbitmq",
          include: RABBITMQ_RESTARTS,
          fileParallelism: false,
          globalSetup: privateServices,
        },
      },
    ],
  },
});
