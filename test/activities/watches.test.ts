// The worker's shared watches against the real API server: they hold what a
// direct read returns, wake a wait only for changes it waits on, and a worker
// whose role may list but not watch still finishes its waits by reading.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeConfig, RbacAuthorizationV1Api, type V1Deployment } from '@kubernetes/client-node';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities } from '../../src/activities/index.js';
import { apiReads, kubeFromConfig, type Kube } from '../../src/activities/cluster.js';
import { writeKubeconfig } from '../e2e/world.js';

const namespace = `watch-${randomBytes(3).toString('hex')}`;
let admin: KubeConfig;
let kube: Kube;
const names = (objects: { metadata?: { name?: string } }[]) => objects.map((o) => o.metadata?.name).sort();

const deployment = (name: string, replicas = 1): V1Deployment => ({
  metadata: { name, namespace },
  spec: {
    replicas, selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'model', image: 'registry.example.com/ml/model:v1' }] } },
  },
});

async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  admin = new KubeConfig();
  admin.loadFromFile(inject('kubeconfig'));
  kube = kubeFromConfig(admin);
  await kube.core.createNamespace({ body: { metadata: { name: namespace } } });
  for (const name of ['watched-a', 'watched-b']) await kube.apps.createNamespacedDeployment({ namespace, body: deployment(name, 2) });
});
afterAll(async () => {
  await kube?.watches?.stop();
  await kube?.core.deleteNamespace({ name: namespace }).catch(() => undefined);
});

describe("the worker's watches", () => {
  it('hold the pods, ReplicaSets, EndpointSlices and Deployments a direct read returns', async () => {
    const watch = kube.watches!.of(namespace);
    await eventually(async () => watch.inSync, Boolean);
    expect(watch.inSync).toBe(true);
    const api = apiReads(kube, namespace);
    const cached = watch.reads(api);
    const pods = await eventually(() => cached.pods({ app: 'watched-a' }), (p) => p.length === 2);
    expect(names(pods)).toEqual(names(await api.pods({ app: 'watched-a' })));
    expect(names(await cached.replicaSets({ app: 'watched-b' }))).toEqual(names(await api.replicaSets({ app: 'watched-b' })));
    expect((await cached.deployment('watched-a'))?.metadata?.uid).toBe((await api.deployment('watched-a'))?.metadata?.uid);
    await kube.core.createNamespacedService({ namespace, body: { metadata: { name: 'watched-a' }, spec: { selector: { app: 'watched-a' }, ports: [{ port: 80 }] } } });
    const slices = await eventually(() => cached.endpointSlices('watched-a'), (s) => s.length > 0);
    expect(names(slices)).toEqual(names(await api.endpointSlices('watched-a')));
    // A Deployment created a moment ago and not yet seen is read from the API server.
    await kube.apps.createNamespacedDeployment({ namespace, body: deployment('watched-c') });
    expect((await cached.deployment('watched-c'))?.metadata?.name).toBe('watched-c');
  });

  it('wake a wait when something it waits on changes, and not for anything else', async () => {
    const watch = kube.watches!.of(namespace);
    await eventually(async () => watch.inSync, Boolean);
    let woke = false;
    const started = Date.now();
    const next = watch.next((kind, obj) => kind === 'Deployment' && obj.metadata?.name === 'watched-a', 10_000).then(() => { woke = true; });
    const annotate = (name: string, value: string) => kube.apps.patchNamespacedDeployment(
      { name, namespace, body: [{ op: 'add', path: '/metadata/annotations', value: { touched: value } }] },
    );
    await annotate('watched-b', 'one');
    await new Promise((r) => setTimeout(r, 500));
    expect(woke).toBe(false);
    await annotate('watched-a', 'two');
    await next;
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('a worker that may list but not watch reads the API server, and its waits still finish', async () => {
    await kube.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'lister' } } });
    const roles = admin.makeApiClient(RbacAuthorizationV1Api);
    await roles.createNamespacedRole({
      namespace, body: {
        metadata: { name: 'lister' },
        rules: [
          { apiGroups: ['apps'], resources: ['deployments', 'replicasets'], verbs: ['get', 'list'] },
          { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
          { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list'] },
        ],
      },
    });
    await roles.createNamespacedRoleBinding({
      namespace, body: {
        metadata: { name: 'lister' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'lister' },
        subjects: [{ kind: 'ServiceAccount', name: 'lister', namespace }],
      },
    });
    const token = await kube.core.createNamespacedServiceAccountToken({ name: 'lister', namespace, body: { spec: { expirationSeconds: 3600, audiences: [] } } });
    const config = new KubeConfig();
    config.loadFromFile(writeKubeconfig(admin.getCurrentCluster()!, { name: 'lister', token: token.status!.token }));
    const lister = kubeFromConfig(config);
    try {
      const acts = createActivities({ kube: lister, pollMs: 200 });
      const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
      await kube.apps.createNamespacedDeployment({ namespace, body: deployment('listed', 2) });
      const target = { model: 'listed', namespace, service: 'listed', slotLabel: 'slot' };
      const report = await env.run(acts.waitForRollout, { target, slot: 'blue' as const, deployment: 'listed', timeoutMs: 60_000 });
      expect(report).toMatchObject({ ready: 2, total: 2 });
      expect(lister.watches!.of(namespace).inSync).toBe(false);
    } finally {
      await lister.watches?.stop();
    }
  });
});
