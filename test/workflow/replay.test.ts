// Determinism: recorded histories of real releases must replay against today's
// workflow code. A change that would break running releases fails here.
// Record a new one with `BLUEGREEN_RECORD_FIXTURES=1 npx vitest run test/workflow/release.test.ts -t "<test>"`
// (only that test's: re-recording an old one would replace the old code's history with today's).
import { readdirSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { workflowsPath } from '../../src/worker.js';

const dir = new URL('../fixtures/', import.meta.url);
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

// Bundled once for every history (a bundle per history took about 2 s of CPU each).
let bundle: WorkflowBundleWithSourceMap;
beforeAll(async () => {
  try { Runtime.install({ logger: new DefaultLogger('ERROR') }); } catch { /* installed by an earlier file */ }
  bundle = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
});

describe('recorded release histories replay', () => {
  it('has the histories it promises, of this version and of 0.1', () => {
    expect(fixtures).toEqual(expect.arrayContaining(['happy.json', 'abort-in-monitoring.json', 'rollout-failed.json', 'approved-at-both-gates.json', 'full-size-before-switch.json', 'stepped.json', 'stepped-step-failed.json', 'drained.json', 'rollback-drains-candidate.json', 'notified.json', 'v0.1-happy.json', 'v0.1-approved-at-gate.json']));
  });

  it.each(fixtures)('%s', async (file) => {
    const history = historyFromJSON(JSON.parse(readFileSync(new URL(file, dir), 'utf8')));
    await Worker.runReplayHistory({ workflowBundle: bundle }, history, `replay-${file}`);
  });
});
