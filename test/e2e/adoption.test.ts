// Releases on a blue-green setup made by hand, the way people run one before
// Bluegreen: a Service `model-service` selecting `app: model, env: blue` and a
// Deployment `model-deploy-blue`. Everything real, under the zero-downtime watcher.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
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

  it('validate refuses a model name too long for its Services, before anything starts', async () => {
    const long = w.specFile(`m${'a'.repeat(59)}`, 'v1');
    const validate = await w.cli(['validate', '-f', long]);
    expect(validate.code).toBe(1);
    expect(validate.stderr).toContain('model: must be at most 55 characters when service is not set');
  });
});
