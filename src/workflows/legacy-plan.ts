// Releases started before adoption (Bluegreen 0.1) recorded a plan of slots
// only. Their histories must still replay and resume, so such a plan is read as
// what 0.1 did: its own Deployment names and `app.kubernetes.io/name` selectors.
import { candidateDeployment } from '../rules/objects.js';
import type { Plan } from '../release/plan.js';
import type { ReleaseSpec } from '../release/spec.js';
import type { Slot } from '../release/status.js';
import { deploymentName, type Target } from '../release/target.js';

interface LegacyPlan { oldSlot?: Slot; candidateSlot: Slot; previewBefore: Slot | null }

export function upgradePlan(plan: Plan | LegacyPlan, spec: ReleaseSpec, t: Target): Plan {
  // Plans recorded before `replicas` was part of them served with the spec's.
  if ('candidate' in plan && plan.candidate !== undefined) return { ...plan, replicas: plan.replicas ?? spec.replicas ?? 1 };
  const selector = (slot: Slot) => ({ 'app.kubernetes.io/name': t.model, [t.slotLabel]: slot });
  const slotPlan = (slot: Slot) => ({ slot, deployment: deploymentName(t, slot), selector: selector(slot) });
  const { oldSlot, candidateSlot } = plan;
  const previewBefore = plan.previewBefore;
  const port = spec.port ?? 8080;
  return {
    oldSlot, candidateSlot,
    live: oldSlot === undefined ? undefined : { ...slotPlan(oldSlot), replicas: spec.replicas ?? 1, adopted: false },
    candidate: slotPlan(candidateSlot),
    replicas: spec.replicas ?? 1,
    object: candidateDeployment(spec, t, {
      name: deploymentName(t, candidateSlot), slot: candidateSlot, selector: selector(candidateSlot),
    }),
    previewBefore: typeof previewBefore === 'string' ? selector(previewBefore) : previewBefore,
    ports: [{ name: 'http', port, targetPort: 'http' as never }],
    port,
  };
}

