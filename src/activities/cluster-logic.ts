// Pure decisions over objects read from the cluster: what to refuse, what to
// write, whether a rollout or a switch is done. No API calls here, so every rule
// is tested apart from the API server.
import type {
  V1Container, V1Deployment, V1EndpointSlice, V1EnvVar, V1Pod, V1PodTemplateSpec, V1Service, V1ServicePort,
} from '@kubernetes/client-node';
import type { ReleaseSpec } from '../release/spec.js';
import { durationMs } from '../release/duration.js';
import { otherSlot, type Slot } from '../release/status.js';
import {
  MANAGED_BY, MANAGED_BY_LABEL, RELEASE_ANNOTATION, SERVICE_LABEL, VERSION_LABEL, deploymentName, ownLabels, previewServiceName,
  slotSelector, type Target,
} from '../release/target.js';
import type { Plan, Selector } from './types.js';

export interface Observed {
  /** the live Service, if it exists */
  service?: V1Service;
  preview?: V1Service;
  /** every Deployment and Service of the namespace: adoption and cross-selection are judged against them */
  deployments: readonly V1Deployment[];
  services: readonly V1Service[];
}

/** A state of the cluster a release must not start from; the message says what to do. */
export class RefusedError extends Error {
  override readonly name = 'RefusedError';
}

const DEFAULT_PORT = 8080;
const asSlot = (value: string | undefined): Slot | undefined => (value === 'blue' || value === 'green' ? value : undefined);
const show = (selector: Selector | undefined): string => JSON.stringify(selector ?? {});

/** True when every label of a non-empty selector is on `labels` (an empty selector selects no pod of a Service). */
export function selects(selector: Selector | undefined, labels: Selector | undefined): boolean {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([k, v]) => labels?.[k] === v);
}

export const sameSelector = (a: Selector | undefined, b: Selector | undefined): boolean => {
  const ea = Object.entries(a ?? {});
  return ea.length === Object.keys(b ?? {}).length && ea.every(([k, v]) => b?.[k] === v);
};

/** The slot a Service selects, or a reason it selects none we know. */
export function selectedSlot(service: V1Service, slotLabel: string): Slot | { problem: string } {
  const value = service.spec?.selector?.[slotLabel];
  const slot = asSlot(value);
  if (slot !== undefined) return slot;
  return {
    problem: value === undefined
      ? `its selector ${show(service.spec?.selector)} has no "${slotLabel}" label (is slotLabel right? existing setups use env or color)`
      : `its selector has ${slotLabel}=${value}; expected blue or green`,
  };
}

/**
 * The candidate's Deployment name: the live one's with its slot word flipped
 * (`model-deploy-blue` -> `model-deploy-green`), else Bluegreen's own.
 */
export function candidateName(t: Target, liveName: string | undefined, liveSlot: Slot | undefined): string {
  const slot = liveSlot === undefined ? 'blue' : otherSlot(liveSlot);
  if (liveName === undefined || liveSlot === undefined) return deploymentName(t, slot);
  const parts = liveName.split('-');
  const at = parts.lastIndexOf(liveSlot);
  if (at < 0) return deploymentName(t, slot) === liveName ? `${liveName}-${slot}` : deploymentName(t, slot);
  parts[at] = slot;
  return parts.join('-');
}

/** A pod that serves: Ready, and not on its way out. */
export const isReadyPod = (pod: V1Pod): boolean => pod.metadata?.deletionTimestamp === undefined
  && (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** Whether an object carries Bluegreen's labels for this model service. */
export const isBluegreens = (obj: { metadata?: { labels?: Selector } } | undefined, t: Target): boolean =>
  obj?.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY && obj.metadata.labels[SERVICE_LABEL] === t.service;

/** Decides the slots, adopts the live Deployment and builds the candidate, or refuses with a reason. */
export function planRelease(spec: ReleaseSpec, t: Target, observed: Observed): Plan {
  const { service, preview, deployments, services } = observed;
  const ns = t.namespace;
  const byName = new Map(deployments.map((d) => [d.metadata?.name ?? '', d]));
  let live: Plan['live'];
  let liveDeployment: V1Deployment | undefined;
  if (service === undefined) {
    const present = (['blue', 'green'] as const).map((s) => deploymentName(t, s)).filter((n) => byName.has(n));
    if (present.length > 0) {
      throw new RefusedError(`Service ${ns}/${t.service} does not exist but ${present.map((n) => `Deployment ${ns}/${n}`).join(' and ')} does: delete the leftover or create the Service that selects it`);
    }
  } else {
    const slot = selectedSlot(service, t.slotLabel);
    if (typeof slot !== 'string') throw new RefusedError(`Service ${ns}/${t.service} cannot be released into: ${slot.problem}`);
    const selector = service.spec?.selector ?? {};
    const matches = deployments.filter((d) => selects(selector, d.spec?.template?.metadata?.labels));
    const names = matches.map((d) => d.metadata?.name ?? '?');
    if (matches.length !== 1) {
      throw new RefusedError(matches.length === 0
        ? `Service ${ns}/${t.service} selects ${show(selector)} but no Deployment's pod template carries those labels (Deployments here: ${[...byName.keys()].join(', ') || 'none'})`
        : `Service ${ns}/${t.service} selects ${show(selector)}, which matches the pods of several Deployments (${names.join(', ')}): exactly one must serve it`);
    }
    const found = matches[0]!;
    liveDeployment = found;
    live = { slot, deployment: found.metadata?.name ?? '', selector, replicas: found.spec?.replicas ?? 1, adopted: !isBluegreens(found, t) };
  }

  const candidateSlot = live === undefined ? 'blue' : otherSlot(live.slot);
  const candidateSelector = live === undefined ? slotSelector(t, candidateSlot) : { ...live.selector, [t.slotLabel]: candidateSlot };
  const name = candidateName(t, live?.deployment, live?.slot);
  if (name.length > 253) throw new RefusedError(`the candidate Deployment's name "${name}" is longer than 253 characters`);
  const leftover = byName.get(name);
  if (leftover !== undefined) {
    throw new RefusedError(`Deployment ${ns}/${name} (version ${leftover.metadata?.labels?.[VERSION_LABEL] ?? 'unknown'}) exists beside the live ${live?.slot ?? 'nothing'} slot: a leftover of an earlier release; delete it and start again`);
  }
  const clash = deployments.filter((d) => selects(candidateSelector, d.spec?.template?.metadata?.labels)).map((d) => d.metadata?.name);
  if (clash.length > 0) {
    throw new RefusedError(`Deployment ${clash.map((n) => `${ns}/${n}`).join(', ')} already runs pods with the candidate's labels ${show(candidateSelector)}: the Services would send them traffic; delete or relabel it first`);
  }

  if (liveDeployment === undefined && spec.template === undefined && spec.image === undefined) {
    throw new RefusedError(`a first release of ${ns}/${t.service} needs an image or a template: there is no live Deployment to take the pod template from`);
  }
  const replicas = spec.replicas ?? live?.replicas ?? 1;
  if (spec.previewReplicas !== undefined && spec.previewReplicas > replicas) {
    throw new RefusedError(`previewReplicas (${spec.previewReplicas}) is more than the ${replicas} replicas the candidate serves with${spec.replicas === undefined ? ` (the live Deployment's)` : ''}`);
  }
  const object = candidateDeployment(spec, t, {
    name, slot: candidateSlot, selector: candidateSelector, base: spec.template ?? liveDeployment?.spec?.template,
  }, spec.previewReplicas ?? replicas);
  const podLabels = object.spec?.template.metadata?.labels;
  const previewName = previewServiceName(t);
  // A Service that already selects the live pods (a metrics Service on `app: model`)
  // keeps what it had; one that would gain the candidate's pods only is another
  // service's traffic.
  const liveLabels = liveDeployment?.spec?.template?.metadata?.labels;
  const crossing = services.filter((s) => s.metadata?.name !== t.service && s.metadata?.name !== previewName
    && selects(s.spec?.selector, podLabels) && !selects(s.spec?.selector, liveLabels));
  if (crossing.length > 0) {
    const list = crossing.map((s) => `${s.metadata?.name} ${show(s.spec?.selector)}`).join(', ');
    throw new RefusedError(`the candidate's pods would also be selected by Service ${list} in ${ns}, which is not ${t.service}'s: it would send them traffic before they are verified; give the release its own labels (template.metadata.labels) or narrow that Service's selector`);
  }

  let previewBefore: Selector | null = null;
  if (preview !== undefined) {
    if (!isBluegreens(preview, t)) {
      throw new RefusedError(`Service ${ns}/${previewName} exists and is not Bluegreen's preview for ${t.service} (labels ${show(preview.metadata?.labels)}): Bluegreen does not take over a Service it did not create; rename or delete it, or release under another service name`);
    }
    previewBefore = preview.spec?.selector ?? {};
  }

  const serving = servingContainer(object.spec?.template as V1PodTemplateSpec, spec.container);
  const servingPort = spec.port ?? serving.ports?.[0]?.containerPort ?? DEFAULT_PORT;
  const ports = service === undefined ? containerServicePorts(serving, servingPort) : copyPorts(service.spec?.ports ?? []);
  const port = servicePortFor(ports, serving, servingPort);
  return {
    oldSlot: live?.slot, candidateSlot, live,
    candidate: { slot: candidateSlot, deployment: name, selector: candidateSelector },
    replicas, object, previewBefore, ports, port,
  };
}

function servingContainer(template: V1PodTemplateSpec, name: string | undefined): V1Container {
  const containers = template.spec?.containers ?? [];
  const found = name === undefined ? containers[0] : containers.find((c) => c.name === name);
  if (found === undefined) throw new RefusedError(`container "${name}" is not in the pod template (containers: ${containers.map((c) => c.name).join(', ')})`);
  return found;
}

function copyPorts(ports: readonly V1ServicePort[]): V1ServicePort[] {
  return ports.map(({ name, port, targetPort, protocol, appProtocol }) => ({
    ...(name === undefined ? {} : { name }), port, ...(targetPort === undefined ? {} : { targetPort }),
    ...(protocol === undefined ? {} : { protocol }), ...(appProtocol === undefined ? {} : { appProtocol }),
  }));
}

/** A first release's Service ports: one for each port of the serving container, on the same number. */
function containerServicePorts(container: V1Container, servingPort: number): V1ServicePort[] {
  const ports = container.ports?.length ? container.ports : [{ name: 'http', containerPort: servingPort }];
  return ports.map((p, i) => ({
    name: p.name ?? (i === 0 ? 'http' : `port-${p.containerPort}`), port: p.containerPort, targetPort: p.containerPort as never,
    ...(p.protocol === undefined ? {} : { protocol: p.protocol }),
  }));
}

/** The Service port that routes to the serving port (by number or by the container port's name). */
function servicePortFor(ports: readonly V1ServicePort[], container: V1Container, servingPort: number): number {
  const portName = container.ports?.find((p) => p.containerPort === servingPort)?.name;
  const routes = (p: V1ServicePort) => {
    const target = p.targetPort ?? p.port;
    return target === servingPort || String(target) === String(servingPort) || (portName !== undefined && target === portName);
  };
  return ports.find(routes)?.port ?? ports[0]?.port ?? servingPort;
}

/** The env list with the spec's variables set over the template's, by name. */
function mergeEnv(base: readonly V1EnvVar[] | undefined, spec: ReleaseSpec): V1EnvVar[] {
  const given: V1EnvVar[] = spec.env.map((e) => (e.secretKeyRef === undefined
    ? { name: e.name, value: e.value }
    : { name: e.name, valueFrom: { secretKeyRef: { name: e.secretKeyRef.name, key: e.secretKeyRef.key } } }));
  const names = new Set(given.map((e) => e.name));
  return [...(base ?? []).filter((e) => !names.has(e.name)), ...given];
}

function defaultTemplate(spec: ReleaseSpec): V1PodTemplateSpec {
  return { spec: { containers: [{ name: 'model-server', image: spec.image, ports: [{ name: 'http', containerPort: spec.port ?? DEFAULT_PORT }] }] } };
}

/**
 * The candidate Deployment: the user's pod template (or the live one's, or a
 * one-container default), with the spec's short forms set on the serving
 * container. Bluegreen owns the name, replicas, selector, the slot label and
 * its own labels; everything else in the template is the user's, as given.
 */
export function candidateDeployment(
  spec: ReleaseSpec, t: Target, c: { name: string; slot: Slot; selector: Selector; base?: V1PodTemplateSpec }, replicas = spec.previewReplicas ?? spec.replicas ?? 1,
): V1Deployment {
  const template: V1PodTemplateSpec = JSON.parse(JSON.stringify(c.base ?? spec.template ?? defaultTemplate(spec))) as V1PodTemplateSpec;
  const container = servingContainer(template, spec.container);
  if (spec.image !== undefined) container.image = spec.image;
  if (spec.args !== undefined) container.args = [...spec.args];
  if (spec.env.length > 0) container.env = mergeEnv(container.env, spec);
  if (spec.resources !== undefined) container.resources = JSON.parse(JSON.stringify(spec.resources));
  const servingPort = spec.port ?? container.ports?.[0]?.containerPort ?? DEFAULT_PORT;
  if (!(container.ports ?? []).some((p) => p.containerPort === servingPort)) {
    const named = (container.ports ?? []).some((p) => p.name === 'http');
    container.ports = [...(container.ports ?? []), { ...(named ? {} : { name: 'http' }), containerPort: servingPort }];
  }
  container.readinessProbe ??= { httpGet: { path: spec.readinessPath, port: servingPort as never }, periodSeconds: 5, failureThreshold: 3 };

  const { [RELEASE_ANNOTATION]: _earlier, ...annotations } = template.metadata?.annotations ?? {};
  const labels = { ...template.metadata?.labels, [SERVICE_LABEL]: t.service, [MANAGED_BY_LABEL]: MANAGED_BY, [VERSION_LABEL]: spec.version, ...c.selector };
  template.metadata = { ...template.metadata, labels, ...(Object.keys(annotations).length > 0 ? { annotations } : { annotations: undefined }) };
  if (template.metadata.annotations === undefined) delete template.metadata.annotations;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: c.name, namespace: t.namespace, labels: { ...ownLabels(t), [VERSION_LABEL]: spec.version, [t.slotLabel]: c.slot } },
    spec: {
      replicas,
      selector: { matchLabels: c.selector },
      // The rollout wait gives up at rolloutTimeout; the controller must not give up first.
      progressDeadlineSeconds: Math.ceil(durationMs(spec.rolloutTimeout) / 1000) + 60,
      template,
    },
  };
}

/** A Service Bluegreen owns (the preview, or the live one on a first release). */
export function ownService(t: Target, name: string, selector: Selector, ports: readonly V1ServicePort[], releaseId: string): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: t.namespace, labels: ownLabels(t), annotations: { [RELEASE_ANNOTATION]: releaseId } },
    spec: { selector, ports: copyPorts(ports) },
  };
}

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
}

/** Where a Deployment's rollout stands, from the Deployment and the pods of its current ReplicaSet. */
export function rolloutState(deployment: V1Deployment, pods: readonly { metadata?: { name?: string }; status?: import('@kubernetes/client-node').V1PodStatus }[]): RolloutState {
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
  /** ready endpoints that are pods of the wanted Deployment */
  ready: number;
  /** endpoints (ready or not) of any other pod or address */
  strangers: string[];
}

/**
 * Which pods a Service's EndpointSlices hold, judged by pod ownership (not by
 * labels a pod may lack). An endpoint in a slice without ports (the Service's
 * targetPort names a port the pod lacks) receives no traffic: it is not ready.
 */
export function endpointsState(slices: readonly V1EndpointSlice[], ownPods: ReadonlySet<string>): EndpointsState {
  let ready = 0;
  const strangers: string[] = [];
  for (const slice of slices) {
    const routed = (slice.ports ?? []).length > 0;
    for (const ep of slice.endpoints ?? []) {
      const pod = ep.targetRef?.kind === 'Pod' ? ep.targetRef.name ?? '' : '';
      if (!ownPods.has(pod)) strangers.push(pod || (ep.addresses ?? []).join(','));
      else if (routed && ep.conditions?.ready !== false) ready += 1;
    }
  }
  return { ready, strangers };
}
