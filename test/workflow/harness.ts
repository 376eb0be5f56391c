// One time-skipping Temporal test server per test file, the workflow bundle built
// once, and a helper that runs a release against an activity double.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Runtime, DefaultLogger, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { writeFileSync } from 'node:fs';
import { releaseResult, startRelease } from '../../src/client/releases.js';
import { validateSpec } from '../../src/release/validate.js';
import type { ReleaseSpec, ReleaseSpecInput } from '../../src/release/spec.js';
import { searchAttributes } from '../../src/release/ids.js';
import { statusQuery } from '../../src/release/messages.js';
import { type Phase, type ReleaseStatus } from '../../src/release/status.js';
import { workflowsPath } from '../../src/worker.js';
import { temporalTestServer } from '../helpers/binaries.js';
import type { FakeCluster } from './fake-cluster.js';

export interface Harness {
  env: TestWorkflowEnvironment;
  bundle: WorkflowBundleWithSourceMap;
}

let quietRuntime = false;

/**
 * A time-skipping server of its own. Releases no worker runs need one: the
 * server holds the queries they are sent, and that stops time skipping for
 * every later release on it.
 */
export async function startEnv(): Promise<TestWorkflowEnvironment> {
  const executable = temporalTestServer();
  const env = await TestWorkflowEnvironment.createTimeSkipping(executable ? { server: { executable } } : {});
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(Object.values(searchAttributes).map((k) => [k.name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
  });
  return env;
}

export async function startHarness(): Promise<Harness> {
  if (!quietRuntime) {
    Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } } });
    quietRuntime = true;
  }
  const env = await startEnv();
  const bundle = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
  return { env, bundle };
}

let counter = 0;
export const TASK_QUEUE = 'bluegreen-test';

export function testSpec(overrides: Partial<ReleaseSpecInput> = {}): ReleaseSpec {
  counter += 1;
  return validateSpec({
    model: `model-${counter}`,
    namespace: 'ml',
    version: 'v2',
    image: 'registry.example.com/ml/model:v2',
    replicas: 2,
    monitor: { window: '10m', interval: '1m' },
    scaleDownDelay: '2m',
    ...overrides,
  });
}

export interface RunContext {
  handle: WorkflowHandle;
  status: () => Promise<ReleaseStatus>;
  /** waits (in real time, no skipping) until the release reaches a phase */
  reach: (phase: Phase, extra?: (s: ReleaseStatus) => boolean) => Promise<ReleaseStatus>;
}

/** Runs a release with `fake` as its activities; `during` steers it while it runs. */
export async function runRelease(
  h: Harness, fake: FakeCluster, spec: ReleaseSpec, during?: (ctx: RunContext) => Promise<void>, fixture?: string, startedBy?: string,
): Promise<{ status: ReleaseStatus; handle: WorkflowHandle }> {
  // The time-skipping server leaks a time-skipping lock when an activity ends
  // cancelled, which stops skipping for later tests: such releases get a server of their own.
  const env = fake.blocks ? await startEnv() : h.env;
  try {
    return await runOn(env, h.bundle, fake, spec, during, fixture, startedBy);
  } finally {
    if (env !== h.env) await env.teardown();
  }
}

async function runOn(
  env: TestWorkflowEnvironment, bundle: WorkflowBundleWithSourceMap, fake: FakeCluster, spec: ReleaseSpec, during?: (ctx: RunContext) => Promise<void>, fixture?: string, startedBy?: string,
): Promise<{ status: ReleaseStatus; handle: WorkflowHandle }> {
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: TASK_QUEUE,
    workflowBundle: bundle,
    activities: fake.activities,
    // Cancellation reaches an activity with a heartbeat answer: keep them frequent.
    maxHeartbeatThrottleInterval: '100ms',
    defaultHeartbeatThrottleInterval: '100ms',
  });
  return worker.runUntil(async () => {
    const handle = await startRelease(env.client, spec, TASK_QUEUE, startedBy);
    const status = () => handle.query(statusQuery);
    const reach: RunContext['reach'] = async (phase, extra) => {
      for (let i = 0; i < 400; i += 1) {
        const s = await status();
        if (s.phase === phase && (extra?.(s) ?? true)) return s;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`release never reached ${phase}; it is ${(await status()).phase}`);
    };
    if (during !== undefined) await during({ handle, status, reach });
    // A Failed release fails its execution too (its result in the failure's details).
    await releaseResult(handle);
    if (fixture !== undefined && process.env.BLUEGREEN_RECORD_FIXTURES) {
      // Stack traces name this checkout's folder: keep fixtures free of it.
      const json = historyToJSON(await handle.fetchHistory()).replaceAll(`${process.cwd()}/`, '');
      writeFileSync(new URL(`../fixtures/${fixture}.json`, import.meta.url), json);
    }
    return { status: await status(), handle };
  });
}

export const phasesOf = (s: ReleaseStatus): Phase[] => s.timeline.filter((e) => e.event === 'phase').map((e) => e.phase);
