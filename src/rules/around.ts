// What selects the live pods by labels besides Services: a PodDisruptionBudget,
// a NetworkPolicy, a PodMonitor. The candidate carries the live template's
// labels, so one that selects by those covers it too; one that selects by the
// slot label stays on the old slot, and the plan names it.
import type { Selector } from '../release/plan.js';
import type { Target } from '../release/target.js';
import { selects } from './selectors.js';

/** An object around the live Deployment as the API server lists it: only the fields read here. */
export interface Listed {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string };
  spec?: {
    scaleTargetRef?: { kind?: string; name?: string };
    targetRef?: { kind?: string; name?: string };
    minReplicas?: number; maxReplicas?: number;
    minReplicaCount?: number; maxReplicaCount?: number;
    updatePolicy?: { updateMode?: string };
    /** PodDisruptionBudget, PodMonitor */
    selector?: { matchLabels?: Selector };
    /** NetworkPolicy */
    podSelector?: { matchLabels?: Selector };
  };
}

const SELECTING = ['PodDisruptionBudget', 'NetworkPolicy', 'PodMonitor'];

/** Those that select the live pods through the slot label: they will not cover the candidate's. */
export function slotSelectingWarnings(listed: readonly Listed[], t: Target, liveLabels: Selector | undefined): string[] {
  return listed.filter((o) => SELECTING.includes(o.kind ?? '')).flatMap((o) => {
    const selector = o.kind === 'NetworkPolicy' ? o.spec?.podSelector?.matchLabels : o.spec?.selector?.matchLabels;
    if (selector?.[t.slotLabel] === undefined || !selects(selector, liveLabels)) return [];
    return [`${o.kind} ${o.metadata?.name} selects the live pods by ${t.slotLabel}=${selector[t.slotLabel]}: it will not cover the candidate's pods after the switch; select them without ${t.slotLabel} (the candidate carries the live pods' other labels)`];
  });
}
