// A wait reads the watches' memory to know when to look, but its verdicts are
// the API server's: a watch that lags at the deadline does not fail a good rollout.
import { describe, expect, it } from 'vitest';
import type { V1Deployment } from '@kubernetes/client-node';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../src/activities/index.js';
import type { Kube } from '../../src/activities/cluster.js';

const deployment = (available: number): V1Deployment => ({
  metadata: { name: 'm-green', generation: 1 },
  spec: { replicas: 2, selector: { matchLabels: { slot: 'green' } }, template: {} },
  status: { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: available },
});

describe('a watched wait at its deadline', () => {
  it('asks the API server before it gives up, and ends done when the API server says so', async () => {
    const empty = async () => ({ items: [] });
    const lagging = {
      inSync: true,
      // Memory still holds the Deployment before its pods became available.
      reads: () => ({ deployment: async () => deployment(0), pods: async () => [], replicaSets: async () => [], endpointSlices: async () => [] }),
      next: (_touches: unknown, ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
    };
    const kube = {
      apps: { readNamespacedDeployment: async () => deployment(2), listNamespacedReplicaSet: empty },
      core: { listNamespacedPod: empty },
      watches: { of: () => lagging },
    } as unknown as Kube;
    const acts = createActivities({ kube });
    const target = { namespace: 'ml', model: 'm', service: 'm', slotLabel: 'slot' };
    const report = await new MockActivityEnvironment().run(acts.waitForRollout, { target, slot: 'green' as const, deployment: 'm-green', timeoutMs: 500 });
    expect(report).toEqual({ ready: 2, total: 2 });
  });
});
