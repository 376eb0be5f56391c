// Long steps: heartbeats that keep a live worker from being taken for a dead
// one, and the wait that re-reads the cluster until a judgment says done.
import { Context } from '@temporalio/activity';
import type { V1Deployment } from '@kubernetes/client-node';
import { ErrorTypes } from '../release/errors.js';
import type { Target } from '../release/target.js';
import { selects } from '../rules/selectors.js';
import { beat, resumed } from './attempts.js';
import { KubeError, apiReads, type Kube } from './cluster.js';
import { nonRetryable } from './context.js';
import type { Reads, Touches } from './watches.js';

/** How often long steps heartbeat: four beats fit in the 8s heartbeat timeout. */
export const HEARTBEAT_STEP_MS = 2_000;

/** Errors worth another try: no answer at all, 429, or a 5xx. */
const isTransient = (err: unknown): err is KubeError =>
  err instanceof KubeError && (err.code === undefined || err.code === 429 || err.code >= 500);

export const sleep = (ms: number) => Context.current().sleep(ms);

/** Sleeps in short steps, heartbeating `details` after each, so heartbeats keep flowing through long waits. */
export async function sleepBeating(ms: number, details: object): Promise<void> {
  for (let left = ms; left > 0; left -= HEARTBEAT_STEP_MS) {
    await sleep(Math.min(HEARTBEAT_STEP_MS, left));
    beat(details);
  }
}

/**
 * Runs a long step with a heartbeat every few seconds, so a live worker is never
 * taken for a dead one; `details` are what a retry resumes from, so they go with each beat.
 */
export async function heartbeating<T>(run: () => Promise<T>, details?: object): Promise<T> {
  const timer = setInterval(() => beat(details), HEARTBEAT_STEP_MS);
  try {
    return await run();
  } finally {
    clearInterval(timer);
  }
}

export type Check<T> = (reads: Reads) => Promise<{ done: boolean; progress: T }>;

export interface WaitOn { namespace: string; touches: Touches }

/**
 * Re-reads until `check` says done; heartbeats each round so a dead worker is
 * noticed. The deadline counts from the first attempt: a restarted worker goes
 * on with the same wait, it does not start a new one. While the namespace's
 * watches are in sync, `check` reads memory and runs again when something that
 * `touches` the wait changes (at least every heartbeat step); else it reads the
 * API server every `pollMs`.
 */
export async function waitFor<T>(
  kube: Kube, pollMs: number, what: string, timeoutMs: number, on: WaitOn, check: Check<T>, errorType: string = ErrorTypes.WaitTimeout,
): Promise<T> {
  const since = resumed<{ since: number }>()?.since ?? Date.now();
  const deadline = since + timeoutMs;
  let last: unknown;
  const api = apiReads(kube, on.namespace);
  for (;;) {
    const watch = kube.watches?.of(on.namespace);
    const watched = watch?.inSync === true;
    try {
      const { done, progress } = await decide(check, api, watched ? watch : undefined);
      beat({ since, progress });
      if (done) return progress;
      last = progress;
    } catch (err) {
      // A blip of the API server must not fail a long wait: keep polling until the deadline.
      if (!isTransient(err)) throw err;
      last = err.message;
      beat({ since, error: err.message });
    }
    if (Date.now() > deadline) {
      // Memory only says when to look: a timeout, like every verdict, is the API server's.
      const confirmed = watched ? await check(api).catch(() => undefined) : undefined;
      if (confirmed?.done) return confirmed.progress;
      throw nonRetryable(errorType, `${what} not done after ${Math.round(timeoutMs / 1000)}s (last: ${JSON.stringify(confirmed?.progress ?? last)})`);
    }
    if (!watched) await sleep(pollMs);
    else {
      const changed = watch.next(on.touches, Math.min(HEARTBEAT_STEP_MS, deadline - Date.now() + 1));
      await Promise.race([changed, Context.current().cancelled]);
    }
  }
}

/**
 * Memory may lag behind what this release just wrote (a template applied a
 * moment ago): it only says when to look. Done or failed, the API server has the last word.
 */
async function decide<T>(check: Check<T>, api: Reads, watch?: { reads: (api: Reads) => Reads }): Promise<{ done: boolean; progress: T }> {
  if (watch === undefined) return check(api);
  try {
    const answer = await check(watch.reads(api));
    if (!answer.done) return answer;
  } catch (err) {
    if (isTransient(err)) throw err;
  }
  return check(api);
}

/**
 * What a wait on a slot watches: its Deployment, the pods and ReplicaSets its
 * selector matches (learnt from the Deployment each round), and a Service's
 * EndpointSlices.
 */
export function slotWatch(t: Target, deployment: string, service?: string, known?: V1Deployment) {
  let selector = known?.spec?.selector?.matchLabels;
  const touches: Touches = (kind, obj) => {
    const labels = obj.metadata?.labels;
    if (kind === 'Deployment') return obj.metadata?.name === deployment;
    if (kind === 'EndpointSlice') return service !== undefined && labels?.['kubernetes.io/service-name'] === service;
    return selector === undefined || selects(selector, labels);
  };
  return {
    namespace: t.namespace,
    touches,
    seen(d: V1Deployment): V1Deployment {
      selector = d.spec?.selector?.matchLabels;
      return d;
    },
  };
}
