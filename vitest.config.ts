import { defineConfig } from 'vitest/config';

const realServers = ['./packages/testing/src/global-setup.ts'];

export default defineConfig({
  test: {
    reporters: ['default', './packages/testing/src/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['**/*.unit.test.ts'],
          exclude: ['**/node_modules/**', '.sagaflow/**'],
        },
      },
      {
        test: {
          name: 'int',
          include: ['**/*.int.test.ts'],
          exclude: ['**/node_modules/**', '.sagaflow/**'],
          globalSetup: realServers,
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['**/*.e2e.test.ts'],
          exclude: ['**/node_modules/**', '.sagaflow/**'],
          // Chromium and PostgreSQL from Debian's packages, installed when missing (as root).
          globalSetup: ['./packages/testing/src/machine-setup.ts', ...realServers],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
