// Pure decisions over objects read from the cluster: what to refuse, what to
// write, whether a rollout or a switch is done. No API calls here, so every rule
// is tested apart from the API server.
import type { V1Deployment, V1EndpointSlice, V1Pod, V1Service } from '@kubernetes/client-node';
import type { ReleaseSpec } from '../release/spec.js';
import { otherSlot, type Slot } from '../release/status.js';
import {
  MANAGED_BY, RELEASE_ANNOTATION, VERSION_LABEL, deploymentName, previewServiceName, slotSelector, type Target,
} from '../release/target.js';
import type { Plan } from './types.js';

export interface Observed {
  service?: V1Service;
  preview?: V1Service;
  slots: Partial<Record<Slot, V1Deployment>>;
}

/** A state of the cluster a release must not start from; the message says what to do. */
export class RefusedError extends Error {
  override readonly name = 'RefusedError';
}

const asSlot = (value: string | undefined): Slot | undefined => (value === 'blue' || value === 'green' ? value : undefined);

/** The slot a Service selects, or a reason it selects none we know. */
export function selectedSlot(service: V1Service, slotLabel: string): Slot | { problem: string } {
  const value = service.spec?.selector?.[slotLabel];
  const slot = asSlot(value);
  if (slot !== undefined) return slot;
  const selector = JSON.stringify(service.spec?.selector ?? {});
  return {
    problem: value === undefined
      ? `its selector ${selector} has no "${slotLabel}" label (is slotLabel right? existing setups use env or color)`
      : `its selector has ${slotLabel}=${value}; expected blue or green`,
  };
}

/** Decides the candidate slot from what is there, or refuses with a reason. */
export function planRelease(target: Target, observed: Observed): Plan {
  const { service, preview, slots } = observed;
  const name = (slot: Slot) => `Deployment ${target.namespace}/${deploymentName(target, slot)}`;
  let oldSlot: Slot | undefined;
  if (service === undefined) {
    const present = (['blue', 'green'] as const).filter((s) => slots[s] !== undefined);
    if (present.length > 0) {
      throw new RefusedError(`Service ${target.namespace}/${target.service} does not exist but ${present.map(name).join(' and ')} does: delete the leftover or create the Service that selects it`);
    }
  } else {
    const live = selectedSlot(service, target.slotLabel);
    if (typeof live !== 'string') throw new RefusedError(`Service ${target.namespace}/${target.service} cannot be released into: ${live.problem}`);
    oldSlot = live;
    if (slots[live] === undefined) throw new RefusedError(`Service ${target.namespace}/${target.service} selects ${live} but ${name(live)} does not exist`);
    const leftover = slots[otherSlot(live)];
    if (leftover !== undefined) {
      throw new RefusedError(`${name(otherSlot(live))} (version ${leftover.metadata?.labels?.[VERSION_LABEL] ?? 'unknown'}) exists beside the live ${live} slot: a leftover of an earlier release; delete it and start again`);
    }
  }
  const candidateSlot = oldSlot === undefined ? 'blue' : otherSlot(oldSlot);
  let previewBefore: Slot | null = null;
  if (preview !== undefined) {
    const slot = selectedSlot(preview, target.slotLabel);
    if (typeof slot !== 'string') throw new RefusedError(`Service ${target.namespace}/${previewServiceName(target)} cannot be pointed at the candidate: ${slot.problem}`);
    previewBefore = slot;
  }
  return { oldSlot, candidateSlot, previewBefore };
}

export function candidateDeployment(spec: ReleaseSpec, target: Target, slot: Slot, releaseId: string, replicas: number): V1Deployment {
  const selector = slotSelector(target, slot);
  const labels = { ...selector, 'app.kubernetes.io/managed-by': MANAGED_BY, [VERSION_LABEL]: spec.version };
  const annotations = { [RELEASE_ANNOTATION]: releaseId };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: deploymentName(target, slot), namespace: target.namespace, labels, annotations },
    spec: {
      replicas,
      selector: { matchLabels: selector },
      progressDeadlineSeconds: 600,
      template: {
        metadata: { labels, annotations },
        spec: {
          containers: [{
            name: 'model-server',
            image: spec.image,
            ports: [{ name: 'http', containerPort: target.port }],
            env: spec.env.map((e) => (e.secretKeyRef === undefined
              ? { name: e.name, value: e.value }
              : { name: e.name, valueFrom: { secretKeyRef: { name: e.secretKeyRef.name, key: e.secretKeyRef.key } } })),
            ...(spec.resources === undefined ? {} : { resources: spec.resources }),
            readinessProbe: { httpGet: { path: spec.readinessPath, port: 'http' }, periodSeconds: 5, failureThreshold: 3 },
          }],
        },
      },
    },
  };
}

export function slotService(target: Target, name: string, slot: Slot, releaseId: string): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace: target.namespace,
      labels: { 'app.kubernetes.io/name': target.model, 'app.kubernetes.io/managed-by': MANAGED_BY },
      annotations: { [RELEASE_ANNOTATION]: releaseId },
    },
    spec: {
      selector: slotSelector(target, slot),
      ports: [{ name: 'http', port: target.port, targetPort: 'http' }],
    },
  };
}

/** Container states that no waiting cures. */
export const FATAL_WAIT_REASONS = ['ImagePullBackOff', 'ErrImagePull', 'InvalidImageName', 'CrashLoopBackOff', 'CreateContainerConfigError'];

export interface RolloutState {
  done: boolean;
  ready: number;
  total: number;
  failure?: string;
}

/** Where a Deployment's rollout stands, from the Deployment and its pods. */
export function rolloutState(deployment: V1Deployment, pods: readonly V1Pod[]): RolloutState {
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
  return { done, ready, total };
}

export interface EndpointsState {
  /** ready endpoints that are pods of the wanted slot */
  ready: number;
  /** endpoints (ready or not) of pods outside the wanted slot */
  strangers: string[];
}

/** Which pods a Service's EndpointSlices hold, judged by the pods' slot label. */
export function endpointsState(slices: readonly V1EndpointSlice[], pods: readonly V1Pod[], slotLabel: string, slot: Slot): EndpointsState {
  const slotOf = new Map(pods.map((p) => [p.metadata?.name ?? '', p.metadata?.labels?.[slotLabel]]));
  let ready = 0;
  const strangers: string[] = [];
  for (const slice of slices) {
    for (const ep of slice.endpoints ?? []) {
      const pod = ep.targetRef?.kind === 'Pod' ? ep.targetRef.name ?? '' : '';
      if (slotOf.get(pod) !== slot) strangers.push(pod || (ep.addresses ?? []).join(','));
      else if (ep.conditions?.ready !== false) ready += 1;
    }
  }
  return { ready, strangers };
}
