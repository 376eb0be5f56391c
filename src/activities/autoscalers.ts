// The move of an autoscaler's target (an HPA's or a KEDA ScaledObject's)
// between the slots' Deployments at the switch and on a rollback.
import { ApiException, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { ErrorTypes } from '../release/errors.js';
import type { RetargetInput } from '../release/plan.js';
import { FIELD_MANAGER } from '../release/target.js';
import type { Listed } from '../rules/around.js';
import { kubeError } from './cluster.js';
import { nonRetryable, type ActivityContext } from './context.js';

export function autoscalerActivities({ kube }: ActivityContext) {
  return {
    /**
     * Moves an autoscaler's scaleTargetRef from one slot's Deployment to the
     * other's, guarded like the selector: the patch carries the resourceVersion
     * read, and a target that is neither is someone else's change, refused (or,
     * on a rollback, left alone).
     */
    async retargetAutoscaler({ target, autoscaler, from, to, back }: RetargetInput): Promise<{ detail: string }> {
      const { apiVersion, kind, name } = autoscaler;
      const ref = { apiVersion, kind, metadata: { name, namespace: target.namespace } };
      const where = `${kind} ${target.namespace}/${name}`;
      let found: KubernetesObject & Listed;
      try {
        found = await kube.objects.read(ref);
      } catch (err) {
        if (back && err instanceof ApiException && err.code === 404) return { detail: `${where} is gone; nothing to move back` };
        throw kubeError(`read ${where}`, err);
      }
      const current = found.spec?.scaleTargetRef?.name;
      if (current === to) return { detail: `${where} scales ${to}` };
      if (current !== from) {
        if (back) return { detail: `${where} scales ${current}, not ${from}; left as it is` };
        throw nonRetryable(ErrorTypes.SelectorConflict, `${where} scales ${current}, not ${from} as at preflight; not overwritten`);
      }
      try {
        await kube.objects.patch(
          {
            ...ref,
            metadata: { ...ref.metadata, resourceVersion: found.metadata?.resourceVersion },
            spec: { scaleTargetRef: { name: to } },
          },
          undefined, undefined, FIELD_MANAGER, undefined, PatchStrategy.MergePatch,
        );
      } catch (err) {
        // 409: changed between the read and the patch; the next attempt reads it again.
        throw kubeError(`move ${where} to ${to}`, err);
      }
      return { detail: `${where} scales ${to} (was ${from})` };
    },
  };
}
