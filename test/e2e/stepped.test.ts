// A stepped release on the test cluster: 4 pods of v1 become 4 of v2 on a budget
// of one extra pod, the live Service holding both slots' ready pods between the
// steps; an abort mid-way returns to 4 of v1 within the same budget; a standby
// keeps one old pod after promotion and a rollback grows it back first.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readDeployment, readService, type Kube } from '../../src/activities/cluster.js';
import { watchDowntime } from './downtime-watcher.js';
import { World } from './world.js';

let w: World;
beforeAll(async () => {
  w = await new World({ prefix: 'stepped', temporalAddress: inject('temporalAddress'), kubeconfig: inject('kubeconfig') }).start();
});
afterAll(async () => {
  await w?.close();
});

/** Samples every pod of a model's slots (terminating ones too: they still hold their GPUs) and keeps the most seen at once. */
function watchPods(kube: Kube, namespace: string, model: string) {
  let peak = 0;
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const pods = await kube.core.listNamespacedPod({ namespace, labelSelector: `bluegreen.dev/service=${model}` });
      peak = Math.max(peak, pods.items.length);
      samples += 1;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return { async stop() { running = false; await loop; return { peak, samples }; } };
}

/** The pods of each slot that are ready, as the Deployments report them. */
async function slots(model: string): Promise<Record<string, number | undefined>> {
  const t = w.target(model);
  const [blue, green] = await Promise.all([readDeployment(w.kube, t, `${model}-blue`), readDeployment(w.kube, t, `${model}-green`)]);
  return { blue: blue?.status?.readyReplicas, green: green?.status?.readyReplicas };
}

async function firstRelease(model: string, more = {}): Promise<void> {
  const first = await w.cli(['start', '-f', w.specFile(model, 'v1', { replicas: 4, ...more }), '--wait']);
  expect(first.stderr).toBe('');
  expect(first.code).toBe(0);
}

describe('a stepped release', () => {
  it('moves 4 pods of v1 to 4 of v2 on a budget of one extra pod, never more than 5, the Service never without a ready pod', async () => {
    await firstRelease('stepped');
    const downtime = watchDowntime(w.kube, w.namespace, 'stepped');
    const pods = watchPods(w.kube, w.namespace, 'stepped');
    const started = Date.now();
    const run = await w.cli(['start', '-f', w.specFile('stepped', 'v2', { replicas: 4, stepped: { extraPods: 1, window: '2s' } }), '--wait']);
    const took = Date.now() - started;
    const [seen, served] = [await pods.stop(), await downtime.stop()];
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    console.log(`stepped release 4 -> 4, extraPods 1: ${took} ms, peak ${seen.peak} pods (${seen.samples} samples), ${served.samples} endpoint samples, ${served.noReady} without a ready pod`);
    expect(seen.peak).toBe(5);
    expect(served.noReady, served.examples.join('; ')).toBe(0);
    // Between the steps the Service held both slots' ready pods: that is the point.
    expect(served.mixed).toBeGreaterThan(0);
    const status = await w.status('stepped');
    expect(status?.phase).toBe('Succeeded');
    expect(status?.timeline.filter((e) => e.event === 'step').map((e) => e.detail)).toEqual([1, 2, 3, 4].map((i) => `step ${i} of 4: ${i} pods of v2, ${4 - i} of stepped-blue`));
    expect(status?.timeline.find((e) => e.event === 'warning')?.detail).toBe('stepped: 4 steps of 1 pods, at most 5 pods of both slots at once (4 live + 1 extra)');
    expect((await readService(w.kube, w.target('stepped'), 'stepped'))?.spec?.selector).toEqual({ 'bluegreen.dev/service': 'stepped', slot: 'green' });
    expect(await slots('stepped')).toEqual({ blue: undefined, green: 4 });
  });

  it('an abort mid-way undoes the steps within the budget and returns to 4 pods of v1 alone', async () => {
    await firstRelease('stepped-abort');
    const pods = watchPods(w.kube, w.namespace, 'stepped-abort');
    await w.cli(['start', '-f', w.specFile('stepped-abort', 'v2', { replicas: 4, stepped: { extraPods: 1, window: '8s' } })]);
    // Aborted during step 2's analysis (8s): step 3 has not begun.
    const mid = await w.waitFor('stepped-abort', (s) => s.steps?.done === 2, 'step 2');
    expect(mid.steps).toEqual({ done: 2, candidate: 2, old: 2 });
    expect(await slots('stepped-abort')).toEqual({ blue: 2, green: 2 });
    expect((await readService(w.kube, w.target('stepped-abort'), 'stepped-abort'))?.spec?.selector).toEqual({ 'bluegreen.dev/service': 'stepped-abort' });
    const downtime = watchDowntime(w.kube, w.namespace, 'stepped-abort');
    await w.cli(['abort', 'stepped-abort', '-n', w.namespace, '--reason', 'step 2 looks wrong']);
    const end = await w.waitForPhase('stepped-abort', 'RolledBack');
    const [seen, served] = [await pods.stop(), await downtime.stop()];
    expect(seen.peak).toBe(5);
    expect(served.noReady, served.examples.join('; ')).toBe(0);
    expect(end.timeline.filter((e) => e.event === 'undone').map((e) => e.detail)).toEqual([
      'undo step 2: stepped-abort-blue back to 3 pods, then stepped-abort-green to 1',
      'undo step 1: stepped-abort-blue back to 4 pods, then stepped-abort-green to 1',
      'switch live traffic back to stepped-abort-blue',
      expect.stringMatching(/^point preview back at /), 'delete candidate Deployment stepped-abort-green',
    ]);
    expect((await readService(w.kube, w.target('stepped-abort'), 'stepped-abort'))?.spec?.selector).toEqual({ 'bluegreen.dev/service': 'stepped-abort', slot: 'blue' });
    await w.waitUntil(async () => (await slots('stepped-abort')).green === undefined, 'the candidate gone');
    expect(await slots('stepped-abort')).toEqual({ blue: 4, green: undefined });
  });

  it('a standby keeps one old pod after promotion; an abort grows it back to 4 before traffic goes back', async () => {
    await firstRelease('standby');
    await w.cli(['start', '-f', w.specFile('standby', 'v2', { replicas: 4, standbyReplicas: 1, scaleDownDelay: '10m' })]);
    const waiting = await w.waitFor('standby', (s) => s.standby !== undefined, 'the standby');
    expect(waiting.standby).toEqual({ replicas: 1, toStart: 3, startupSeconds: expect.any(Number) });
    await w.waitUntil(async () => (await slots('standby')).blue === 1, 'the old slot at 1 pod');
    const shown = await w.cli(['status', 'standby', '-n', w.namespace]);
    expect(shown.stdout).toMatch(/standby {3}old slot at 1 pods; a rollback needs 3 pods to start, up to \d+s each by their probes/);
    await w.cli(['abort', 'standby', '-n', w.namespace, '--reason', 'v2 misbehaves under real load']);
    const end = await w.waitForPhase('standby', 'RolledBack');
    const undone = end.timeline.filter((e) => e.event === 'undone').map((e) => e.detail);
    expect(undone.slice(0, 2)).toEqual(['scale standby-blue back to 4 replicas', 'switch live traffic back to standby-blue']);
    expect(await slots('standby')).toMatchObject({ blue: 4 });
    expect((await readService(w.kube, w.target('standby'), 'standby'))?.spec?.selector?.slot).toBe('blue');
  });
});
