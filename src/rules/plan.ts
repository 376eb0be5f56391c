// The plan: which slot is live (adopted by the live Service's selector), the
// candidate built from it, and every state of the cluster a release must not
// start from. Pure: preflight reads the namespace and calls planRelease.
import type { V1Deployment, V1PersistentVolumeClaim, V1Pod, V1PodTemplateSpec, V1ReplicaSet, V1Service, V1ServicePort } from '@kubernetes/client-node';
import type { Plan, Selector } from '../release/plan.js';
import type { ReleaseSpec } from '../release/spec.js';
import { otherSlot, type Slot } from '../release/status.js';
import {
  MANAGED_BY, MANAGED_BY_LABEL, NAME_LABEL, SERVICE_LABEL, VERSION_LABEL, deploymentName, previewServiceName, slotSelector, type Target,
} from '../release/target.js';
import {
  candidateDeployment, containerServicePorts, copyPorts, servicePortFor, servingContainer, servingPortOf,
} from './objects.js';
import { slotSelectingWarnings, type Listed } from './around.js';
import { autoscalersOf, refuseOutsideBounds, vpaWarnings } from './autoscalers.js';
import { ownerRefusal, ownersOf, ownerWarning, type Owner, type OwnerKind } from './owners.js';
import { RefusedError } from './refused.js';
import { refuseShared } from './shared.js';
import { drainWarnings } from './drain.js';
import { modelRequestMs } from '../release/bounds.js';
import { checkStepped, previewReplicasOf } from './steps.js';
import { podsOwnedBy, probeWarnings } from './rollout.js';
import { isUnslotted, selectedSlot, selects, show } from './selectors.js';

export interface Observed {
  /** the live Service, if it exists */
  service?: V1Service;
  preview?: V1Service;
  /** every Deployment and Service of the namespace: adoption and cross-selection are judged against them */
  deployments: readonly V1Deployment[];
  services: readonly V1Service[];
  /** the namespace's PersistentVolumeClaims, read when a template mounts one */
  claims?: readonly V1PersistentVolumeClaim[];
  /** what is wired around the Deployments (activities/around.ts): autoscalers, PDBs, NetworkPolicies, PodMonitors */
  around?: readonly Listed[];
  /** the pods and ReplicaSets the live Service selects, read when its selector has no slot label */
  selected?: { pods: V1Pod[]; sets: V1ReplicaSet[] };
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

/** Whether an object carries Bluegreen's labels for this model service. */
export const isBluegreens = (obj: { metadata?: { labels?: Selector } } | undefined, t: Target): boolean =>
  obj?.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY && obj.metadata.labels[SERVICE_LABEL] === t.service;

/**
 * Whether a preview Service is Bluegreen's for this model service: its labels
 * say so, or it is one Bluegreen 0.1 made (managed-by bluegreen and the model's
 * name, before the service label existed). Pointing it anywhere brings its
 * labels up to date.
 */
export const isOwnPreview = (preview: V1Service | undefined, t: Target): boolean => {
  const labels = preview?.metadata?.labels;
  const madeBy01 = labels?.[MANAGED_BY_LABEL] === MANAGED_BY && labels[SERVICE_LABEL] === undefined && labels[NAME_LABEL] === t.model;
  return isBluegreens(preview, t) || (madeBy01 && preview?.metadata?.name === previewServiceName(t));
};

type Live = NonNullable<Plan['live']>;

/** The live slot: the one Deployment whose pods the live Service selects; none (a first release) when there is no Service. */
function adoptLive(t: Target, observed: Observed): { live: Live; deployment: V1Deployment } | undefined {
  const { service, deployments } = observed;
  const ns = t.namespace;
  const names = deployments.map((d) => d.metadata?.name ?? '');
  if (service === undefined) {
    const present = (['blue', 'green'] as const).map((s) => deploymentName(t, s)).filter((n) => names.includes(n));
    if (present.length === 0) return undefined;
    throw new RefusedError(`Service ${ns}/${t.service} does not exist but ${present.map((n) => `Deployment ${ns}/${n}`).join(' and ')} does: delete the leftover or create the Service that selects it`);
  }
  const selector = service.spec?.selector ?? {};
  const unslotted = isUnslotted(service, t.slotLabel);
  const slot = unslotted ? 'blue' : selectedSlot(service, t.slotLabel);
  if (typeof slot !== 'string') throw new RefusedError(`Service ${ns}/${t.service} cannot be released into: ${slot.problem}`);
  const matches = deployments.filter((d) => selects(selector, d.spec?.template?.metadata?.labels));
  if (matches.length !== 1) {
    throw new RefusedError(matches.length === 0
      ? `Service ${ns}/${t.service} selects ${show(selector)} but no Deployment's pod template carries those labels (Deployments here: ${names.join(', ') || 'none'})`
      : `Service ${ns}/${t.service} selects ${show(selector)}, which matches the pods of several Deployments (${matches.map((d) => d.metadata?.name ?? '?').join(', ')}): exactly one must serve it`);
  }
  const found = matches[0]!;
  const live = {
    slot, deployment: found.metadata?.name ?? '', selector, replicas: found.spec?.replicas ?? 1, adopted: !isBluegreens(found, t),
  };
  if (!unslotted) return { deployment: found, live };
  return { deployment: found, live: { ...live, selector: narrowed(t, found, selector, observed.selected), unslotted: selector } };
}

/**
 * An unslotted Service's selector narrowed to the live pods alone: the
 * candidate carries the live template's labels, so the Service's own selector
 * would send it traffic before it is verified. The Deployment controller
 * labels each ReplicaSet's pods with its `pod-template-hash`; the live
 * Deployment must be rolled out (one ReplicaSet with pods) and the Service
 * must select its pods and nothing else.
 */
function narrowed(t: Target, deployment: V1Deployment, selector: Selector, selected: Observed['selected']): Selector {
  const where = `Service ${t.namespace}/${t.service} (selector ${show(selector)}, no "${t.slotLabel}" label)`;
  const name = deployment.metadata?.name ?? '';
  const { pods = [], sets = [] } = selected ?? {};
  const own = new Set(podsOwnedBy(deployment, pods, sets));
  const others = pods.filter((p) => !own.has(p));
  if (others.length > 0) {
    const list = others.slice(0, 5).map((p) => `${p.metadata?.name} (${p.metadata?.ownerReferences?.[0] ? `${p.metadata.ownerReferences[0].kind} ${p.metadata.ownerReferences[0].name}` : 'no owner'})`).join(', ');
    throw new RefusedError(`${where} also selects pods that are not Deployment ${name}'s: ${list}; an unslotted setup is adopted only when the Service selects one Deployment's pods: delete or relabel them first`);
  }
  const hashes = [...new Set([...own].map((p) => p.metadata?.labels?.['pod-template-hash'] ?? ''))];
  if (hashes.length !== 1 || hashes[0] === '') {
    throw new RefusedError(hashes.length === 0
      ? `${where}: Deployment ${name} has no pods to adopt`
      : `${where}: Deployment ${name} is in the middle of a rollout (pods of ${hashes.length} ReplicaSets); start the release once it is done`);
  }
  return { ...selector, 'pod-template-hash': hashes[0]! };
}

/** Refuses a candidate name or labels that something in the namespace already has. */
function refuseClashes(t: Target, name: string, selector: Selector, live: Live | undefined, deployments: readonly V1Deployment[]): void {
  const ns = t.namespace;
  if (name.length > 253) throw new RefusedError(`the candidate Deployment's name "${name}" is longer than 253 characters`);
  const leftover = deployments.find((d) => d.metadata?.name === name);
  if (leftover !== undefined) {
    throw new RefusedError(`Deployment ${ns}/${name} (version ${leftover.metadata?.labels?.[VERSION_LABEL] ?? 'unknown'}) exists beside the live ${live?.slot ?? 'nothing'} slot: a leftover of an earlier release; delete it and start again`);
  }
  const clash = deployments.filter((d) => selects(selector, d.spec?.template?.metadata?.labels)).map((d) => d.metadata?.name);
  if (clash.length > 0) {
    throw new RefusedError(`Deployment ${clash.map((n) => `${ns}/${n}`).join(', ')} already runs pods with the candidate's labels ${show(selector)}: the Services would send them traffic; delete or relabel it first`);
  }
}

/**
 * A Service that already selects the live pods (a metrics Service on `app: model`)
 * keeps what it had; one that would gain the candidate's pods only is another
 * service's traffic, sent to pods not verified yet.
 */
function refuseCrossing(t: Target, services: readonly V1Service[], podLabels?: Selector, liveLabels?: Selector): void {
  const previewName = previewServiceName(t);
  const crossing = services.filter((s) => s.metadata?.name !== t.service && s.metadata?.name !== previewName
    && selects(s.spec?.selector, podLabels) && !selects(s.spec?.selector, liveLabels));
  if (crossing.length === 0) return;
  const list = crossing.map((s) => `${s.metadata?.name} ${show(s.spec?.selector)}`).join(', ');
  throw new RefusedError(`the candidate's pods would also be selected by Service ${list} in ${t.namespace}, which is not ${t.service}'s: it would send them traffic before they are verified; give the release its own labels (template.metadata.labels) or narrow that Service's selector`);
}

/**
 * A Service besides the live one that selects the live pods but not the
 * candidate's (it holds the slot label, as the live Service does) would keep
 * sending its traffic to the old slot after the switch, and be left with no
 * endpoints when the old slot is deleted.
 */
function refuseStranded(t: Target, live: Live, services: readonly V1Service[], liveLabels?: Selector, podLabels?: Selector): void {
  const previewName = previewServiceName(t);
  const stranded = services.filter((s) => s.metadata?.name !== t.service && s.metadata?.name !== previewName
    && selects(s.spec?.selector, liveLabels) && !selects(s.spec?.selector, podLabels));
  if (stranded.length === 0) return;
  const list = stranded.map((s) => `${s.metadata?.name} ${show(s.spec?.selector)}`).join(', ');
  throw new RefusedError(`Service ${list} in ${t.namespace} also selects the live slot's pods (${t.slotLabel}=${live.slot}) but not the candidate's: after the switch it would keep serving ${live.slot}, and deleting ${live.deployment} would leave it with no endpoints; Bluegreen switches one Service per release: select the pods without ${t.slotLabel} (the Service then serves both slots during a release) or give it a Deployment of its own`);
}

/** The preview Service's selector before the release (null: none); a preview that is not Bluegreen's is refused. */
function previewBefore(t: Target, preview: V1Service | undefined): Selector | null {
  if (preview === undefined) return null;
  if (!isOwnPreview(preview, t)) {
    throw new RefusedError(`Service ${t.namespace}/${previewServiceName(t)} exists and is not Bluegreen's preview for ${t.service} (labels ${show(preview.metadata?.labels)}): Bluegreen does not take over a Service it did not create; rename or delete it, or release under another service name`);
  }
  return preview.spec?.selector ?? {};
}

/**
 * A port of the live Service that targets a port name the candidate's pods
 * lack gives them no endpoints: the release would fail late, at verification
 * or the switch, saying only that the endpoints never came.
 */
function refuseMissingPorts(t: Target, ports: readonly V1ServicePort[], template: V1PodTemplateSpec | undefined): void {
  const have = (template?.spec?.containers ?? []).flatMap((c) => c.ports ?? []);
  const missing = ports.find((p) => typeof p.targetPort === 'string' && !have.some((c) => c.name === p.targetPort));
  if (missing === undefined) return;
  const listed = have.map((c) => (c.name === undefined ? `${c.containerPort}` : `${c.name} ${c.containerPort}`)).join(', ') || 'none';
  throw new RefusedError(`Service ${t.namespace}/${t.service} sends its port ${missing.name ?? missing.port} to the port named "${missing.targetPort}", which the candidate's pods do not have (their ports: ${listed}): name a container port "${missing.targetPort}" in the template, or give the Service's port a targetPort number`);
}

/** The replicas the candidate serves with: the spec's, else the live Deployment's, else 1. */
function servingReplicas(spec: ReleaseSpec, live: Live | undefined): number {
  const replicas = spec.replicas ?? live?.replicas ?? 1;
  if (spec.previewReplicas !== undefined && spec.previewReplicas > replicas) {
    throw new RefusedError(`previewReplicas (${spec.previewReplicas}) is more than the ${replicas} replicas the candidate serves with${spec.replicas === undefined ? ` (the live Deployment's)` : ''}`);
  }
  const minReady = spec.switch?.minReady;
  if (typeof minReady === 'number' && minReady > replicas) {
    throw new RefusedError(`switch.minReady (${minReady}) is more than the ${replicas} replicas the candidate serves with${spec.replicas === undefined ? ` (the live Deployment's)` : ''}`);
  }
  return replicas;
}

/**
 * The owners of the live Service, the live Deployment and the preview: one the
 * spec does not allow is refused; Helm and allowed ones become the plan's warnings.
 */
function checkOwners(spec: ReleaseSpec, objects: [string, V1Service | V1Deployment | undefined][]): string[] {
  const allowed: readonly string[] = spec.owners?.allow ?? [];
  const owners = objects.flatMap(([kind, obj]) => (obj === undefined ? [] : ownersOf(kind, obj.metadata)));
  const refused = owners.find((o): o is Owner & { kind: OwnerKind } => o.kind !== 'helm' && !allowed.includes(o.kind));
  if (refused !== undefined) throw new RefusedError(ownerRefusal(refused));
  return owners.map(ownerWarning);
}

/** Decides the slots, adopts the live Deployment and builds the candidate, or refuses with a reason. */
export function planRelease(spec: ReleaseSpec, t: Target, observed: Observed): Plan {
  const { service, preview, deployments, services } = observed;
  const adopted = adoptLive(t, observed);
  const warnings = checkOwners(spec, [['Service', service], ['Deployment', adopted?.deployment], ['Service', preview]]);
  const live = adopted?.live;
  const candidateSlot = live === undefined ? 'blue' : otherSlot(live.slot);
  const candidateSelector = live === undefined
    ? slotSelector(t, candidateSlot)
    : { ...live.unslotted ?? live.selector, [t.slotLabel]: candidateSlot };
  const name = candidateName(t, live?.deployment, live?.slot);
  refuseClashes(t, name, candidateSelector, live, deployments);
  if (adopted === undefined && spec.template === undefined && spec.image === undefined) {
    throw new RefusedError(`a first release of ${t.namespace}/${t.service} needs an image or a template: there is no live Deployment to take the pod template from`);
  }
  const around = observed.around ?? [];
  const autoscalers = live === undefined ? [] : autoscalersOf(around, live.deployment);
  refuseOutsideBounds(spec.replicas, autoscalers);
  if (live !== undefined) warnings.push(...vpaWarnings(around, live.deployment, name));
  const replicas = servingReplicas(spec, live);
  const object = candidateDeployment(spec, t, {
    name, slot: candidateSlot, selector: candidateSelector, base: spec.template ?? adopted?.deployment.spec?.template,
  }, previewReplicasOf(spec, replicas));
  warnings.push(...checkStepped({ ...spec, slotLabel: t.slotLabel }, live, replicas, autoscalers, object.spec?.template.spec));
  const podLabels = object.spec?.template.metadata?.labels;
  const liveLabels = adopted?.deployment.spec?.template?.metadata?.labels;
  refuseCrossing(t, services, podLabels, liveLabels);
  refuseShared(adopted?.deployment.spec?.template, object.spec?.template, observed.claims ?? []);
  warnings.push(...slotSelectingWarnings(around, t, liveLabels));
  const template = spec.template === undefined ? 'the live pod template' : 'template';
  warnings.push(...probeWarnings(object.spec?.template.spec, spec.rolloutTimeout, template));
  // The old slot drains after promotion, the candidate on a rollback (and as the next release's old slot).
  warnings.push(...drainWarnings(spec.drain, [
    ...(live === undefined ? [] : [{ deployment: live.deployment, spec: adopted?.deployment.spec?.template?.spec }]),
    { deployment: name, spec: object.spec?.template.spec },
  ], Math.ceil(modelRequestMs(spec) / 1000)));
  if (live !== undefined) refuseStranded(t, live, services, liveLabels, podLabels);
  const before = previewBefore(t, preview);
  // The container candidateDeployment chose, found again by name (its image is the new one now).
  const chosen = servingContainer(spec.template ?? adopted?.deployment.spec?.template ?? object.spec!.template, spec).name;
  const serving = servingContainer(object.spec?.template as V1PodTemplateSpec, { ...spec, container: chosen });
  const servingPort = servingPortOf(serving, spec);
  const ports = service === undefined ? containerServicePorts(serving, servingPort) : copyPorts(service.spec?.ports ?? []);
  refuseMissingPorts(t, ports, object.spec?.template);
  return {
    oldSlot: live?.slot, candidateSlot, live,
    candidate: { slot: candidateSlot, deployment: name, selector: candidateSelector },
    replicas, object, previewBefore: before, ports, port: servicePortFor(ports, serving, servingPort), servingPort,
    ...(warnings.length > 0 ? { warnings } : {}),
    ...(autoscalers.length > 0 ? { autoscalers } : {}),
  };
}
