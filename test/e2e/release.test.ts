// Whole releases with everything real: the Temporal dev server, the worker as its
// own process, the Kubernetes test cluster, model servers, and the CLI. A watcher
// samples the live Service throughout and fails a test on any downtime.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readDeployment, serviceEndpoints } from '../../src/activities/cluster.js';
import { World } from './world.js';

let w: World;
beforeAll(async () => {
  w = await new World({ prefix: 'e2e', temporalAddress: inject('temporalAddress'), kubeconfig: inject('kubeconfig') }).start();
});
afterAll(async () => {
  if (w) console.log(w.report('e2e'));
  await w?.close();
});

describe('end-to-end releases', () => {
  it('bootstraps v1, then releases v2 with a manual approval from the CLI', async () => {
    const watch = await w.bootstrap('fraud-approve');
    expect((await w.snapshot('fraud-approve')).selector).toEqual({ 'app.kubernetes.io/name': 'fraud-approve', slot: 'blue' });

    const started = await w.cli(['start', '-f', w.specFile('fraud-approve', 'v2', { approval: { afterSwitch: 'manual' } })]);
    expect(started.code).toBe(0);
    await w.waitFor('fraud-approve', (s) => s.waitingFor === 'afterSwitch' && s.analysis?.ok === true, 'waiting for approval after analysis');
    // Live traffic is on the candidate while it waits; the old slot is still there for instant rollback.
    const waiting = await w.snapshot('fraud-approve');
    expect(waiting.selector?.slot).toBe('green');
    expect(waiting.blue?.labels?.['bluegreen.dev/version']).toBe('v1');

    const approved = await w.cli(['approve', 'fraud-approve', '-n', w.namespace, '--comment', 'looks good']);
    expect(approved.stderr).toBe('');
    expect(approved).toMatchObject({ code: 0, stdout: `approved: the release of ${w.namespace}/fraud-approve goes on from Monitoring\n` });

    const done = await w.waitForPhase('fraud-approve', 'Succeeded');
    expect(done.approvedBy).toBe('e2e');
    const after = await w.snapshot('fraud-approve');
    expect(after.selector).toEqual({ 'app.kubernetes.io/name': 'fraud-approve', slot: 'green' });
    expect(after.preview?.selector).toEqual({ 'app.kubernetes.io/name': 'fraud-approve', slot: 'green' });
    expect(after.blue).toBeUndefined();
    expect(after.green?.labels?.['bluegreen.dev/version']).toBe('v2');
    expect(await serviceEndpoints(w.kube, w.target('fraud-approve'), 'fraud-approve', 'green')).toEqual({ ready: 2, strangers: [] });

    const status = await w.cli(['status', 'fraud-approve', '-n', w.namespace]);
    expect(status.stdout).toMatch(/phase\s+Succeeded/);
    expect(status.stdout).toContain('approve by e2e: looks good');
    await watch.done();
  });

  it('abort during monitoring restores the Service, the old Deployment and the preview exactly', async () => {
    const watch = await w.bootstrap('fraud-abort');
    const before = await w.snapshot('fraud-abort');
    await w.cli(['start', '-f', w.specFile('fraud-abort', 'v2', { monitor: { window: '10m', interval: '2s', endpoint: w.url('v2') } })]);
    await w.waitForPhase('fraud-abort', 'Monitoring');
    expect((await w.snapshot('fraud-abort')).selector?.slot).toBe('green');

    const aborted = await w.cli(['abort', 'fraud-abort', '-n', w.namespace, '--reason', 'p99 latency regressed']);
    expect(aborted.stderr).toBe('');
    expect(aborted.code).toBe(0);
    expect(aborted.stdout).toContain('aborted: the release of');

    const end = await w.waitForPhase('fraud-abort', 'RolledBack');
    expect(end.reason).toBe('aborted by e2e: p99 latency regressed');
    const after = await w.snapshot('fraud-abort');
    expect(after).toEqual({ ...before, green: undefined });
    expect(after.blue).toEqual(before.blue);
    expect(after.preview).toEqual(before.preview);
    await watch.done();
  });

  it('a release whose image cannot be pulled rolls back by itself and says why', async () => {
    const watch = await w.bootstrap('fraud-badimage');
    const before = await w.snapshot('fraud-badimage');
    const result = await w.cli(['start', '-f', w.specFile('fraud-badimage', 'v2', { image: 'fail.invalid/model:image-pull-backoff' }), '--wait']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^bluegreen: release RolledBack: waitForRollout failed \[RolloutFailed\]: pod fraud-badimage-green-\S+ container model-server: ImagePullBackOff/);
    expect(await w.snapshot('fraud-badimage')).toEqual({ ...before, green: undefined });
    await watch.done();
  });

  it('refuses a second start for the same model while the first runs', async () => {
    const watch = await w.bootstrap('fraud-twice');
    await w.cli(['start', '-f', w.specFile('fraud-twice', 'v2', { approval: { beforeSwitch: true } })]);
    await w.waitForPhase('fraud-twice', 'AwaitingApproval');
    const second = await w.cli(['start', '-f', w.specFile('fraud-twice', 'v2')]);
    expect(second.code).toBe(1);
    expect(second.stderr).toBe(`bluegreen: a release of ${w.namespace}/fraud-twice is already running (version v2, phase AwaitingApproval): bluegreen/${w.namespace}/fraud-twice; wait for it to end or abort it\n`);
    const missing = await w.cli(['approve', 'fraud-nothing', '-n', w.namespace]);
    expect(missing).toMatchObject({ code: 1, stderr: `bluegreen: no release of ${w.namespace}/fraud-nothing found (workflow bluegreen/${w.namespace}/fraud-nothing)\n` });
    await w.cli(['abort', 'fraud-twice', '-n', w.namespace, '--reason', 'test over']);
    await w.waitForPhase('fraud-twice', 'RolledBack');
    await watch.done();
  });

  it('survives SIGKILL of the worker mid-rollout: a new worker completes the release', async () => {
    const watch = await w.bootstrap('fraud-crash');
    await w.cli(['start', '-f', w.specFile('fraud-crash', 'v2', { image: 'slow.invalid/model:slow-start' })]);
    const t = w.target('fraud-crash');
    await w.waitForPhase('fraud-crash', 'Deploying');
    for (let i = 0; i < 50 && (await readDeployment(w.kube, t, 'green')) === undefined; i += 1) await new Promise((r) => setTimeout(r, 100));
    expect((await readDeployment(w.kube, t, 'green'))?.status?.availableReplicas ?? 0).toBe(0);

    await w.killWorker();
    await w.startWorker();

    const done = await w.waitForPhase('fraud-crash', 'Succeeded');
    expect(done.liveSlot).toBe('green');
    const after = await w.snapshot('fraud-crash');
    expect(after.selector?.slot).toBe('green');
    expect(after.blue).toBeUndefined();
    expect(after.green?.generation).toBe(1);
    await watch.done();
  }, 180_000);
});
