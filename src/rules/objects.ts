// The objects Bluegreen writes: the candidate Deployment (the user's pod
// template with Bluegreen's names, labels and replicas) and its own Services.
import type { V1Container, V1Deployment, V1EnvVar, V1PodTemplateSpec, V1Service, V1ServicePort } from '@kubernetes/client-node';
import { rolloutBoundMs } from '../release/bounds.js';
import type { Selector } from '../release/plan.js';
import type { ReleaseSpec } from '../release/spec.js';
import type { Slot } from '../release/status.js';
import {
  MANAGED_BY_LABEL, MANAGED_BY, RELEASE_ANNOTATION, SERVICE_LABEL, VERSION_LABEL, ownLabels, type Target,
} from '../release/target.js';
import { RefusedError } from './refused.js';
import { fillSlotInClaims } from './shared.js';

export const DEFAULT_PORT = 8080;

/** Where the serving container answers: the spec's port, else its first port, else 8080. */
export const servingPortOf = (container: V1Container, spec: { port?: number }): number =>
  spec.port ?? container.ports?.[0]?.containerPort ?? DEFAULT_PORT;

/** An image reference's repository, without tag or digest, with Docker Hub's implied registry and library made explicit. */
export function imageRepository(image: string): string {
  const ref = image.split('@')[0]!;
  const repo = ref.lastIndexOf(':') > ref.lastIndexOf('/') ? ref.slice(0, ref.lastIndexOf(':')) : ref;
  const [first, ...rest] = repo.split('/');
  const hasRegistry = rest.length > 0 && (first!.includes('.') || first!.includes(':') || first === 'localhost');
  if (hasRegistry) return repo;
  return `docker.io/${rest.length === 0 ? `library/${first}` : repo}`;
}

/** What the spec sets on the serving container. */
type ShortForms = Pick<ReleaseSpec, 'container' | 'image' | 'args' | 'env' | 'resources' | 'port'>;

/**
 * The serving container, chosen, not guessed: `container` by name; the one
 * container; with `image`, the one whose image repository is the new image's
 * (a sidecar first in the list keeps its own image). None or several, when
 * the short forms set something on it, is refused before anything changes,
 * listing the containers. With nothing set on it, the first that declares a port.
 */
export function servingContainer(template: V1PodTemplateSpec, spec: ShortForms): V1Container {
  const containers = template.spec?.containers ?? [];
  const listed = containers.map((c) => `${c.name} (${c.image ?? 'no image'})`).join(', ');
  if (spec.container !== undefined) {
    const named = containers.find((c) => c.name === spec.container);
    if (named === undefined) throw new RefusedError(`container "${spec.container}" is not in the pod template (containers: ${listed})`);
    return named;
  }
  if (containers.length === 0) throw new RefusedError('the pod template has no container');
  if (containers.length === 1) return containers[0]!;
  if (spec.image !== undefined) {
    const repository = imageRepository(spec.image);
    const matching = containers.filter((c) => c.image !== undefined && imageRepository(c.image) === repository);
    if (matching.length === 1) return matching[0]!;
    const which = matching.length === 0 ? 'no container' : `${matching.length} containers`;
    throw new RefusedError(`image ${spec.image}: ${which} of the pod template run ${repository} (containers: ${listed}): name the serving container with container:`);
  }
  const forms = [
    spec.args !== undefined && 'args', spec.env.length > 0 && 'env', spec.resources !== undefined && 'resources', spec.port !== undefined && 'port',
  ].filter((f): f is string => f !== false);
  if (forms.length > 0) {
    throw new RefusedError(`${forms.join(', ')} set the serving container, and the pod template has ${containers.length} (${listed}): name it with container:`);
  }
  return containers.find((c) => (c.ports ?? []).length > 0) ?? containers[0]!;
}

export function copyPorts(ports: readonly V1ServicePort[]): V1ServicePort[] {
  return ports.map(({ name, port, targetPort, protocol, appProtocol }) => ({
    ...(name === undefined ? {} : { name }), port, ...(targetPort === undefined ? {} : { targetPort }),
    ...(protocol === undefined ? {} : { protocol }), ...(appProtocol === undefined ? {} : { appProtocol }),
  }));
}

/** A first release's Service ports: one for each port of the serving container, on the same number. */
export function containerServicePorts(container: V1Container, servingPort: number): V1ServicePort[] {
  const ports = container.ports?.length ? container.ports : [{ name: 'http', containerPort: servingPort }];
  return ports.map((p, i) => ({
    name: p.name ?? (i === 0 ? 'http' : `port-${p.containerPort}`), port: p.containerPort, targetPort: p.containerPort as never,
    ...(p.protocol === undefined ? {} : { protocol: p.protocol }),
  }));
}

/** The Service port that routes to the serving port (by number or by the container port's name). */
export function servicePortFor(ports: readonly V1ServicePort[], container: V1Container, servingPort: number): number {
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
  const ports = [{ name: 'http', containerPort: spec.port ?? DEFAULT_PORT }];
  return { spec: { containers: [{ name: 'model-server', image: spec.image, ports }] } };
}

/**
 * The candidate Deployment: the user's pod template (or the live one's, or a
 * one-container default), with the spec's short forms set on the serving
 * container. Bluegreen owns the name, replicas, selector, the slot label and
 * its own labels; everything else in the template is the user's, as given.
 */
export function candidateDeployment(
  spec: ReleaseSpec, t: Target, c: { name: string; slot: Slot; selector: Selector; base?: V1PodTemplateSpec },
  replicas = spec.previewReplicas ?? spec.replicas ?? 1,
): V1Deployment {
  const template: V1PodTemplateSpec = JSON.parse(JSON.stringify(c.base ?? spec.template ?? defaultTemplate(spec))) as V1PodTemplateSpec;
  fillSlotInClaims(template, c.slot);
  const container = servingContainer(template, spec);
  if (spec.image !== undefined) container.image = spec.image;
  if (spec.args !== undefined) container.args = [...spec.args];
  if (spec.env.length > 0) container.env = mergeEnv(container.env, spec);
  if (spec.resources !== undefined) container.resources = JSON.parse(JSON.stringify(spec.resources));
  const servingPort = servingPortOf(container, spec);
  if (!(container.ports ?? []).some((p) => p.containerPort === servingPort)) {
    const named = (container.ports ?? []).some((p) => p.name === 'http');
    container.ports = [...(container.ports ?? []), { ...(named ? {} : { name: 'http' }), containerPort: servingPort }];
  }
  container.readinessProbe ??= { httpGet: { path: spec.readinessPath, port: servingPort as never }, periodSeconds: 5, failureThreshold: 3 };

  const { [RELEASE_ANNOTATION]: _earlier, ...annotations } = template.metadata?.annotations ?? {};
  const labels = {
    ...template.metadata?.labels, [SERVICE_LABEL]: t.service, [MANAGED_BY_LABEL]: MANAGED_BY, [VERSION_LABEL]: spec.version, ...c.selector,
  };
  template.metadata = { ...template.metadata, labels, annotations: Object.keys(annotations).length > 0 ? annotations : undefined };
  if (template.metadata.annotations === undefined) delete template.metadata.annotations;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: c.name, namespace: t.namespace, labels: { ...ownLabels(t), [VERSION_LABEL]: spec.version, [t.slotLabel]: c.slot } },
    spec: {
      replicas,
      selector: { matchLabels: c.selector },
      // The rollout wait gives up at its bound; the controller must not give up first.
      progressDeadlineSeconds: Math.ceil(rolloutBoundMs(spec, true) / 1000) + 60,
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
