// Whole-release overhead: a release with no gates, a zero monitor window and no
// scale-down delay, end to end through Temporal, against the same activities
// called one after another in this process (the same API calls and waits, no
// Temporal): the ratio is what durability costs a whole release.
//   BENCH_REPEATS  releases of each kind (default 10)
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities } from '../dist/activities/index.js';
import { startRelease } from '../dist/client/releases.js';
import { targetOf } from '../dist/release/target.js';
import { validateSpec } from '../dist/release/validate.js';
import { benchSpec, report, round, startStack, summary } from './stack.mjs';

const REPEATS = Number(process.env.BENCH_REPEATS ?? 10);

/**
 * From a release's history (medians go in the report): activities scheduled,
 * the time they ran (started to completed, in ms), workflow tasks, local
 * activities (markers), events, and the time between consecutive events by
 * their types (a workflow task's time holds the local activities it ran).
 */
async function whereTheTimeGoes(handle) {
  const { events } = await handle.fetchHistory();
  const ms = (e) => Number(e.eventTime.seconds) * 1000 + Math.floor((e.eventTime.nanos ?? 0) / 1e6);
  const started = new Map();
  let activitiesRunning = 0;
  // Time between consecutive events, by the pair of their types.
  const type = (e) => Object.keys(e).find((k) => k.endsWith('EventAttributes') && e[k])?.replace('EventAttributes', '') ?? 'unknown';
  const gaps = {};
  for (const [i, e] of events.entries()) {
    if (i === 0) continue;
    const key = `${type(events[i - 1])} -> ${type(e)}`;
    gaps[key] = (gaps[key] ?? 0) + ms(e) - ms(events[i - 1]);
  }
  for (const e of events) {
    if (e.activityTaskStartedEventAttributes) started.set(String(e.activityTaskStartedEventAttributes.scheduledEventId), ms(e));
    const done = e.activityTaskCompletedEventAttributes;
    if (done) activitiesRunning += ms(e) - (started.get(String(done.scheduledEventId)) ?? ms(e));
  }
  return {
    activities: events.filter((e) => e.activityTaskScheduledEventAttributes).length,
    activitiesRunning,
    workflowTasks: events.filter((e) => e.workflowTaskCompletedEventAttributes).length,
    localActivities: events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity').length,
    events: events.length,
    gaps,
  };
}
const stack = await startStack({ name: 'overhead' });
try {
  await stack.startWorker();
  const orchestrated = [];
  const direct = [];

  // Through Temporal: a first release, then REPEATS releases back and forth.
  const split = [];
  const release = async (model, version) => {
    const t0 = performance.now();
    const handle = await startRelease(stack.client, validateSpec(benchSpec(stack, model, version)), stack.taskQueue, 'bench');
    const result = await handle.result();
    if (result.phase !== 'Succeeded') throw new Error(`${model} ${version}: ${result.phase} ${result.reason}`);
    const took = performance.now() - t0;
    split.push(await whereTheTimeGoes(handle));
    return took;
  };
  await release('ovh', 'v0');
  split.length = 0;
  for (let i = 1; i <= REPEATS; i += 1) orchestrated.push(await release('ovh', `v${i}`));

  // Directly: the workflow's activities in its order, each in a simulated activity context.
  const acts = createActivities({ kube: stack.kube, allowedEndpointHosts: ['127.0.0.1'] });
  const quiet = new DefaultLogger('ERROR');
  const run = (fn, ...args) => new MockActivityEnvironment(undefined, { logger: quiet }).run(fn, ...args);
  const directRelease = async (model, version) => {
    const t0 = performance.now();
    const spec = validateSpec(benchSpec(stack, model, version));
    const target = targetOf(spec);
    const releaseId = `direct/${model}/${version}`;
    const plan = await run(acts.inspect, spec);
    await run(acts.applyCandidate, { target, object: plan.object, releaseId, replicas: plan.replicas });
    await run(acts.pointPreview, { target, selector: plan.candidate.selector, ports: plan.ports, releaseId });
    const ref = { target, slot: plan.candidate.slot, deployment: plan.candidate.deployment };
    await run(acts.waitForRollout, { ...ref, timeoutMs: 600_000 });
    await run(acts.verifyCandidate, { spec, slot: plan.candidate.slot, deployment: plan.candidate.deployment, port: plan.port });
    await run(acts.switchTraffic, { target, from: plan.live, to: plan.candidate, ports: plan.ports, releaseId, settleMs: 30_000 });
    await run(acts.monitor, { spec, port: plan.port });
    if (plan.live) await run(acts.deleteSlot, { target, slot: plan.live.slot, deployment: plan.live.deployment });
    return performance.now() - t0;
  };
  await directRelease('ovd', 'v0');
  for (let i = 1; i <= REPEATS; i += 1) direct.push(await directRelease('ovd', `v${i}`));

  const ms = (values) => Object.fromEntries(Object.entries(summary(values)).map(([k, v]) => [k, k === 'n' ? v : round(v)]));
  const o = ms(orchestrated);
  const d = ms(direct);
  const median = (key) => round(summary(split.map((x) => x[key])).p50);
  const keys = [...new Set(split.flatMap((x) => Object.keys(x.gaps)))];
  const gapsMs = Object.fromEntries(keys.map((k) => [k, round(summary(split.map((x) => x.gaps[k] ?? 0)).p50)]).filter(([, v]) => v >= 5).sort((a, b) => b[1] - a[1]));
  const history = { gapsMs, activities: median('activities'), activitiesRunning: median('activitiesRunning'), workflowTasks: median('workflowTasks'), localActivities: median('localActivities'), events: median('events') };
  report('overhead', { releases: REPEATS, unit: 'ms', orchestrated: o, direct: d, ratioP50: round(o.p50 / d.p50, 2), ratioP95: round(o.p95 / d.p95, 2), history });
} finally {
  await stack.stop();
}
