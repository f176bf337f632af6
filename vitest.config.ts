import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['machines/test/**/*.test.ts', 'platform/test/**/*.test.ts', 'api/test/**/*.test.ts', 'cli/test/**/*.unit.test.ts', 'services/*/test/**/*.unit.test.ts', 'catalog/test/**/*.unit.test.ts', 'db/test/**/*.unit.test.ts', 'events/test/**/*.unit.test.ts', 'test/deploy/**/*.unit.test.ts', 'test/*.unit.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['db/test/**/*.test.ts', 'catalog/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'cli/test/**/*.test.ts', 'events/test/**/*.test.ts', 'test/deploy/**/*.test.ts'],
          exclude: ['**/*.unit.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          // Scheduler tests measure behaviour under real time; running files one at a time on a
          // 2-core machine keeps one suite's load from starving another's leases.
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
