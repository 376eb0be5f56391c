// The activities against a real Kubernetes control plane (kube-apiserver, etcd,
// controller-manager, scheduler, kwok nodes). Only Temporal's activity context
// is simulated; every read and write goes to the API server.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities } from '../../src/activities/index.js';
import { kubeFromConfig, patchSelector, readDeployment, readService, serviceEndpoints, type Kube } from '../../src/activities/cluster.js';
import { validateSpec } from '../../src/release/validate.js';
import { targetOf } from '../../src/release/target.js';
import type { ReleaseSpec, ReleaseSpecInput } from '../../src/release/spec.js';

const namespace = `act-${randomBytes(3).toString('hex')}`;
let kube: Kube;
let acts: ReturnType<typeof createActivities>;
const quiet = new DefaultLogger('ERROR');
const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> => new MockActivityEnvironment(undefined, { logger: quiet }).run(fn, ...args);

beforeAll(async () => {
  const config = new KubeConfig();
  config.loadFromFile(inject('kubeconfig'));
  kube = kubeFromConfig(config);
  await config.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  acts = createActivities({ kube, pollMs: 200 });
});
afterAll(async () => {
  await kube?.core.deleteNamespace({ name: namespace }).catch(() => undefined);
});

function spec(model: string, more: Partial<ReleaseSpecInput> = {}): ReleaseSpec {
  return validateSpec({ model, namespace, version: 'v1', image: 'registry.example.com/ml/model:v1', replicas: 2, ...more });
}
const releaseId = 'bluegreen/test/run-1';

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApplicationFailure) return err;
    throw err;
  }
  throw new Error('expected the activity to fail');
}

describe('applying and waiting for a candidate', () => {
  it('applies with server-side apply; a second apply changes nothing', async () => {
    const s = spec('apply-twice');
    await run(acts.applyCandidate, { spec: s, slot: 'green', releaseId, replicas: 2 });
    const first = await readDeployment(kube, targetOf(s), 'green');
    await run(acts.applyCandidate, { spec: s, slot: 'green', releaseId, replicas: 2 });
    const second = await readDeployment(kube, targetOf(s), 'green');
    // The controller writes status meanwhile; what we own (spec, labels) must not move.
    expect(second?.metadata?.generation).toBe(1);
    expect(second?.spec).toEqual(first?.spec);
    expect(second?.metadata?.labels).toEqual(first?.metadata?.labels);
    expect(second?.metadata?.managedFields?.map((f) => f.manager)).toContain('bluegreen');
    expect(second?.spec?.template.metadata?.labels).toMatchObject({ slot: 'green', 'bluegreen.dev/version': 'v1' });
  });

  it('waits until every replica is available', async () => {
    const s = spec('rollout-ok', { replicas: 3 });
    await run(acts.applyCandidate, { spec: s, slot: 'blue', releaseId, replicas: 3 });
    const report = await run(acts.waitForRollout, { target: targetOf(s), slot: 'blue', timeoutMs: 60_000 });
    expect(report).toEqual({ ready: 3, total: 3 });
    const d = await readDeployment(kube, targetOf(s), 'blue');
    expect(d?.status?.availableReplicas).toBe(3);
  });

  it.each([
    ['fail.invalid/model:image-pull-backoff', 'ImagePullBackOff'],
    ['fail.invalid/model:crash-loop', 'CrashLoopBackOff'],
  ])('fails at once, without retry, when pods report %s', async (image, reason) => {
    const s = spec(`rollout-${reason.toLowerCase()}`, { image });
    await run(acts.applyCandidate, { spec: s, slot: 'green', releaseId, replicas: 2 });
    const failure = await failureOf(run(acts.waitForRollout, { target: targetOf(s), slot: 'green', timeoutMs: 60_000 }));
    expect(failure.type).toBe('RolloutFailed');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(new RegExp(`^pod ${s.model}-green-[a-z0-9]+-[a-z0-9]+ container model-server: ${reason}`));
  });

  it('gives up with RolloutTimeout when replicas never become available', async () => {
    const s = spec('rollout-timeout', { replicas: 2 });
    await run(acts.applyCandidate, { spec: s, slot: 'green', releaseId, replicas: 2 });
    const failure = await failureOf(run(acts.waitForRollout, { target: targetOf(s), slot: 'green', replicas: 5, timeoutMs: 1_000 }));
    expect(failure.type).toBe('RolloutTimeout');
  });

  it('scales a slot and waits for the new size', async () => {
    const s = spec('scale', { replicas: 3, previewReplicas: 1 });
    await run(acts.applyCandidate, { spec: s, slot: 'green', releaseId, replicas: 1 });
    await run(acts.scaleSlot, { target: targetOf(s), slot: 'green', replicas: 3 });
    expect(await run(acts.waitForRollout, { target: targetOf(s), slot: 'green', replicas: 3, timeoutMs: 60_000 })).toEqual({ ready: 3, total: 3 });
  });
});

describe('switching traffic', () => {
  it('bootstraps, then switches; when the switch returns, EndpointSlices hold only the new slot', async () => {
    const s = spec('switch');
    const t = targetOf(s);
    expect(await run(acts.inspect, s)).toEqual({ oldSlot: undefined, candidateSlot: 'blue', previewBefore: null });
    await run(acts.applyCandidate, { spec: s, slot: 'blue', releaseId, replicas: 2 });
    await run(acts.waitForRollout, { target: t, slot: 'blue', timeoutMs: 60_000 });
    await run(acts.switchTraffic, { target: t, to: 'blue', releaseId });
    expect((await readService(kube, t, 'switch'))?.spec?.selector).toEqual({ 'app.kubernetes.io/name': 'switch', slot: 'blue' });

    const next = spec('switch', { version: 'v2' });
    expect(await run(acts.inspect, next)).toEqual({ oldSlot: 'blue', candidateSlot: 'green', previewBefore: null });
    await run(acts.applyCandidate, { spec: next, slot: 'green', releaseId, replicas: 2 });
    await run(acts.waitForRollout, { target: t, slot: 'green', timeoutMs: 60_000 });
    await run(acts.switchTraffic, { target: t, from: 'blue', to: 'green', releaseId });
    expect(await serviceEndpoints(kube, t, 'switch', 'green')).toEqual({ ready: 2, strangers: [] });
    const after = await readService(kube, t, 'switch');
    expect(after?.spec?.selector?.slot).toBe('green');

    // A second call is a no-op.
    await run(acts.switchTraffic, { target: t, from: 'blue', to: 'green', releaseId });
    expect((await readService(kube, t, 'switch'))?.metadata?.resourceVersion).toBe(after?.metadata?.resourceVersion);
  });

  it('does not overwrite a selector changed by someone else', async () => {
    const s = spec('conflict');
    const t = targetOf(s);
    await run(acts.applyCandidate, { spec: s, slot: 'blue', releaseId, replicas: 1 });
    await run(acts.switchTraffic, { target: t, to: 'blue', releaseId });
    // Someone points the Service elsewhere between our read and our patch:
    // the patch's test op makes the API server refuse it.
    await kube.core.patchNamespacedService({ name: 'conflict', namespace, body: { spec: { selector: { slot: 'red' } } } },
      (await import('@kubernetes/client-node')).setHeaderOptions('Content-Type', 'application/merge-patch+json'));
    expect(await patchSelector(kube, t, 'blue', 'green')).toBe('conflict');
    expect((await readService(kube, t, 'conflict'))?.spec?.selector?.slot).toBe('red');
    const failure = await failureOf(run(acts.switchTraffic, { target: t, from: 'blue', to: 'green', releaseId }));
    expect(failure.type).toBe('SelectorConflict');
    expect(failure.message).toContain('expected it to select blue, found');
    expect((await readService(kube, t, 'conflict'))?.spec?.selector?.slot).toBe('red');
  });
});

describe('preview, deletion and preflight', () => {
  it('points the preview at a slot and removes it', async () => {
    const s = spec('preview');
    const t = targetOf(s);
    await run(acts.pointPreview, { target: t, slot: 'green', releaseId });
    expect((await readService(kube, t, 'preview-preview'))?.spec?.selector).toEqual({ 'app.kubernetes.io/name': 'preview', slot: 'green' });
    await run(acts.pointPreview, { target: t, slot: 'blue', releaseId });
    expect((await readService(kube, t, 'preview-preview'))?.spec?.selector?.slot).toBe('blue');
    await run(acts.removePreview, { target: t });
    expect(await readService(kube, t, 'preview-preview')).toBeUndefined();
    await run(acts.removePreview, { target: t });
  });

  it('deletes a slot; deleting it again is success', async () => {
    const s = spec('delete-twice');
    await run(acts.applyCandidate, { spec: s, slot: 'green', releaseId, replicas: 1 });
    expect(await run(acts.deleteSlot, { target: targetOf(s), slot: 'green' })).toEqual({ deleted: true });
    expect(await run(acts.deleteSlot, { target: targetOf(s), slot: 'green' })).toEqual({ deleted: false });
    expect(await readDeployment(kube, targetOf(s), 'green')).toBeUndefined();
  });

  it('refuses to start beside a leftover candidate slot', async () => {
    const s = spec('leftover');
    const t = targetOf(s);
    await run(acts.applyCandidate, { spec: s, slot: 'blue', releaseId, replicas: 1 });
    await run(acts.switchTraffic, { target: t, to: 'blue', releaseId });
    await run(acts.applyCandidate, { spec: s, slot: 'green', releaseId, replicas: 1 });
    const failure = await failureOf(run(acts.inspect, s));
    expect(failure.type).toBe('PreflightRefused');
    expect(failure.message).toBe(`Deployment ${namespace}/leftover-green (version v1) exists beside the live blue slot: a leftover of an earlier release; delete it and start again`);
  });

  it('refuses a namespace outside the allowlist before any call', async () => {
    const guarded = createActivities({ kube, allowedNamespaces: ['ml-prod'] });
    const s = spec('not-allowed');
    const failure = await failureOf(run(guarded.applyCandidate, { spec: s, slot: 'blue', releaseId, replicas: 1 }));
    expect(failure.type).toBe('NamespaceNotAllowed');
    expect(failure.message).toBe(`namespace "${namespace}" is not in this worker's allowlist (ml-prod)`);
    expect(await readDeployment(kube, targetOf(s), 'blue')).toBeUndefined();
  });
});
