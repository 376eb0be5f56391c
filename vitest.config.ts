import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The native Temporal bridge crashes under worker threads.
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
