import { defineConfig } from 'vitest/config';

const realServers = ['./packages/testing/src/global-setup.ts'];
const exclude = ['**/node_modules/**', '.sagaflow/**'];
/** Every tier: a test file that leaves a process it started running fails, naming it. */
const setupFiles = ['./packages/testing/src/no-leftover-processes.ts'];

/*
 * The unit and integration tiers run first, side by side: integration tests mostly wait on the
 * servers (group joins, commits), so three files at a time keep two cores busy. The end-to-end
 * tier runs after them, two files at a time: each one runs several service processes (or servers
 * of its own). The chaos test runs last and alone: it restarts servers of its own under 500
 * orders and is the one test whose point is the load it makes.
 */
const chaos = ['test/chaos/**/*.e2e.test.ts'];
export default defineConfig({
  test: {
    reporters: ['default', './packages/testing/src/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['**/*.unit.test.ts'],
          exclude,
          setupFiles,
          maxWorkers: 3,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'int',
          include: ['**/*.int.test.ts'],
          exclude,
          setupFiles,
          globalSetup: realServers,
          testTimeout: 60_000,
          hookTimeout: 120_000,
          maxWorkers: 3,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['**/*.e2e.test.ts'],
          exclude: [...exclude, ...chaos],
          setupFiles,
          // Chromium and PostgreSQL from Debian's packages, installed when missing (as root).
          globalSetup: ['./packages/testing/src/machine-setup.ts', ...realServers],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          maxWorkers: 2,
          // The kill points of the orchestrator crash test, three at a time.
          maxConcurrency: 3,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: 'e2e-chaos',
          include: chaos,
          exclude,
          setupFiles,
          testTimeout: 120_000,
          hookTimeout: 300_000,
          maxWorkers: 1,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
