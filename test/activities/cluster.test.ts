// The activities against a real Kubernetes control plane (kube-apiserver, etcd,
// controller-manager, scheduler, kwok nodes). Only Temporal's activity context
// is simulated; every read and write goes to the API server.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CoreV1Api, KubeConfig, setHeaderOptions, type V1Deployment } from '@kubernetes/client-node';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities } from '../../src/activities/index.js';
import { apiReads, kubeFromConfig, patchSelector, readDeployment, readService, serviceEndpoints, type Kube } from '../../src/activities/cluster.js';
import type { Plan } from '../../src/release/plan.js';
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
const dep = (model: string, name: string) => readDeployment(kube, targetOf(spec(model)), name);

/** Preflight, apply and wait: the candidate of a plan, rolled out. */
async function deployCandidate(s: ReleaseSpec, replicas = s.replicas ?? 1): Promise<Plan> {
  const plan = await run(acts.inspect, s);
  await run(acts.applyCandidate, { target: targetOf(s), object: plan.object, releaseId, replicas });
  return plan;
}
const ref = (s: ReleaseSpec, plan: Plan) => ({ target: targetOf(s), slot: plan.candidateSlot, deployment: plan.candidate.deployment });
/** A whole release without the workflow: preflight, deploy, switch. */
async function releaseOf(s: ReleaseSpec): Promise<Plan> {
  const plan = await deployCandidate(s);
  await run(acts.waitForRollout, { ...ref(s, plan), timeoutMs: 60_000 });
  await run(acts.switchTraffic, { target: targetOf(s), from: plan.live, to: plan.candidate, ports: plan.ports, releaseId, settleMs: 30_000 });
  if (plan.live) await run(acts.deleteSlot, { target: targetOf(s), slot: plan.live.slot, deployment: plan.live.deployment });
  return plan;
}
const merge = (): Parameters<typeof setHeaderOptions> => ['Content-Type', 'application/merge-patch+json'];

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
    const plan = await deployCandidate(s);
    const first = await dep('apply-twice', 'apply-twice-blue');
    await run(acts.applyCandidate, { target: targetOf(s), object: plan.object, releaseId, replicas: 2 });
    const second = await dep('apply-twice', 'apply-twice-blue');
    // The controller writes status meanwhile; what we own (spec, labels) must not move.
    expect(second?.metadata?.generation).toBe(1);
    expect(second?.spec).toEqual(first?.spec);
    expect(second?.metadata?.labels).toEqual(first?.metadata?.labels);
    expect(second?.metadata?.managedFields?.map((f) => f.manager)).toContain('bluegreen');
    expect(second?.spec?.template.metadata?.labels).toMatchObject({ slot: 'blue', 'bluegreen.dev/version': 'v1', 'bluegreen.dev/service': 'apply-twice' });
  });

  it('waits until every replica is available', async () => {
    const s = spec('rollout-ok', { replicas: 3 });
    const plan = await deployCandidate(s);
    expect(await run(acts.waitForRollout, { ...ref(s, plan), timeoutMs: 60_000 })).toEqual({ ready: 3, total: 3 });
    expect((await dep('rollout-ok', 'rollout-ok-blue'))?.status?.availableReplicas).toBe(3);
  });

  it.each([
    ['fail.invalid/model:image-pull-backoff', 'ImagePullBackOff'],
    ['fail.invalid/model:crash-loop', 'CrashLoopBackOff'],
  ])('fails at once, without retry, when pods report %s', async (image, reason) => {
    const s = spec(`rollout-${reason.toLowerCase()}`, { image });
    const plan = await deployCandidate(s);
    const failure = await failureOf(run(acts.waitForRollout, { ...ref(s, plan), timeoutMs: 60_000 }));
    expect(failure.type).toBe('RolloutFailed');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(new RegExp(`^pod ${s.model}-blue-[a-z0-9]+-[a-z0-9]+ container model-server: ${reason}`));
  });

  it('judges the current ReplicaSet only: crash-looping pods of an earlier template do not fail the fixed one', async () => {
    const bad = spec('next-attempt', { image: 'fail.invalid/model:crash-loop' });
    const plan = await deployCandidate(bad);
    expect((await failureOf(run(acts.waitForRollout, { ...ref(bad, plan), timeoutMs: 60_000 }))).type).toBe('RolloutFailed');
    const fixed = JSON.parse(JSON.stringify(plan.object)) as V1Deployment;
    fixed.spec!.template.spec!.containers[0]!.image = 'registry.example.com/ml/model:v1';
    await run(acts.applyCandidate, { target: targetOf(bad), object: fixed, releaseId, replicas: 2 });
    expect(await run(acts.waitForRollout, { ...ref(bad, plan), timeoutMs: 60_000 })).toEqual({ ready: 2, total: 2 });
  });

  it('gives up with RolloutTimeout when replicas never become available', async () => {
    const s = spec('rollout-timeout', { replicas: 2 });
    const plan = await deployCandidate(s);
    const failure = await failureOf(run(acts.waitForRollout, { ...ref(s, plan), replicas: 5, timeoutMs: 1_000 }));
    expect(failure.type).toBe('RolloutTimeout');
  });

  it('a wait resumed by a new worker keeps the first attempt\'s deadline', async () => {
    const s = spec('rollout-resumed', { replicas: 2 });
    const plan = await deployCandidate(s);
    // The attempt before this one started 61 s ago; the wait allows 60 s in all.
    const env = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: { since: Date.now() - 61_000, failed: 0 } }, { logger: quiet });
    const started = Date.now();
    const failure = await failureOf(env.run(acts.waitForRollout, { ...ref(s, plan), replicas: 5, timeoutMs: 60_000 }));
    expect(failure.type).toBe('RolloutTimeout');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('scales a slot and waits for the new size', async () => {
    const s = spec('scale', { replicas: 3, previewReplicas: 1 });
    const plan = await deployCandidate(s, 1);
    await run(acts.scaleSlot, { ...ref(s, plan), replicas: 3 });
    expect(await run(acts.waitForRollout, { ...ref(s, plan), replicas: 3, timeoutMs: 60_000 })).toEqual({ ready: 3, total: 3 });
  });

  it('a rollback wait scales an old slot scaled to 0 back up and is done at the first ready pod', async () => {
    const s = spec('restore', { replicas: 2 });
    const plan = await deployCandidate(s);
    await run(acts.scaleSlot, { ...ref(s, plan), replicas: 0 });
    const report = await run(acts.waitForRollout, { ...ref(s, plan), restoreReplicas: 2, timeoutMs: 60_000 });
    expect(report.ready).toBeGreaterThanOrEqual(1);
    expect((await dep('restore', 'restore-blue'))?.spec?.replicas).toBe(2);
  });
});

describe('switching traffic', () => {
  it('bootstraps, then switches; when the switch returns, EndpointSlices hold only the new slot', async () => {
    const s = spec('switch');
    const t = targetOf(s);
    const first = await releaseOf(s);
    expect(first).toMatchObject({ oldSlot: undefined, candidateSlot: 'blue', previewBefore: null });
    expect((await readService(kube, t, 'switch'))?.spec?.selector).toEqual({ 'bluegreen.dev/service': 'switch', slot: 'blue' });

    const next = spec('switch', { version: 'v2' });
    const plan = await deployCandidate(next);
    expect(plan).toMatchObject({ oldSlot: 'blue', candidateSlot: 'green', live: { deployment: 'switch-blue', adopted: false } });
    await run(acts.waitForRollout, { ...ref(next, plan), timeoutMs: 60_000 });
    const input = { target: t, from: plan.live, to: plan.candidate, ports: plan.ports, releaseId, settleMs: 30_000 };
    await run(acts.switchTraffic, input);
    expect(await serviceEndpoints(apiReads(kube, t.namespace), 'switch', (await dep('switch', 'switch-green'))!)).toMatchObject({ ready: 2, strangers: [] });
    const after = await readService(kube, t, 'switch');
    expect(after?.spec?.selector?.slot).toBe('green');

    // A second call is a no-op.
    await run(acts.switchTraffic, input);
    expect((await readService(kube, t, 'switch'))?.metadata?.resourceVersion).toBe(after?.metadata?.resourceVersion);
  });

  it('does not overwrite a selector changed by someone else', async () => {
    const s = spec('conflict');
    const t = targetOf(s);
    await releaseOf(s);
    const plan = await deployCandidate(spec('conflict', { version: 'v2' }));
    // Someone points the Service elsewhere between our read and our patch:
    // the patch's test op makes the API server refuse it.
    await kube.core.patchNamespacedService({ name: 'conflict', namespace, body: { spec: { selector: { slot: 'red' } } } }, setHeaderOptions(...merge()));
    const changed = (await readService(kube, t, 'conflict'))?.spec?.selector;
    expect(await patchSelector(kube, t, plan.live!.selector, plan.candidate.selector)).toBe('conflict');
    const failure = await failureOf(run(acts.switchTraffic, { target: t, from: plan.live, to: plan.candidate, ports: plan.ports, releaseId, settleMs: 10_000 }));
    expect(failure.type).toBe('SelectorConflict');
    expect(failure.message).toContain('changed under the release: expected it to select {"bluegreen.dev/service":"conflict","slot":"blue"}, found');
    expect((await readService(kube, t, 'conflict'))?.spec?.selector).toEqual(changed);
  });

  it('takes its own earlier write, landed between its read and its patch, for done, not for a conflict', async () => {
    const s = spec('twice');
    const t = targetOf(s);
    await releaseOf(s);
    const plan = await deployCandidate(spec('twice', { version: 'v2' }));
    await run(acts.waitForRollout, { ...ref(s, plan), timeoutMs: 60_000 });
    // Every selector patch lands twice, as when the try in the workflow task lands late beside the activity's:
    // the second is refused by its test op, since the selector is already the new one.
    const core = new Proxy(kube.core, {
      get: (api, key) => (key === 'patchNamespacedService'
        ? async (...args: Parameters<CoreV1Api['patchNamespacedService']>) => { await api.patchNamespacedService(...args); return api.patchNamespacedService(...args); }
        : Reflect.get(api, key)),
    });
    const racing = createActivities({ kube: { ...kube, core }, pollMs: 200 });
    const switched = await run(racing.switchTraffic, { target: t, from: plan.live, to: plan.candidate, ports: plan.ports, releaseId, settleMs: 30_000 });
    expect(switched.switched).toBe(true);
    expect((await readService(kube, t, 'twice'))?.spec?.selector).toEqual(plan.candidate.selector);
  });

  it('refuses to switch when the new selector would also select a pod that is not the candidate\'s', async () => {
    const s = spec('stranger');
    const t = targetOf(s);
    await releaseOf(s);
    const plan = await deployCandidate(spec('stranger', { version: 'v2' }));
    await run(acts.waitForRollout, { ...ref(s, plan), timeoutMs: 60_000 });
    // A pod made by hand with the candidate's labels, after preflight.
    await kube.core.createNamespacedPod({ namespace, body: { metadata: { name: 'by-hand', labels: plan.candidate.selector }, spec: { containers: [{ name: 'c', image: 'x:1' }] } } });
    const before = (await readService(kube, t, 'stranger'))?.spec?.selector;
    const failure = await failureOf(run(acts.switchTraffic, { target: t, from: plan.live, to: plan.candidate, ports: plan.ports, releaseId, settleMs: 10_000 }));
    expect(failure.type).toBe('SwitchRefused');
    expect(failure.message).toContain("would also select pods that are not Deployment stranger-green's (by-hand)");
    expect((await readService(kube, t, 'stranger'))?.spec?.selector).toEqual(before);
  });

  it('gives up within settleMs when the endpoints do not follow, and the switch back restores them', async () => {
    // The live Service routes to a port named "web"; the candidate's template names its port "http",
    // so the EndpointSlice controller gives the candidate's pods no endpoint.
    const labels = { app: 'settle', slot: 'blue' };
    await kube.apps.createNamespacedDeployment({ namespace, body: { metadata: { name: 'settle-blue' }, spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 's', image: 'x:1', ports: [{ name: 'web', containerPort: 8080 }] }] } } } } });
    await kube.core.createNamespacedService({ namespace, body: { metadata: { name: 'settle' }, spec: { selector: labels, ports: [{ port: 80, targetPort: 'web' as never }] } } });
    const s = spec('settle', { version: 'v2', replicas: 1 });
    const t = targetOf(s);
    await run(acts.waitForRollout, { target: t, slot: 'blue', deployment: 'settle-blue', timeoutMs: 60_000 });
    // Preflight refuses that template; the port is renamed after it, as a hand edit would.
    const plan = await run(acts.inspect, s);
    plan.object.spec!.template.spec!.containers[0]!.ports = [{ name: 'http', containerPort: 8080 }];
    await run(acts.applyCandidate, { target: t, object: plan.object, releaseId, replicas: 1 });
    await run(acts.waitForRollout, { ...ref(s, plan), timeoutMs: 60_000 });
    const started = Date.now();
    const failure = await failureOf(run(acts.switchTraffic, { target: t, from: plan.live, to: plan.candidate, ports: plan.ports, releaseId, settleMs: 3_000 }));
    expect(failure.type).toBe('SwitchTimeout');
    expect(Date.now() - started).toBeLessThan(10_000);
    const back = await run(acts.switchTraffic, { target: t, from: plan.candidate, to: plan.live!, ports: plan.ports, releaseId, settleMs: 30_000, back: true });
    expect(back.switched).toBe(true);
    expect((await readService(kube, t, 'settle'))?.spec?.selector).toEqual(labels);
    expect(await serviceEndpoints(apiReads(kube, t.namespace), 'settle', (await dep('settle', 'settle-blue'))!)).toMatchObject({ ready: 1, strangers: [] });
  });
});

describe('adopting a blue-green setup made by hand', () => {
  const modelDeployment = (name: string, env: string): V1Deployment => ({
    metadata: { name, namespace },
    spec: {
      replicas: 2, selector: { matchLabels: { app: 'model', env } },
      template: { metadata: { labels: { app: 'model', env } }, spec: { containers: [{ name: 'server', image: 'registry.example.com/model:1', ports: [{ containerPort: 8080 }], args: ['--port', '8080'] }] } },
    },
  });

  it('finds the live Deployment by the Service selector, names the candidate after it, and deletes only the old one', async () => {
    await kube.apps.createNamespacedDeployment({ namespace, body: modelDeployment('model-deploy-blue', 'blue') });
    await kube.core.createNamespacedService({ namespace, body: { metadata: { name: 'model-service' }, spec: { selector: { app: 'model', env: 'blue' }, ports: [{ port: 80, targetPort: 8080 as never }] } } });
    const s = spec('model', { service: 'model-service', slotLabel: 'env', version: 'v2', image: 'registry.example.com/model:2', replicas: 2 });
    const t = targetOf(s);
    await run(acts.waitForRollout, { target: t, slot: 'blue', deployment: 'model-deploy-blue', timeoutMs: 60_000 });
    const plan = await releaseOf(s);
    expect(plan).toMatchObject({
      live: { deployment: 'model-deploy-blue', adopted: true, selector: { app: 'model', env: 'blue' } },
      candidate: { deployment: 'model-deploy-green', selector: { app: 'model', env: 'green' } }, port: 80,
    });
    const green = await dep('model', 'model-deploy-green');
    expect(green?.spec?.template.spec?.containers[0]).toMatchObject({ name: 'server', image: 'registry.example.com/model:2', args: ['--port', '8080'] });
    expect((await readService(kube, t, 'model-service'))?.spec?.selector).toEqual({ app: 'model', env: 'green' });
    expect(await dep('model', 'model-deploy-blue')).toBeUndefined();
    expect(await serviceEndpoints(apiReads(kube, t.namespace), 'model-service', green!)).toMatchObject({ ready: 2, strangers: [] });

    // The next release finds the new live Deployment the same way, and goes back to blue.
    const again = await releaseOf(spec('model', { service: 'model-service', slotLabel: 'env', version: 'v3', image: 'registry.example.com/model:3', replicas: 2 }));
    expect(again).toMatchObject({ live: { deployment: 'model-deploy-green', adopted: false }, candidate: { deployment: 'model-deploy-blue' } });
    expect((await readService(kube, t, 'model-service'))?.spec?.selector).toEqual({ app: 'model', env: 'blue' });
  });

  it('refuses a template the API server rejects, with its message, creating nothing', async () => {
    const s = spec('rejected', { template: { spec: { containers: [{ name: 'server', image: 'x:1', ports: [{ containerPort: 70000 }] }] } } });
    const failure = await failureOf(run(acts.inspect, s));
    expect(failure.type).toBe('PreflightRefused');
    expect(failure.message).toMatch(/refused the candidate Deployment .*rejected-blue in a dry run: .*containerPort.*must be between 1 and 65535/);
    expect(await dep('rejected', 'rejected-blue')).toBeUndefined();
  });

  it('refuses a namespace that does not exist within seconds', async () => {
    const s = validateSpec({ model: 'nowhere', namespace: `missing-${namespace}`, version: 'v1', image: 'x:1' });
    const started = Date.now();
    const failure = await failureOf(run(acts.inspect, s));
    expect(failure.type).toBe('PreflightRefused');
    expect(failure.message).toContain(`namespace "missing-${namespace}" does not exist`);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('refuses to switch onto fewer ready candidate pods than switch.minReady, naming the numbers', async () => {
    const s = spec('short');
    const t = targetOf(s);
    await releaseOf(s);
    const plan = await deployCandidate(spec('short', { version: 'v2', replicas: 3 }), 1);
    await run(acts.waitForRollout, { ...ref(s, plan), timeoutMs: 60_000 });
    const failure = await failureOf(run(acts.switchTraffic, { target: t, from: plan.live, to: plan.candidate, ports: plan.ports, releaseId, settleMs: 10_000, minReady: 3 }));
    expect(failure.type).toBe('SwitchRefused');
    expect(failure.message).toBe('not switched: 1 pods of Deployment short-green are ready, and the switch needs 3 (switch.minReady; default all replicas)');
    expect((await readService(kube, t, 'short'))?.spec?.selector).toEqual(plan.live?.selector);
    // The wait before a switch ends once that many are ready, not at the full rollout only.
    await run(acts.scaleSlot, { ...ref(s, plan), replicas: 3 });
    expect(await run(acts.waitForRollout, { ...ref(s, plan), minReady: 3, timeoutMs: 60_000 })).toMatchObject({ ready: 3 });
  });

  it('sets the new image on the serving container of a Deployment whose first container is a sidecar', async () => {
    const labels = { app: 'shipped', env: 'blue' };
    const containers = [
      { name: 'log-shipper', image: 'fluent/fluent-bit:3.1' },
      { name: 'model', image: 'registry.example.com/ml/fraud:v1', ports: [{ name: 'http', containerPort: 8080 }] },
    ];
    await kube.apps.createNamespacedDeployment({ namespace, body: { metadata: { name: 'shipped-blue' }, spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers } } } } });
    await kube.core.createNamespacedService({ namespace, body: { metadata: { name: 'shipped' }, spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http' as never }] } } });
    const s = spec('shipped', { version: 'v2', image: 'registry.example.com/ml/fraud:v2', slotLabel: 'env', replicas: 1 });
    const plan = await deployCandidate(s);
    const green = await dep('shipped', plan.candidate.deployment);
    expect(green?.spec?.template.spec?.containers.map((c) => [c.name, c.image])).toEqual([
      ['log-shipper', 'fluent/fluent-bit:3.1'], ['model', 'registry.example.com/ml/fraud:v2'],
    ]);
  });

  it('refuses a setup that Argo CD, Flux or a controller reconciles, and warns of Helm, with the objects labelled as those tools label them', async () => {
    const setup = async (model: string, meta: { labels?: Record<string, string>; annotations?: Record<string, string>; ownerReferences?: never[] }) => {
      const labels = { app: model, slot: 'blue' };
      await kube.apps.createNamespacedDeployment({ namespace, body: {
        metadata: { name: `${model}-blue`, ...meta, labels: { ...labels, ...meta.labels } },
        spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'm', image: 'x:1', ports: [{ name: 'http', containerPort: 8080 }] }] } } },
      } });
      await kube.core.createNamespacedService({ namespace, body: { metadata: { name: model }, spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http' as never }] } } });
      return run(acts.inspect, spec(model, { version: 'v2', replicas: 1 }));
    };
    const argo = await failureOf(setup('by-argo', { annotations: { 'argocd.argoproj.io/tracking-id': 'models:apps/Deployment:x/by-argo-blue' } }));
    expect(argo).toMatchObject({ type: 'PreflightRefused', message: expect.stringContaining(`Deployment ${namespace}/by-argo-blue is managed by Argo CD application models`) });
    const flux = await failureOf(setup('by-flux', { labels: { 'kustomize.toolkit.fluxcd.io/name': 'models', 'kustomize.toolkit.fluxcd.io/namespace': 'flux-system' } }));
    expect(flux.message).toContain('is managed by Flux Kustomization flux-system/models');
    const owner = await kube.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'by-operator-owner' } } });
    const ownerReferences = [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'by-operator-owner', uid: owner.metadata!.uid!, controller: true }] as never[];
    expect((await failureOf(setup('by-operator', { ownerReferences }))).message).toContain('is managed by ConfigMap by-operator-owner');
    const helm = await setup('by-helm', { labels: { 'app.kubernetes.io/managed-by': 'Helm' }, annotations: { 'meta.helm.sh/release-name': 'models' } });
    expect(helm.warnings).toEqual([expect.stringContaining(`Deployment ${namespace}/by-helm-blue is managed by Helm release models`)]);
  });

  it('refuses a candidate whose pods lack the port the live Service targets by name, naming it and the ports they have', async () => {
    const labels = { app: 'renamed', slot: 'blue' };
    await kube.apps.createNamespacedDeployment({ namespace, body: { metadata: { name: 'renamed-blue' }, spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 's', image: 'x:1', ports: [{ name: 'web', containerPort: 8080 }] }] } } } } });
    await kube.core.createNamespacedService({ namespace, body: { metadata: { name: 'renamed' }, spec: { selector: labels, ports: [{ name: 'api', port: 80, targetPort: 'web' as never }] } } });
    const s = spec('renamed', { version: 'v2', replicas: 1, template: { spec: { containers: [{ name: 's', image: 'x:2', ports: [{ name: 'http', containerPort: 8080 }, { containerPort: 9090 }] }] } } });
    const failure = await failureOf(run(acts.inspect, s));
    expect(failure.type).toBe('PreflightRefused');
    expect(failure.message).toBe(`Service ${namespace}/renamed sends its port api to the port named "web", which the candidate's pods do not have (their ports: http 8080, 9090): name a container port "web" in the template, or give the Service's port a targetPort number`);
    expect(await dep('renamed', 'renamed-green')).toBeUndefined();
  });

  it('refuses a second Service on the live slot in preflight, and never deletes a slot that a Service selects alone', async () => {
    const s = spec('two-doors');
    const t = targetOf(s);
    const first = await releaseOf(s);
    const grpc = { metadata: { name: 'two-doors-grpc' }, spec: { selector: first.candidate.selector, ports: [{ name: 'grpc', port: 9000 }] } };
    await kube.core.createNamespacedService({ namespace, body: grpc });
    const refused = await failureOf(run(acts.inspect, spec('two-doors', { version: 'v2' })));
    expect(refused.type).toBe('PreflightRefused');
    expect(refused.message).toContain(`Service two-doors-grpc ${JSON.stringify(first.candidate.selector)} in ${namespace} also selects the live slot's pods (slot=blue) but not the candidate's`);
    // Preflight passed before the Service was made: the old slot is kept, and says why.
    await kube.core.deleteNamespacedService({ namespace, name: 'two-doors-grpc' });
    const plan = await deployCandidate(spec('two-doors', { version: 'v2' }));
    await kube.core.createNamespacedService({ namespace, body: grpc });
    await run(acts.waitForRollout, { ...ref(s, plan), timeoutMs: 60_000 });
    await run(acts.switchTraffic, { target: t, from: plan.live, to: plan.candidate, ports: plan.ports, releaseId, settleMs: 30_000 });
    const failure = await failureOf(run(acts.deleteSlot, { target: t, slot: 'blue', deployment: 'two-doors-blue' }));
    expect(failure.type).toBe('SlotIsLive');
    expect(failure.message).toContain(`Service two-doors-grpc ${JSON.stringify(first.candidate.selector)} in ${namespace} selects only the pods of Deployment two-doors-blue`);
    expect(await dep('two-doors', 'two-doors-blue')).toBeDefined();
  });

  it('does not delete a Deployment the live Service selects', async () => {
    const s = spec('keep-live');
    const plan = await releaseOf(s);
    const failure = await failureOf(run(acts.deleteSlot, { target: targetOf(s), slot: 'blue', deployment: plan.candidate.deployment }));
    expect(failure.type).toBe('SlotIsLive');
    expect(await dep('keep-live', 'keep-live-blue')).toBeDefined();
  });
});

describe('preview, deletion and preflight', () => {
  it('points the preview at a selector and removes it', async () => {
    const s = spec('preview');
    const t = targetOf(s);
    const ports = [{ name: 'http', port: 8080 }];
    await run(acts.pointPreview, { target: t, selector: { a: 'green' }, ports, releaseId });
    expect((await readService(kube, t, 'preview-preview'))?.spec?.selector).toEqual({ a: 'green' });
    await run(acts.pointPreview, { target: t, selector: { a: 'blue' }, ports, releaseId });
    expect((await readService(kube, t, 'preview-preview'))?.spec?.selector).toEqual({ a: 'blue' });
    await run(acts.removePreview, { target: t });
    expect(await readService(kube, t, 'preview-preview')).toBeUndefined();
    await run(acts.removePreview, { target: t });
  });

  it('refuses a preview Service it did not create, and never removes one', async () => {
    const s = spec('search');
    const t = targetOf(s);
    await kube.core.createNamespacedService({ namespace, body: { metadata: { name: 'search-preview' }, spec: { selector: { app: 'search-preview' }, ports: [{ port: 80 }] } } });
    const failure = await failureOf(run(acts.inspect, s));
    expect(failure.type).toBe('PreflightRefused');
    expect(failure.message).toContain("Service " + namespace + "/search-preview exists and is not Bluegreen's preview for search");
    await run(acts.removePreview, { target: t });
    expect((await readService(kube, t, 'search-preview'))?.spec?.selector).toEqual({ app: 'search-preview' });
  });

  it('releases a model as Bluegreen 0.1 left it: its preview Service is taken as its own and brought up to date', async () => {
    const s = spec('old-timer', { version: 'v2' });
    const t = targetOf(s);
    // Exactly what 0.1 created: its labels and selectors on app.kubernetes.io/name, no bluegreen.dev/service.
    const labels = { 'app.kubernetes.io/name': 'old-timer', 'app.kubernetes.io/managed-by': 'bluegreen' };
    const selector = { 'app.kubernetes.io/name': 'old-timer', slot: 'blue' };
    await kube.apps.createNamespacedDeployment({ namespace, body: {
      metadata: { name: 'old-timer-blue', labels: { ...labels, 'bluegreen.dev/version': 'v1', slot: 'blue' } },
      spec: { replicas: 1, selector: { matchLabels: selector }, template: { metadata: { labels: { ...labels, 'bluegreen.dev/version': 'v1', slot: 'blue' } }, spec: { containers: [{ name: 'model-server', image: 'registry.example.com/ml/model:v1' }] } } },
    } });
    for (const name of ['old-timer', 'old-timer-preview']) {
      await kube.core.createNamespacedService({ namespace, body: { metadata: { name, labels }, spec: { selector, ports: [{ name: 'http', port: 8080 }] } } });
    }
    const plan = await run(acts.inspect, s);
    expect(plan).toMatchObject({ oldSlot: 'blue', previewBefore: selector, live: { deployment: 'old-timer-blue' } });
    await run(acts.pointPreview, { target: t, selector: plan.candidate.selector, ports: plan.ports, releaseId });
    expect((await readService(kube, t, 'old-timer-preview'))?.metadata?.labels).toMatchObject({ ...labels, 'bluegreen.dev/service': 'old-timer' });
    // A 0.1 rollback in flight removes the preview it made.
    await run(acts.pointPreview, { target: t, selector, ports: plan.ports, releaseId });
    await kube.core.patchNamespacedService({ namespace, name: 'old-timer-preview', body: { metadata: { labels: { 'bluegreen.dev/service': null } } } }, setHeaderOptions(...merge()));
    await run(acts.removePreview, { target: t });
    expect(await readService(kube, t, 'old-timer-preview')).toBeUndefined();
  });

  it('deletes a slot; deleting it again is success', async () => {
    const s = spec('delete-twice');
    const plan = await deployCandidate(s, 1);
    expect(await run(acts.deleteSlot, ref(s, plan))).toEqual({ deleted: true });
    expect(await run(acts.deleteSlot, ref(s, plan))).toEqual({ deleted: false });
    expect(await dep('delete-twice', 'delete-twice-blue')).toBeUndefined();
  });

  it('refuses to start beside a leftover candidate slot', async () => {
    const s = spec('leftover');
    await releaseOf(s);
    const plan = await run(acts.inspect, spec('leftover', { version: 'v2' }));
    await run(acts.applyCandidate, { target: targetOf(s), object: plan.object, releaseId, replicas: 1 });
    const failure = await failureOf(run(acts.inspect, s));
    expect(failure.type).toBe('PreflightRefused');
    expect(failure.message).toBe(`Deployment ${namespace}/leftover-green (version v2) exists beside the live blue slot: a leftover of an earlier release; delete it and start again`);
  });

  it('refuses a first release whose pods another model service\'s Service would select', async () => {
    await releaseOf(spec('fraud'));
    // 0.1 named pods by model: a Service of model fraud that selects on it.
    await kube.core.createNamespacedService({ namespace, body: { metadata: { name: 'fraud-legacy' }, spec: { selector: { 'bluegreen.dev/service': 'fraud-eu' }, ports: [{ port: 80 }] } } });
    const failure = await failureOf(run(acts.inspect, spec('fraud', { service: 'fraud-eu' })));
    expect(failure.type).toBe('PreflightRefused');
    expect(failure.message).toContain('would also be selected by Service fraud-legacy');
  });

  it('refuses verification endpoints outside the release\'s Services and the worker\'s allowlist, before anything changes', async () => {
    const s = spec('metadata', { verify: { endpoint: 'http://169.254.169.254/latest/meta-data' } });
    const failure = await failureOf(run(acts.inspect, s));
    expect(failure.type).toBe('EndpointNotAllowed');
    expect(failure.message).toBe(`verify.endpoint: 169.254.169.254 is not one of this release's Services (metadata, metadata-preview in ${namespace}) nor in the worker's BLUEGREEN_VERIFY_HOSTS (empty)`);
    const own = spec('metadata', { verify: { endpoint: `http://metadata-preview.${namespace}.svc.cluster.local:8080` }, monitor: { endpoint: 'http://127.0.0.1:9000' } });
    expect((await failureOf(run(acts.inspect, own))).message).toMatch(/^monitor.endpoint: 127.0.0.1:9000 is not one of/);
    const allowed = createActivities({ kube, allowedEndpointHosts: ['127.0.0.1:9000'] });
    expect((await run(allowed.inspect, own)).candidate.deployment).toBe('metadata-blue');
    // The Prometheus a drain reads is held to the same list, and its header Secrets must be there.
    const draining = spec('metadata', { drain: { inFlight: 'vllm', prometheus: { address: 'http://prometheus.monitoring:9090' } } });
    expect((await failureOf(run(acts.inspect, draining))).message).toMatch(/^drain.prometheus.address: prometheus.monitoring:9090 is not one of/);
    const withPrometheus = createActivities({ kube, allowedEndpointHosts: ['prometheus.monitoring'] });
    const token = spec('metadata', {
      drain: { inFlight: 'vllm', prometheus: { address: 'http://prometheus.monitoring:9090', headers: [{ name: 'Authorization', secretKeyRef: { name: 'prom-token', key: 'bearer' } }] } },
    });
    const missing = await failureOf(run(withPrometheus.inspect, token));
    expect(missing.type).toBe('PreflightRefused');
    expect(missing.message).toBe(`drain.prometheus.headers[0] (Authorization): Secret ${namespace}/prom-token has no key "bearer" (or does not exist)`);
  });

  it('refuses a release for another cluster than the one this worker serves', async () => {
    const prod = createActivities({ kube, clusterName: 'prod-eu' });
    expect((await failureOf(run(prod.inspect, spec('elsewhere', { cluster: 'prod-us' })))).message).toBe('the release targets cluster prod-us, but this worker serves prod-eu');
    expect((await failureOf(run(prod.inspect, spec('elsewhere')))).message).toBe('the release targets cluster (none named), but this worker serves prod-eu');
    expect((await run(prod.inspect, spec('elsewhere', { cluster: 'prod-eu' }))).candidateSlot).toBe('blue');
  });

  it('refuses a namespace outside the allowlist before any call', async () => {
    const guarded = createActivities({ kube, allowedNamespaces: ['ml-prod'] });
    const s = spec('not-allowed');
    const failure = await failureOf(run(guarded.inspect, s));
    expect(failure.type).toBe('NamespaceNotAllowed');
    expect(failure.message).toBe(`namespace "${namespace}" is not in this worker's allowlist (ml-prod)`);
    expect(await dep('not-allowed', 'not-allowed-blue')).toBeUndefined();
  });
});
