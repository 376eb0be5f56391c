// The slots' Deployments: apply the candidate, scale, wait for a rollout, and
// delete a slot, never one that the live Service selects.
import type { V1Deployment } from '@kubernetes/client-node';
import { ErrorTypes } from '../release/errors.js';
import type { ApplyInput, RolloutInput, RolloutReport, Selector, SlotRef } from '../release/plan.js';
import { RELEASE_ANNOTATION } from '../release/target.js';
import { rolloutState, startupBudgetSeconds } from '../rules/rollout.js';
import { selects, servicesOnlyOn } from '../rules/selectors.js';
import {
  apply, deleteDeployment, deploymentPods, namespaceObjects, readDeployment, scaleDeployment, type Kube,
} from './cluster.js';
import { mustReadFrom, nonRetryable, type ActivityContext } from './context.js';
import { slotWatch, waitFor } from './waits.js';

/**
 * A slot's Deployment, read fresh, unless the live Service selects its pods
 * (what serves traffic is never deleted or drained) or another Service selects
 * them alone (it would be left with no endpoints). Undefined: it is gone.
 */
export async function retirable(kube: Kube, { target, deployment: name }: SlotRef): Promise<V1Deployment | undefined> {
  // The namespace's Services hold the live one: one fresh list answers both questions.
  const [deployment, lists] = await Promise.all([readDeployment(kube, target, name), namespaceObjects(kube, target.namespace)]);
  if (deployment === undefined) return undefined;
  const selector = lists.services.find((s) => s.metadata?.name === target.service)?.spec?.selector;
  if (selects(selector, deployment.spec?.template?.metadata?.labels)) {
    throw nonRetryable(ErrorTypes.SlotIsLive, `Service ${target.namespace}/${target.service} selects ${JSON.stringify(selector)}, the pods of Deployment ${name}: it serves live traffic, so it was not deleted`);
  }
  const emptied = servicesOnlyOn(deployment, lists.deployments, lists.services);
  if (emptied.length > 0) {
    const names = emptied.map((s) => `${s.metadata?.name} ${JSON.stringify(s.spec?.selector)}`).join(', ');
    throw nonRetryable(ErrorTypes.SlotIsLive, `Service ${names} in ${target.namespace} selects only the pods of Deployment ${name}: deleting it would leave that Service with no endpoints, so it was not deleted; point the Service at the live slot, then delete ${name}`);
  }
  return deployment;
}

/** Deletes a slot's Deployment, unless a Service still needs its pods (see retirable). */
async function deleteSlot(kube: Kube, ref: SlotRef): Promise<{ deleted: boolean }> {
  if (await retirable(kube, ref) === undefined) return { deleted: false };
  return { deleted: await deleteDeployment(kube, ref.target, ref.deployment) };
}

export function slotActivities({ kube, pollMs }: ActivityContext) {
  return {
    async applyCandidate({ object, replicas, releaseId }: ApplyInput): Promise<void> {
      const annotations = { ...object.metadata?.annotations, [RELEASE_ANNOTATION]: releaseId };
      await apply(kube, { ...object, metadata: { ...object.metadata, annotations }, spec: { ...object.spec!, replicas } });
    },

    async scaleSlot({ target, deployment, replicas }: SlotRef & { replicas: number }): Promise<void> {
      await scaleDeployment(kube, target, deployment, replicas);
    },

    /** Deletes a slot's Deployment, unless a Service would lose its endpoints (see deleteSlot). */
    deleteSlot: (ref: SlotRef) => deleteSlot(kube, ref),

    /**
     * Waits until no pod carries a slot's labels any more (its Deployment was
     * deleted): a selector that also matches them can then be restored.
     * `atMost`: until that many are left (a stepped release's scale-down: a
     * terminating pod still holds its GPUs).
     */
    async waitForPodsGone(input: SlotRef & { selector: Selector; timeoutMs: number; atMost?: number }): Promise<void> {
      const { target, deployment, selector, timeoutMs, atMost = 0 } = input;
      const what = atMost === 0 ? `the pods of ${deployment} (${JSON.stringify(selector)}) gone` : `at most ${atMost} pods of ${deployment} left`;
      await waitFor(kube, pollMs, what, timeoutMs, slotWatch(target, deployment), async (reads) => {
        const left = (await reads.pods(selector)).length;
        return { done: left <= atMost, progress: { left } };
      });
    },

    /**
     * Scales the old slot to its standby size after promotion and says what a
     * rollback would wait for: the pods to start, and how long its probes may take.
     */
    async standBy({ target, deployment, replicas }: SlotRef & { replicas: number }): Promise<{ startupSeconds: number }> {
      await scaleDeployment(kube, target, deployment, replicas);
      const read = await readDeployment(kube, target, deployment);
      return { startupSeconds: startupBudgetSeconds(read?.spec?.template?.spec) };
    },

    /**
     * Waits until a slot's Deployment has rolled out. With `restoreReplicas` (a
     * rollback), a slot scaled to 0 is scaled back first, and one ready pod is
     * enough: traffic can go back as soon as something serves it.
     */
    async waitForRollout(input: RolloutInput): Promise<RolloutReport> {
      const { target, deployment: name, replicas, restoreReplicas, minReady, timeoutMs } = input;
      let restored = false;
      const slot = slotWatch(target, name);
      const what = minReady === undefined ? `rollout of ${name}` : `${name} holding the ${minReady} ready pods the switch needs`;
      return waitFor(kube, pollMs, what, timeoutMs, slot, async (reads) => {
        const deployment = slot.seen(await mustReadFrom(reads, target, name, ErrorTypes.RolloutFailed));
        const available = deployment.status?.availableReplicas ?? 0;
        if (restoreReplicas !== undefined && !restored && (deployment.spec?.replicas ?? 1) === 0) {
          await scaleDeployment(kube, target, name, restoreReplicas);
          restored = true;
          return { done: false, progress: { ready: 0, total: restoreReplicas } };
        }
        if (replicas !== undefined && deployment.spec?.replicas !== replicas) {
          return { done: false, progress: { ready: available, total: replicas } };
        }
        // Until the controller has seen this generation, its current ReplicaSet may be the previous one's.
        if ((deployment.status?.observedGeneration ?? 0) < (deployment.metadata?.generation ?? 1)) {
          return { done: false, progress: { ready: available, total: deployment.spec?.replicas ?? 1 } };
        }
        const state = rolloutState(deployment, await deploymentPods(reads, deployment, true));
        if (restoreReplicas !== undefined) return { done: state.ready >= 1, progress: { ready: state.ready, total: state.total } };
        if (state.failure !== undefined) throw nonRetryable(ErrorTypes.RolloutFailed, state.failure);
        const done = minReady === undefined ? state.done : state.ready >= minReady;
        // A pod the scheduler cannot place says why: the timeout's message (and the rollback's reason) carries it.
        const unschedulable = state.unschedulable === undefined ? {} : { unschedulable: state.unschedulable };
        return { done, progress: { ready: state.ready, total: state.total, ...unschedulable } };
      }, ErrorTypes.RolloutTimeout);
    },
  };
}
