// The switch's decision, from what was read at once: the live Service, the
// Deployment traffic moves to, and every pod and ReplicaSet the new selector
// matches. The proof: after the patch the Service would select ready pods of
// that Deployment and nothing else.
import type { V1Deployment, V1Pod, V1ReplicaSet, V1Service } from '@kubernetes/client-node';
import { ErrorTypes } from '../release/errors.js';
import type { SlotPlan } from '../release/plan.js';
import type { ReleaseSpec } from '../release/spec.js';
import type { Target } from '../release/target.js';
import { isReadyPod, podsOwnedBy } from './rollout.js';
import { sameSelector } from './selectors.js';

export type SwitchDecision =
  /** the Service already selects `to` */
  | { action: 'none' }
  /** a first release: create the live Service */
  | { action: 'create' }
  /** the guarded patch from `from`'s selector to `to`'s */
  | { action: 'patch' }
  /** a switch back that finds nothing to move back: left as it is */
  | { action: 'leave'; detail: string }
  | { action: 'refuse'; type: string; message: string };

/**
 * The ready candidate pods the switch needs (switch.minReady: a count, or a
 * share of the replicas rounded up; default all). Releases recorded before
 * the field have no `switch` in their spec.
 */
export function minReadyOf(spec: Pick<ReleaseSpec, 'switch'>, replicas: number): number {
  const wanted = spec.switch?.minReady;
  if (wanted === undefined) return replicas;
  if (typeof wanted === 'number') return Math.min(wanted, replicas);
  return Math.max(1, Math.ceil((Number(wanted.slice(0, -1)) / 100) * replicas));
}

export interface SwitchSeen {
  target: Target;
  from?: SlotPlan;
  to: SlotPlan;
  /** a rollback: a Service that no longer selects `from` is left alone */
  back?: boolean;
  /** a switch forward: the ready pods of `to` it needs; a switch back needs one */
  minReady?: number;
  service?: V1Service;
  toDeployment: V1Deployment;
  /** a stepped release's shared selector: the other slot's Deployment, whose pods it may hold too */
  alsoDeployment?: V1Deployment;
  matching: { pods: V1Pod[]; sets: V1ReplicaSet[] };
}

export function decideSwitch(seen: SwitchSeen): SwitchDecision {
  const { target, from, to, back, minReady, service, toDeployment, alsoDeployment, matching } = seen;
  const where = `Service ${target.namespace}/${target.service}`;
  const current = service?.spec?.selector;
  if (service === undefined && from !== undefined) {
    if (back) return { action: 'leave', detail: `${where} is gone; nothing to switch back` };
    return { action: 'refuse', type: ErrorTypes.SelectorConflict, message: `${where} is gone; expected it to select ${JSON.stringify(from.selector)}` };
  }
  if (sameSelector(current, to.selector)) return { action: 'none' };
  if (service !== undefined && !sameSelector(current, from?.selector)) {
    if (back) return { action: 'leave', detail: `${where} selects ${JSON.stringify(current)}, not the candidate; left as it is` };
    return {
      action: 'refuse', type: ErrorTypes.SelectorConflict,
      message: `${where} changed under the release: expected it to select ${JSON.stringify(from?.selector ?? null)}, found ${JSON.stringify(current ?? null)}; not overwritten`,
    };
  }
  const own = new Set([toDeployment, ...(alsoDeployment === undefined ? [] : [alsoDeployment])]
    .flatMap((d) => podsOwnedBy(d, matching.pods, matching.sets)));
  const strangers = matching.pods.filter((p) => !own.has(p)).map((p) => p.metadata?.name);
  if (strangers.length > 0) {
    const whose = alsoDeployment === undefined ? to.deployment : `${to.deployment} or ${alsoDeployment.metadata?.name}`;
    return {
      action: 'refuse', type: ErrorTypes.SwitchRefused,
      message: `not switched: the selector ${JSON.stringify(to.selector)} would also select pods that are not Deployment ${whose}'s (${strangers.slice(0, 5).join(', ')})`,
    };
  }
  const ready = [...own].filter(isReadyPod).length;
  if (ready === 0) {
    return {
      action: 'refuse', type: ErrorTypes.SwitchRefused,
      message: `not switched: the selector ${JSON.stringify(to.selector)} matches no ready pod of Deployment ${to.deployment}; the Service would have no endpoints`,
    };
  }
  if (!back && minReady !== undefined && ready < minReady) {
    return {
      action: 'refuse', type: ErrorTypes.SwitchRefused,
      message: `not switched: ${ready} pods of Deployment ${to.deployment} are ready, and the switch needs ${minReady} (switch.minReady; default all replicas)`,
    };
  }
  return service === undefined ? { action: 'create' } : { action: 'patch' };
}
