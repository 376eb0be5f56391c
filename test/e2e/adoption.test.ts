// Releases on a blue-green setup made by hand, the way people run one before
// Bluegreen: a Service `model-service` selecting `app: model, env: blue` and a
// Deployment `model-deploy-blue`. Everything real, under the zero-downtime watcher.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PatchStrategy, setHeaderOptions, type V1PodDisruptionBudget } from '@kubernetes/client-node';
import { readDeployment, readService } from '../../src/activities/cluster.js';
import { watchDowntime } from './downtime-watcher.js';
import { World } from './world.js';

let w: World;
beforeAll(async () => {
  w = await new World({ prefix: 'adopt', temporalAddress: inject('temporalAddress'), kubeconfig: inject('kubeconfig') }).start();
});
afterAll(async () => {
  if (w) console.log(w.report('adoption'));
  await w?.close();
});

const labels = (env: string, app = 'model') => ({ app, env });

/** The seed's setup, created as `kubectl apply` would. */
async function handMadeSetup(service: string, deployment: string, app = 'model'): Promise<void> {
  await w.kube.apps.createNamespacedDeployment({
    namespace: w.namespace,
    body: {
      metadata: { name: deployment, labels: { app } },
      spec: {
        replicas: 2, selector: { matchLabels: labels('blue', app) },
        template: {
          metadata: { labels: labels('blue', app) },
          spec: {
            containers: [{
              name: 'server', image: 'registry.example.com/ml/fraud:v1', args: ['--port', '8080'],
              ports: [{ name: 'http', containerPort: 8080 }, { name: 'grpc', containerPort: 8081 }, { name: 'metrics', containerPort: 9090 }],
              volumeMounts: [{ name: 'shm', mountPath: '/dev/shm' }],
            }],
            volumes: [{ name: 'shm', emptyDir: { medium: 'Memory' } }],
            tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
          },
        },
      },
    },
  });
  await w.kube.core.createNamespacedService({
    namespace: w.namespace,
    body: { metadata: { name: service }, spec: { selector: labels('blue', app), ports: [{ name: 'http', port: 80, targetPort: 'http' as never }, { name: 'grpc', port: 8081, targetPort: 'grpc' as never }] } },
  });
  const t = w.target(service);
  for (let i = 0; i < 100 && ((await readDeployment(w.kube, t, deployment))?.status?.availableReplicas ?? 0) < 2; i += 1) await new Promise((r) => setTimeout(r, 100));
}

/** The published vLLM shape, as `kubectl apply` makes it: Service and Deployment named alike, selecting `app` alone. */
async function vllmSetup(name: string): Promise<void> {
  const labels = { app: name };
  await w.kube.apps.createNamespacedDeployment({
    namespace: w.namespace,
    body: {
      metadata: { name, labels },
      spec: {
        replicas: 2, selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: { containers: [{ name: 'vllm', image: 'vllm/vllm-openai:v0.8.5', args: ['--model', 'meta-llama/Llama-3.1-8B-Instruct'], ports: [{ name: 'http', containerPort: 8000 }] }] },
        },
      },
    },
  });
  await w.kube.core.createNamespacedService({ namespace: w.namespace, body: { metadata: { name }, spec: { selector: labels, ports: [{ name: 'http', port: 8000, targetPort: 'http' as never }] } } });
  await w.waitUntil(async () => (await readDeployment(w.kube, w.target(name), name))?.status?.availableReplicas === 2, `${name} available`);
}

const vllmSpec = (service: string, more: Record<string, unknown> = {}) =>
  w.specFile('vllm', 'v2', { service, image: 'vllm/vllm-openai:v0.9.0', replicas: undefined, ...more });

/** KEDA's ScaledObject API, as a minimal CRD: Bluegreen finds it through discovery. */
async function ensureScaledObjectCrd(): Promise<void> {
  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'scaledobjects.keda.sh' },
    spec: {
      group: 'keda.sh', scope: 'Namespaced', names: { kind: 'ScaledObject', plural: 'scaledobjects', singular: 'scaledobject', listKind: 'ScaledObjectList' },
      // The client's typed model names the field x_kubernetes_preserve_unknown_fields (it writes x-kubernetes-...).
      versions: [{ name: 'v1alpha1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } } }],
    },
  };
  await w.kube.objects.create(crd).catch((err: { code?: number }) => { if (err.code !== 409) throw err; });
  await w.waitUntil(() => w.kube.objects.list('keda.sh/v1alpha1', 'ScaledObject', w.namespace).then(() => true, () => false), 'the ScaledObject API served');
}

/** A spec that releases into the hand-made setup: only version and image, the rest (replicas too) from the live Deployment. */
function adoptSpec(service: string, version: 'v1' | 'v2', more: Record<string, unknown> = {}): string {
  const file = w.specFile('model', version, { service, slotLabel: 'env', image: `registry.example.com/ml/fraud:${version}`, replicas: undefined, ...more });
  return file;
}

describe('adopting a blue-green setup made by hand', () => {
  it('adopts model-deploy-blue, promotes model-deploy-green with no gap, then releases again from there', async () => {
    await handMadeSetup('model-service', 'model-deploy-blue');
    const watcher = watchDowntime(w.kube, w.namespace, 'model-service');
    const t = w.target('model-service');
    const first = await w.cli(['start', '-f', adoptSpec('model-service', 'v2'), '--wait']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const status = await w.status('model-service');
    expect(status?.timeline.find((e) => e.event === 'plan')?.detail).toBe('live slot blue is Deployment model-deploy-blue (adopted: found by the live Service\'s selector, not created by Bluegreen); candidate goes into green as Deployment model-deploy-green');

    expect((await readService(w.kube, t, 'model-service'))?.spec?.selector).toEqual(labels('green'));
    expect(await readDeployment(w.kube, t, 'model-deploy-blue')).toBeUndefined();
    const green = await readDeployment(w.kube, t, 'model-deploy-green');
    expect(green?.spec?.replicas).toBe(2); // the live Deployment's size, with no replicas in the spec
    // The live template, released with the new image: args, ports, volumes and tolerations as they were.
    expect(green?.spec?.template.spec?.containers[0]).toMatchObject({ name: 'server', image: 'registry.example.com/ml/fraud:v2', args: ['--port', '8080'], volumeMounts: [{ name: 'shm', mountPath: '/dev/shm' }] });
    expect(green?.spec?.template.spec?.containers[0]?.ports?.map((p) => p.name)).toEqual(['http', 'grpc', 'metrics']);
    expect(green?.spec?.template.spec?.volumes).toEqual([{ name: 'shm', emptyDir: { medium: 'Memory' } }]);
    expect(green?.spec?.template.spec?.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    expect((await readService(w.kube, t, 'model-service-preview'))?.spec?.ports?.map((p) => p.port)).toEqual([80, 8081]);

    const second = await w.cli(['start', '-f', adoptSpec('model-service', 'v1'), '--wait']);
    expect(second.code).toBe(0);
    expect((await readService(w.kube, t, 'model-service'))?.spec?.selector).toEqual(labels('blue'));
    expect(await readDeployment(w.kube, t, 'model-deploy-green')).toBeUndefined();
    expect((await readDeployment(w.kube, t, 'model-deploy-blue'))?.spec?.template.metadata?.labels?.['bluegreen.dev/version']).toBe('v1');

    const r = await watcher.stop();
    Object.assign(w.downtime, { samples: w.downtime.samples + r.samples, noReady: w.downtime.noReady + r.noReady, mixed: w.downtime.mixed + r.mixed });
    expect(r.samples).toBeGreaterThan(10);
    expect(r, r.examples.join('; ')).toMatchObject({ noReady: 0, mixed: 0 });
  });

  it('refuses to switch when a pod it does not own would join the Service; rolls back, cluster unchanged', async () => {
    await handMadeSetup('rogue-service', 'rogue-blue', 'rogue');
    const t = w.target('rogue-service');
    await w.cli(['start', '-f', adoptSpec('rogue-service', 'v2', { approval: { beforeSwitch: true } })]);
    await w.waitForPhase('rogue-service', 'AwaitingApproval');
    // Someone starts a pod with the labels the live Service would select after the switch.
    await w.kube.core.createNamespacedPod({ namespace: w.namespace, body: { metadata: { name: 'by-hand', labels: labels('green', 'rogue') }, spec: { containers: [{ name: 'c', image: 'x:1' }] } } });
    const watcher = watchDowntime(w.kube, w.namespace, 'rogue-service');
    await w.cli(['approve', 'rogue-service', '-n', w.namespace]);
    const end = await w.waitForPhase('rogue-service', 'RolledBack');
    expect(end.reason).toMatch(/^switchTraffic failed \[SwitchRefused\]: not switched: the selector \{"app":"rogue","env":"green"\} would also select pods that are not Deployment rogue-green's \(by-hand\)/);
    expect((await readService(w.kube, t, 'rogue-service'))?.spec?.selector).toEqual(labels('blue', 'rogue'));
    expect(await readDeployment(w.kube, t, 'rogue-green')).toBeUndefined();
    expect((await readDeployment(w.kube, t, 'rogue-blue'))?.spec?.replicas).toBe(2);
    expect(await readService(w.kube, t, 'rogue-service-preview')).toBeUndefined();
    const r = await watcher.stop();
    expect(r, r.examples.join('; ')).toMatchObject({ noReady: 0, mixed: 0 });
  });

  it('adopts an unslotted vLLM-shaped setup (Service app: vllm, Deployment vllm): narrowed, switched with the slot label, no gap', async () => {
    await vllmSetup('vllm');
    const t = w.target('vllm');
    const watcher = watchDowntime(w.kube, w.namespace, 'vllm');
    const run = await w.cli(['start', '-f', vllmSpec('vllm'), '--wait']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const status = await w.status('vllm');
    expect(status?.timeline.find((e) => e.event === 'plan')?.detail).toBe('adopting an unslotted setup (Service vllm selects {"app":"vllm"}, no "slot" label): live slot blue is Deployment vllm (adopted: found by the live Service\'s selector, not created by Bluegreen); candidate goes into green as Deployment vllm-green');
    expect(status?.timeline.find((e) => e.event === 'narrowed')?.detail).toMatch(/^Service vllm selects \{"app":"vllm","pod-template-hash":"\w+"\}: the pods it served, and not the candidate's$/);
    expect((await readService(w.kube, t, 'vllm'))?.spec?.selector).toEqual({ app: 'vllm', slot: 'green' });
    expect(await readDeployment(w.kube, t, 'vllm')).toBeUndefined();
    const green = await readDeployment(w.kube, t, 'vllm-green');
    expect(green?.spec?.replicas).toBe(2);
    expect(green?.spec?.template.spec?.containers[0]).toMatchObject({ name: 'vllm', image: 'vllm/vllm-openai:v0.9.0', args: ['--model', 'meta-llama/Llama-3.1-8B-Instruct'] });
    const r = await watcher.stop();
    expect(r.samples).toBeGreaterThan(10);
    expect(r, r.examples.join('; ')).toMatchObject({ noReady: 0, mixed: 0 });
  });

  it('an unslotted release aborted before the switch leaves the old Deployment alone and restores the selector exactly', async () => {
    await vllmSetup('vllm-abort');
    const t = w.target('vllm-abort');
    // A PodDisruptionBudget as users write it, on the app label: it covers both slots.
    const pdbRef = { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'vllm-abort', namespace: w.namespace } };
    await w.kube.objects.create({ ...pdbRef, spec: { minAvailable: 1, selector: { matchLabels: { app: 'vllm-abort' } } } });
    await w.cli(['start', '-f', vllmSpec('vllm-abort', { approval: { beforeSwitch: true } })]);
    await w.waitForPhase('vllm-abort', 'AwaitingApproval');
    const watcher = watchDowntime(w.kube, w.namespace, 'vllm-abort');
    // The old Deployment's selector (app: vllm-abort) also matches the candidate's pods: its controllers
    // count and scale only their own (pods by owner), and the Service selects the old ReplicaSet's alone.
    const pods = (await w.kube.core.listNamespacedPod({ namespace: w.namespace, labelSelector: 'app=vllm-abort' })).items;
    expect(pods.map((p) => p.metadata?.name?.startsWith('vllm-abort-green-') ? 'green' : 'old').sort()).toEqual(['green', 'green', 'old', 'old']);
    await w.kube.apps.patchNamespacedDeploymentScale({ name: 'vllm-abort', namespace: w.namespace, body: { spec: { replicas: 1 } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await w.waitUntil(async () => (await readDeployment(w.kube, t, 'vllm-abort'))?.status?.replicas === 1, 'the old Deployment at 1 replica');
    expect((await readDeployment(w.kube, t, 'vllm-abort'))?.status?.replicas).toBe(1);
    expect((await readDeployment(w.kube, t, 'vllm-abort-green'))?.status?.readyReplicas).toBe(2);
    await w.waitUntil(async () => ((await w.kube.objects.read(pdbRef)) as V1PodDisruptionBudget).status?.expectedPods === 3, 'the PDB counting both slots\' pods');
    const narrowed = (await readService(w.kube, t, 'vllm-abort'))?.spec?.selector;
    expect(Object.keys(narrowed ?? {}).sort()).toEqual(['app', 'pod-template-hash']);

    await w.cli(['abort', 'vllm-abort', '-n', w.namespace, '--reason', 'changed my mind']);
    const end = await w.waitForPhase('vllm-abort', 'RolledBack');
    expect(end.timeline.map((e) => e.event)).toContain('selector restored');
    expect((await readService(w.kube, t, 'vllm-abort'))?.spec?.selector).toEqual({ app: 'vllm-abort' });
    expect(await readDeployment(w.kube, t, 'vllm-abort-green')).toBeUndefined();
    expect((await readDeployment(w.kube, t, 'vllm-abort'))?.metadata?.labels).toEqual({ app: 'vllm-abort' });
    const r = await watcher.stop();
    expect(r, r.examples.join('; ')).toMatchObject({ noReady: 0, mixed: 0 });
  });

  it('refuses an unslotted Service that also selects a pod of something else, naming it, before anything changes', async () => {
    await vllmSetup('vllm-stray');
    await w.kube.core.createNamespacedPod({ namespace: w.namespace, body: { metadata: { name: 'debug-shell', labels: { app: 'vllm-stray' } }, spec: { containers: [{ name: 'c', image: 'busybox:1' }] } } });
    const run = await w.cli(['start', '-f', vllmSpec('vllm-stray'), '--wait']);
    expect(run.code).not.toBe(0);
    const end = await w.status('vllm-stray');
    expect(end?.reason).toContain('also selects pods that are not Deployment vllm-stray\'s: debug-shell (no owner)');
    expect((await readService(w.kube, w.target('vllm-stray'), 'vllm-stray'))?.spec?.selector).toEqual({ app: 'vllm-stray' });
  });

  it('an HPA and a KEDA ScaledObject on the live Deployment follow the release to the candidate, and back on a rollback', async () => {
    await handMadeSetup('scaled-service', 'scaled-blue', 'scaled');
    await ensureScaledObjectCrd();
    const scaler = (kind: string, apiVersion: string, name: string, spec: object) => ({ apiVersion, kind, metadata: { name, namespace: w.namespace }, spec });
    const hpa = scaler('HorizontalPodAutoscaler', 'autoscaling/v2', 'scaled', { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'scaled-blue' }, minReplicas: 2, maxReplicas: 6, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }] });
    const keda = scaler('ScaledObject', 'keda.sh/v1alpha1', 'scaled-queue', { scaleTargetRef: { name: 'scaled-blue' }, minReplicaCount: 1, maxReplicaCount: 8, triggers: [{ type: 'cpu', metadata: { value: '70' } }] });
    await w.kube.objects.create(hpa);
    await w.kube.objects.create(keda);
    const targetOf = async (o: typeof hpa) => ((await w.kube.objects.read(o)) as { spec: { scaleTargetRef: { name: string } } }).spec.scaleTargetRef.name;

    const refused = await w.cli(['start', '-f', adoptSpec('scaled-service', 'v2', { replicas: 7 }), '--wait']);
    expect(refused.code).not.toBe(0);
    expect((await w.status('scaled-service'))?.reason).toContain("replicas (7) is outside HorizontalPodAutoscaler scaled's 2..6");

    const run = await w.cli(['start', '-f', adoptSpec('scaled-service', 'v2'), '--wait']);
    expect(run.code).toBe(0);
    expect([await targetOf(hpa), await targetOf(keda)]).toEqual(['scaled-green', 'scaled-green']);
    const details = (await w.status('scaled-service'))?.timeline.filter((e) => e.event === 'autoscaler').map((e) => e.detail);
    expect(details).toEqual([`HorizontalPodAutoscaler ${w.namespace}/scaled scales scaled-green (was scaled-blue)`, `ScaledObject ${w.namespace}/scaled-queue scales scaled-green (was scaled-blue)`]);

    await w.cli(['start', '-f', adoptSpec('scaled-service', 'v1', { approval: { afterSwitch: 'manual' }, monitor: { window: '1h', interval: '1s', initialDelay: '0s', endpoint: w.url('v1') } })]);
    await w.waitFor('scaled-service', (s) => s.phase === 'Monitoring' && s.timeline.some((e) => e.event === 'autoscaler'), 'the autoscalers moved');
    expect([await targetOf(hpa), await targetOf(keda)]).toEqual(['scaled-blue', 'scaled-blue']);
    await w.cli(['abort', 'scaled-service', '-n', w.namespace, '--reason', 'testing the way back']);
    await w.waitForPhase('scaled-service', 'RolledBack');
    expect([await targetOf(hpa), await targetOf(keda)]).toEqual(['scaled-green', 'scaled-green']);
  });

  it('validate refuses a model name too long for its Services, before anything starts', async () => {
    const long = w.specFile(`m${'a'.repeat(59)}`, 'v1');
    const validate = await w.cli(['validate', '-f', long]);
    expect(validate.code).toBe(1);
    expect(validate.stderr).toContain('model: must be at most 55 characters when service is not set');
  });
});
