// Capacity before anything changes: fake GPU nodes (kwok nodes advertise any
// capacity), a live slot that takes every GPU they have, and a release that
// cannot fit beside it, refused at once with the numbers.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { V1Node } from '@kubernetes/client-node';
import { readDeployment, readService } from '../../src/activities/cluster.js';
import { World } from './world.js';

let w: World;
const gpuNodes = ['a', 'b'].map((n) => `gpu-${n}-${process.pid}`);
/** Nodes a cluster autoscaler would add, made by the test. */
const addedNodes = ['c', 'd'].map((n) => `gpu-${n}-${process.pid}`);

/** A fake GPU node, as a GPU node pool is set up: a label to select it by, a taint that keeps other pods off. */
async function addGpuNode(name: string): Promise<void> {
  const kwokNode = (await w.kube.core.listNode()).items.find((n) => n.metadata?.annotations?.['kwok.x-k8s.io/node'] !== undefined);
  const node: V1Node = {
    metadata: { name, labels: { 'accelerator': 'a100', 'kubernetes.io/hostname': name, type: 'kwok' }, annotations: kwokNode?.metadata?.annotations ?? { 'kwok.x-k8s.io/node': 'fake' } },
    spec: { taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }] },
    status: { allocatable: { cpu: '8', memory: '32Gi', pods: '110', 'nvidia.com/gpu': '1' }, capacity: { cpu: '8', memory: '32Gi', pods: '110', 'nvidia.com/gpu': '1' } },
  };
  await w.kube.core.createNode({ body: node });
}

beforeAll(async () => {
  w = await new World({ prefix: 'capacity', temporalAddress: inject('temporalAddress'), kubeconfig: inject('kubeconfig') }).start();
  for (const name of gpuNodes) await addGpuNode(name);
});
afterAll(async () => {
  for (const name of [...gpuNodes, ...addedNodes]) await w?.kube.core.deleteNode({ name }).catch(() => undefined);
  await w?.close();
});

/** A GPU model server's template: one GPU per pod, on the GPU pool. */
const gpuTemplate = (version: string) => ({
  metadata: { labels: { app: 'llm' } },
  spec: {
    nodeSelector: { accelerator: 'a100' },
    tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
    containers: [{ name: 'server', image: `registry.example.com/ml/llm:${version}`, resources: { requests: { cpu: '2', memory: '8Gi' }, limits: { 'nvidia.com/gpu': '1' } }, ports: [{ name: 'http', containerPort: 8080 }] }],
  },
});

describe('capacity before anything changes', () => {
  it('a candidate that cannot fit beside the live slot is refused at once, naming the resource and the free GPUs per node', async () => {
    const first = await w.cli(['start', '-f', w.specFile('llm', 'v1', { image: undefined, template: gpuTemplate('v1') }), '--wait']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const t = w.target('llm');
    const pods = (await w.kube.core.listNamespacedPod({ namespace: w.namespace, labelSelector: 'app=llm' })).items;
    expect(pods.map((p) => p.spec?.nodeName).sort()).toEqual([...gpuNodes].sort());

    const started = Date.now();
    const refused = await w.cli(['start', '-f', w.specFile('llm', 'v2', { image: undefined, template: gpuTemplate('v2') }), '--wait']);
    const took = Date.now() - started;
    console.log(`capacity refusal: ${took} ms from start to the CLI's answer`);
    expect(refused.code).not.toBe(0);
    const status = await w.status('llm');
    expect(status?.phase, status?.reason).toBe('RolledBack'); // a preflight refusal: nothing to undo
    expect(status?.reason).toContain('not enough nvidia.com/gpu for llm-green: 2 pods × 1 = 2 needed beside the live slot, free on the nodes it can run on: ');
    expect(status?.reason).toContain(`${gpuNodes[0]} 0 of 1`);
    expect(status?.reason).toContain('(nodeSelector accelerator=a100)');
    expect(status?.reason).toContain('no pod of it fits now');
    expect(took).toBeLessThan(30_000);
    // Nothing changed: no candidate, the live Service on blue.
    expect(await readDeployment(w.kube, t, 'llm-green')).toBeUndefined();
    expect((await readService(w.kube, t, 'llm'))?.spec?.selector?.slot).toBe('blue');
  });

  it('with capacity.whenShort: wait the pods wait Pending, status shows the scheduler\'s words, and the release goes on once nodes are added', async () => {
    // The live slot of the test above holds both GPUs; the next release waits for room.
    await w.cli(['start', '-f', w.specFile('llm', 'v2', { image: undefined, template: gpuTemplate('v2'), capacity: { whenShort: 'wait', timeout: '3m' } })]);
    const pending = await w.waitFor('llm', (s) => s.version === 'v2' && s.phase === 'Deploying', 'Deploying');
    expect(pending.timeline.find((e) => e.event === 'warning')?.detail).toMatch(/^not enough nvidia.com\/gpu for llm-green: 2 pods × 1 = 2 needed .*; capacity.whenShort is wait: its pods wait up to 3m for room$/);
    let shown = '';
    await w.waitUntil(async () => {
      shown = (await w.cli(['status', 'llm', '-n', w.namespace])).stdout;
      return shown.includes('not scheduled: ');
    }, 'status showing the scheduler\'s message', 60_000);
    expect(shown).toMatch(/running {3}waitForRollout .*0\/2 ready\n {10}not scheduled: 0\/\d+ nodes are available: .*2 Insufficient nvidia.com\/gpu/);
    // What a cluster autoscaler does for Pending pods: two more GPU nodes.
    for (const name of addedNodes) await addGpuNode(name);
    const done = await w.waitForPhase('llm', 'Succeeded', 120_000);
    expect(done.liveSlot).toBe('green');
    // The candidate's pods (the old slot's may still be terminating on the old nodes).
    const pods = (await w.kube.core.listNamespacedPod({ namespace: w.namespace, labelSelector: 'app=llm,slot=green' })).items;
    expect(pods.map((p) => p.spec?.nodeName).sort()).toEqual([...addedNodes].sort());
  });
});
