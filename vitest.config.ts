import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that wait longest, slowest first (docs/testing.md has the times):
 * started first, so the short ones fill the time beside them. vitest would order
 * by the last run's times, which a clean clone (CI) does not have.
 */
const slowest = ['traffic', 'release', 'crash', 'long-clients', 'faults', 'llm-server', 'person', 'model-checks'].map((name) => `test/e2e/${name}.test.ts`);

class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const at = slowest.findIndex((path) => f.moduleId.endsWith(path));
      return at === -1 ? slowest.length : at;
    };
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    // The native Temporal bridge crashes under worker threads.
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    // One cluster, real node, Temporal server and Prometheus for every file; each
    // file works in namespaces and task queues of its own.
    globalSetup: ['test/setup/global.ts'],
    // Most of a file's time is waiting (monitor windows, delays, restarts, pods
    // starting), so three files share the two cores.
    maxWorkers: 3,
    sequence: { sequencer: SlowestFirst },
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
