// Judgments over a slot's pods: whether a rollout is done or failed, which pods
// a Deployment runs, and what a Service's EndpointSlices hold.
import type { V1Deployment, V1EndpointSlice, V1Pod, V1PodCondition, V1PodSpec, V1Probe, V1ReplicaSet } from '@kubernetes/client-node';
import { durationMs } from '../release/duration.js';

/** A pod that serves: Ready, and not on its way out. */
export const isReadyPod = (pod: V1Pod): boolean => pod.metadata?.deletionTimestamp === undefined
  && (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/**
 * Container states that no waiting cures. ErrImagePull (a registry's 429) and
 * CreateContainerConfigError (a Secret created a moment later) are not here: the
 * kubelet retries both, and the rollout timeout bounds them.
 */
export const FATAL_WAIT_REASONS = ['ImagePullBackOff', 'InvalidImageName', 'CrashLoopBackOff'];

export interface RolloutState {
  done: boolean;
  ready: number;
  total: number;
  failure?: string;
  /** the scheduler's word on a pod it cannot place (`0/12 nodes are available: 3 Insufficient nvidia.com/gpu`) */
  unschedulable?: string;
}

/** Where a Deployment's rollout stands, from the Deployment and the pods of its current ReplicaSet. */
export function rolloutState(deployment: V1Deployment, pods: readonly Pick<V1Pod, 'metadata' | 'status'>[]): RolloutState {
  const total = deployment.spec?.replicas ?? 1;
  const status = deployment.status ?? {};
  const ready = status.availableReplicas ?? 0;
  const name = deployment.metadata?.name ?? 'deployment';
  for (const pod of pods) {
    for (const cs of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
      const reason = cs.state?.waiting?.reason;
      if (reason !== undefined && FATAL_WAIT_REASONS.includes(reason)) {
        const message = cs.state?.waiting?.message;
        return { done: false, ready, total, failure: `pod ${pod.metadata?.name} container ${cs.name}: ${reason}${message ? ` (${message})` : ''}` };
      }
    }
  }
  const stalled = status.conditions?.find((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded');
  if (stalled !== undefined) return { done: false, ready, total, failure: `${name}: ProgressDeadlineExceeded (${stalled.message ?? 'no progress'})` };
  const observed = (status.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 1);
  const done = observed && (status.updatedReplicas ?? 0) === total && ready >= total && (status.replicas ?? 0) === total;
  const unschedulable = (c: V1PodCondition) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable';
  const unplaced = pods.flatMap((p) => p.status?.conditions?.filter(unschedulable) ?? [])[0];
  return { done, ready, total, ...(unplaced === undefined || done ? {} : { unschedulable: unplaced.message ?? 'Unschedulable' }) };
}

export interface EndpointsState {
  /** ready endpoints that are pods of the wanted Deployment */
  ready: number;
  /** endpoints (ready or not) of any other pod or address */
  strangers: string[];
  /** when the slices last changed (ms since the epoch), where the EndpointSlice controller says so */
  changedAt?: number;
}

const CHANGE_TRIGGER = 'endpoints.kubernetes.io/last-change-trigger-time';

/**
 * Which pods a Service's EndpointSlices hold, judged by pod ownership (not by
 * labels a pod may lack). An endpoint in a slice without ports (the Service's
 * targetPort names a port the pod lacks) receives no traffic: it is not ready.
 */
export function endpointsState(slices: readonly V1EndpointSlice[], ownPods: ReadonlySet<string>): EndpointsState {
  let ready = 0;
  const strangers: string[] = [];
  let changedAt: number | undefined;
  for (const slice of slices) {
    const at = Date.parse(slice.metadata?.annotations?.[CHANGE_TRIGGER] ?? '');
    if (!Number.isNaN(at)) changedAt = Math.max(changedAt ?? at, at);
    const routed = (slice.ports ?? []).length > 0;
    for (const ep of slice.endpoints ?? []) {
      const pod = ep.targetRef?.kind === 'Pod' ? ep.targetRef.name ?? '' : '';
      if (!ownPods.has(pod)) strangers.push(pod || (ep.addresses ?? []).join(','));
      else if (routed && ep.conditions?.ready !== false) ready += 1;
    }
  }
  return { ready, strangers, ...(changedAt === undefined ? {} : { changedAt }) };
}

const ownedBy = (obj: { metadata?: { ownerReferences?: { uid: string; controller?: boolean }[] } }, uids: ReadonlySet<string>): boolean =>
  (obj.metadata?.ownerReferences ?? []).some((o) => o.controller === true && uids.has(o.uid));

/**
 * Of `pods`, those a Deployment runs through one of `sets` (its current
 * revision's only, with `current`): by ownership (pod -> ReplicaSet ->
 * Deployment), so a pod that merely carries the same labels never counts.
 */
export function podsOwnedBy(deployment: V1Deployment, pods: V1Pod[], sets: V1ReplicaSet[], current = false): V1Pod[] {
  const revision = deployment.metadata?.annotations?.['deployment.kubernetes.io/revision'];
  const owned = sets.filter((rs) => ownedBy(rs, new Set([deployment.metadata?.uid ?? '']))
    && (!current || revision === undefined || rs.metadata?.annotations?.['deployment.kubernetes.io/revision'] === revision));
  const uids = new Set(owned.map((rs) => rs.metadata?.uid ?? ''));
  return pods.filter((p) => ownedBy(p, uids));
}

/**
 * How long a new pod of this template may take to become ready, by its probes'
 * own bounds (Kubernetes' defaults where unset): a startup probe's
 * initialDelay + failureThreshold x period, then a readiness probe's first
 * period. What a rollback from a standby waits for at most, per pod.
 */
export function startupBudgetSeconds(spec: V1PodSpec | undefined): number {
  const budgets = (spec?.containers ?? []).map((c) => {
    const startup = c.startupProbe;
    const ready = c.readinessProbe;
    const start = startup === undefined
      ? 0
      : (startup.initialDelaySeconds ?? 0) + (startup.failureThreshold ?? 3) * (startup.periodSeconds ?? 10);
    return start + (ready === undefined ? 0 : (ready.initialDelaySeconds ?? 0) + (ready.periodSeconds ?? 10));
  });
  return Math.max(0, ...budgets);
}

/** A probe's bound on a starting container: initialDelay + failureThreshold x period (Kubernetes' defaults where unset). */
const killAfter = (p: V1Probe): { seconds: number; how: string } => {
  const [delay, threshold, period] = [p.initialDelaySeconds ?? 0, p.failureThreshold ?? 3, p.periodSeconds ?? 10];
  return { seconds: delay + threshold * period, how: `initialDelaySeconds ${delay} + failureThreshold ${threshold} x periodSeconds ${period}` };
};

/**
 * Containers whose probes restart them before a slow model could load: the
 * kubelet restarts a container when its startup probe (else its liveness probe)
 * fails failureThreshold times, and a model server fails them while it loads.
 * Flagged when that comes sooner than rolloutTimeout, the time the release
 * gives a pod to become ready (an image pull counts in it too, so it warns).
 */
export function probeWarnings(spec: V1PodSpec | undefined, rolloutTimeout: string, where: string): string[] {
  const timeout = Math.round(durationMs(rolloutTimeout) / 1000);
  return (spec?.containers ?? []).flatMap((c) => {
    const probe = c.startupProbe ?? c.livenessProbe;
    if (probe === undefined) return [];
    const { seconds, how } = killAfter(probe);
    if (seconds >= timeout) return [];
    const which = c.startupProbe !== undefined ? 'startupProbe' : 'livenessProbe, and no startupProbe';
    const fix = c.startupProbe !== undefined ? 'raise its failureThreshold' : 'add a startupProbe';
    return [`${where}: container ${c.name} is restarted ${seconds}s after it starts if its model is still loading (${which}: ${how}), while rolloutTimeout (${rolloutTimeout}) gives a pod ${timeout}s: a longer load restarts over and over; ${fix} so that failureThreshold x periodSeconds covers the load`];
  });
}
