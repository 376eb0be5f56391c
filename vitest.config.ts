import { defineConfig } from 'vitest/config';

// The native Temporal bridge crashes under worker threads.
const common = { pool: 'forks' as const, testTimeout: 120_000, hookTimeout: 180_000 };

/**
 * Files that need the whole machine: traffic through the real node, counted to
 * the request, where a busy CPU slows the node's proxies and probes. They run
 * one at a time, after the rest.
 */
const alone = ['test/e2e/traffic.test.ts'];

export default defineConfig({
  test: {
    // One cluster, real node and Temporal server for every file (each file works
    // in namespaces and task queues of its own).
    globalSetup: ['test/setup/global.ts'],
    projects: [
      {
        // Most of a file's time is waiting (monitor windows, delays, restarts), so
        // three files share the two cores.
        test: { ...common, name: 'shared', include: ['test/**/*.test.ts'], exclude: alone, maxWorkers: 3, sequence: { groupOrder: 0 } },
      },
      { test: { ...common, name: 'alone', include: alone, maxWorkers: 1, sequence: { groupOrder: 1 } } },
    ],
  },
});
