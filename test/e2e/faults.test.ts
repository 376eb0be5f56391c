// Kubernetes API faults: the worker talks to the API server through a proxy that
// answers 500/503/429, resets connections, answers slowly and refuses writes with
// 409 at a set rate. Releases must still end right, with no duplicate objects,
// and say why when they give up.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { World, writeKubeconfig } from './world.js';

const RATE = 0.2;
let proxy: FaultProxy;
let w: World;

async function throughProxy(world: World): Promise<void> {
  const admin = new KubeConfig();
  admin.loadFromFile(inject('kubeconfig'));
  proxy = await startFaultProxy(admin, RATE);
  const file = writeKubeconfig({ name: 'faulty', server: proxy.url, skipTLSVerify: true }, { name: 'proxied' });
  world.options = { ...world.options, workerKubeconfig: file };
}

beforeAll(async () => {
  w = await new World({ prefix: 'faults', temporalAddress: inject('temporalAddress'), kubeconfig: inject('kubeconfig'), prepare: throughProxy }).start();
});
afterAll(async () => {
  if (w) console.log(w.report('faults'));
  await w?.close();
  await proxy?.close();
});

async function deploymentsOf(model: string): Promise<string[]> {
  const list = await w.kube.apps.listNamespacedDeployment({ namespace: w.namespace, labelSelector: `app.kubernetes.io/name=${model}` });
  return list.items.map((d) => d.metadata?.name ?? '').sort();
}

describe(`releases with ${RATE * 100}% of API calls failing`, () => {
  it('a first release, a blue-green release and an aborted one all end right, with no duplicates', async () => {
    const watch = await w.bootstrap('faulty');
    expect(await deploymentsOf('faulty')).toEqual(['faulty-blue']);

    const v2 = await w.cli(['start', '-f', w.specFile('faulty', 'v2', { previewReplicas: 1 }), '--wait']);
    expect(v2.stderr).toBe('');
    expect(v2.code).toBe(0);
    expect(await deploymentsOf('faulty')).toEqual(['faulty-green']);
    const before = await w.snapshot('faulty');

    await w.cli(['start', '-f', w.specFile('faulty', 'v1', { monitor: { window: '10m', interval: '1s', endpoint: w.url('v1') } })]);
    await w.waitForPhase('faulty', 'Monitoring');
    const aborted = await w.cli(['abort', 'faulty', '-n', w.namespace, '--reason', 'fault test']);
    expect(aborted.code, aborted.stderr).toBe(0);
    await w.waitForPhase('faulty', 'RolledBack', 300_000);
    expect(await w.snapshot('faulty')).toEqual({ ...before, blue: undefined });
    expect(await deploymentsOf('faulty')).toEqual(['faulty-green']);
    expect(Object.values(proxy.injected).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    console.log(`fault proxy at ${RATE * 100}%: ${proxy.requests} requests, injected ${JSON.stringify(proxy.injected)}`);
    await watch.done();
  }, 400_000);

  it('gives up after bounded retries when every call fails, and says why', async () => {
    // Every call fails (slow answers would still succeed, so none here).
    proxy.rate = 1;
    proxy.only = ['http500', 'http503', 'http429', 'reset'];
    try {
      await w.cli(['start', '-f', w.specFile('unreachable', 'v2')]);
      const end = await w.waitForPhase('unreachable', 'RolledBack', 180_000);
      // Inspect reads the Services and lists in parallel; whichever gives up first is named.
      expect(end.reason).toMatch(/^inspect failed \[KubeError\]: (read Service unreachable(-preview)?|list [A-Za-z]+ in [\w-]+): /);
      expect(end.timeline.filter((e) => e.event === 'undone')).toEqual([]);
    } finally {
      proxy.rate = RATE;
      proxy.only = undefined;
    }
    expect(await deploymentsOf('unreachable')).toEqual([]);
  }, 240_000);
});
