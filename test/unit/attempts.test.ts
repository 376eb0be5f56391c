// Real failures are counted apart from worker restarts: the count travels in the
// heartbeat details, and the limit ends a step whose attempts are unlimited.
import { describe, expect, it } from 'vitest';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { DefaultLogger } from '@temporalio/worker';
import type { Info } from '@temporalio/activity';
import { FAILURE_LIMIT, beat, countingFailures } from '../../src/activities/attempts.js';

const quiet = new DefaultLogger('ERROR');
const unlimited = { initialInterval: 1000, backoffCoefficient: 2, maximumAttempts: 0 } as Info['retryPolicy'];

/** Runs `fn` wrapped as the worker runs it, in an attempt that found `details`; returns the heartbeats and the error. */
async function attempt(fn: () => Promise<unknown>, details: unknown, retryPolicy = unlimited) {
  const env = new MockActivityEnvironment({ attempt: 3, heartbeatDetails: details, retryPolicy }, { logger: quiet });
  const beats: unknown[] = [];
  env.on('heartbeat', (d) => beats.push(d));
  const error = await env.run(countingFailures(fn)).then(() => undefined, (err: unknown) => err);
  return { beats, error };
}

const apiDown = async (): Promise<never> => {
  beat({ since: 1234, progress: { ready: 1, total: 2 } });
  throw new Error('read Deployment m-blue: HTTP 503');
};

describe('counting real failures apart from restarts', () => {
  it('a failure is counted in the heartbeat, keeping the progress, and retried', async () => {
    const { beats, error } = await attempt(apiDown, { since: 1234, failed: 2 });
    expect(beats.at(-1)).toEqual({ since: 1234, progress: { ready: 1, total: 2 }, failed: 3 });
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(ApplicationFailure);
  });

  it('an attempt after a restart (no failure) starts from the count it found', async () => {
    const { beats } = await attempt(apiDown, { since: 1234, failed: 0 });
    expect(beats).toEqual([{ since: 1234, progress: { ready: 1, total: 2 }, failed: 0 }, { since: 1234, progress: { ready: 1, total: 2 }, failed: 1 }]);
  });

  it(`the ${FAILURE_LIMIT}th failure ends the step, saying how many and keeping the type`, async () => {
    const typed = async (): Promise<never> => { throw ApplicationFailure.retryable('HTTP 503', 'KubeError'); };
    const { error } = await attempt(typed, { failed: FAILURE_LIMIT - 1 });
    expect(error).toBeInstanceOf(ApplicationFailure);
    const failure = error as ApplicationFailure;
    expect(failure.nonRetryable).toBe(true);
    expect(failure.type).toBe('KubeError');
    expect(failure.message).toBe(`HTTP 503 (failed ${FAILURE_LIMIT} times; worker restarts not counted)`);
  });

  it('a step with an attempt limit is left to Temporal: nothing counted', async () => {
    const { beats, error } = await attempt(apiDown, undefined, { ...unlimited, maximumAttempts: 8 } as Info['retryPolicy']);
    expect(beats).toEqual([{ since: 1234, progress: { ready: 1, total: 2 }, failed: 0 }]);
    expect((error as Error).message).toBe('read Deployment m-blue: HTTP 503');
  });

  it('a non-retryable failure passes as it is', async () => {
    const refused = async (): Promise<never> => { throw ApplicationFailure.nonRetryable('no', 'RolloutFailed'); };
    const { beats, error } = await attempt(refused, { failed: 5 });
    expect(beats).toEqual([]);
    expect((error as ApplicationFailure).message).toBe('no');
  });
});
