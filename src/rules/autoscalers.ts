// Autoscalers of the live Deployment: an HPA or a KEDA ScaledObject scales it
// by name, so at the switch its target moves to the candidate (and back on a
// rollback), and the candidate starts at the size the autoscaler chose. A VPA
// in Auto mode keeps its recommendations per Deployment name: it is named.
import type { Autoscaler } from '../release/plan.js';
import type { Listed } from './around.js';
import { RefusedError } from './refused.js';


const targets = (a: Listed, deployment: string): boolean => {
  const ref = a.spec?.scaleTargetRef ?? a.spec?.targetRef;
  return (ref?.kind ?? 'Deployment') === 'Deployment' && ref?.name === deployment;
};

/** The HPAs and ScaledObjects that scale `deployment`, with their bounds. */
export function autoscalersOf(listed: readonly Listed[], deployment: string): Autoscaler[] {
  return listed.filter((a) => a.kind !== 'VerticalPodAutoscaler' && targets(a, deployment)).map((a) => {
    const hpa = a.kind === 'HorizontalPodAutoscaler';
    // An HPA's minReplicas defaults to 1; a ScaledObject's minReplicaCount to 0 and its maxReplicaCount to 100.
    const min = (hpa ? a.spec?.minReplicas : a.spec?.minReplicaCount) ?? (hpa ? 1 : 0);
    const max = (hpa ? a.spec?.maxReplicas : a.spec?.maxReplicaCount) ?? 100;
    return { apiVersion: a.apiVersion ?? '', kind: a.kind ?? '', name: a.metadata?.name ?? '', min, max };
  });
}

/** A VPA that updates the live Deployment's pods: a warning (it does not follow the new name). */
export function vpaWarnings(listed: readonly Listed[], deployment: string, candidate: string): string[] {
  return listed.filter((a) => a.kind === 'VerticalPodAutoscaler' && targets(a, deployment) && (a.spec?.updatePolicy?.updateMode ?? 'Auto') !== 'Off')
    .map((a) => `VerticalPodAutoscaler ${a.metadata?.name} (updateMode ${a.spec?.updatePolicy?.updateMode ?? 'Auto'}) targets Deployment ${deployment} by name: it does not follow the release to ${candidate}; point it there after the release`);
}

/** The spec's replicas must be a size the autoscaler would keep; without them the candidate takes the live size. */
export function refuseOutsideBounds(replicas: number | undefined, autoscalers: readonly Autoscaler[]): void {
  if (replicas === undefined) return;
  const outside = autoscalers.find((a) => replicas < a.min || replicas > a.max);
  if (outside === undefined) return;
  throw new RefusedError(`replicas (${replicas}) is outside ${outside.kind} ${outside.name}'s ${outside.min}..${outside.max}, which scales the live Deployment: leave replicas out (the candidate starts at the live size the autoscaler chose) or set it within those bounds`);
}
