// Kubernetes reads and writes. Each function is idempotent: it reads what is
// there and moves it to what should be, so a retry after a crash is harmless.
import {
  ApiException, AppsV1Api, CoreV1Api, DiscoveryV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy, setHeaderOptions,
  type V1Deployment, type V1Pod, type V1Service,
} from '@kubernetes/client-node';
import type { Slot } from '../release/status.js';
import {
  FIELD_MANAGER, RELEASE_ANNOTATION, deploymentName, previewServiceName, type Target,
} from '../release/target.js';
import { endpointsState, slotService, type EndpointsState, type Observed } from './cluster-logic.js';

export interface Kube {
  core: CoreV1Api;
  apps: AppsV1Api;
  discovery: DiscoveryV1Api;
  objects: KubernetesObjectApi;
}

export function kubeFromConfig(config: KubeConfig): Kube {
  return {
    core: config.makeApiClient(CoreV1Api),
    apps: config.makeApiClient(AppsV1Api),
    discovery: config.makeApiClient(DiscoveryV1Api),
    objects: KubernetesObjectApi.makeApiClient(config),
  };
}

/** A Kubernetes API error in one line: status, reason and the server's message. */
export class KubeError extends Error {
  override readonly name = 'KubeError';
  constructor(readonly step: string, readonly code: number | undefined, message: string) {
    super(`${step}: ${code === undefined ? '' : `HTTP ${code}: `}${message}`);
  }
}

export function kubeError(step: string, err: unknown): KubeError {
  if (err instanceof ApiException) {
    const body = typeof err.body === 'string' ? safeJson(err.body) : err.body;
    const message = (body as { message?: string } | undefined)?.message ?? String(err.body).slice(0, 200);
    return new KubeError(step, err.code, message);
  }
  return new KubeError(step, undefined, err instanceof Error ? err.message : String(err));
}

function safeJson(text: string): unknown {
  try { return JSON.parse(text); } catch { return { message: text.slice(0, 200) }; }
}

export const isNotFound = (err: unknown): boolean => err instanceof ApiException && err.code === 404;

async function orUndefined<T>(step: string, read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw kubeError(step, err);
  }
}

async function call<T>(step: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw kubeError(step, err);
  }
}

export async function observe(kube: Kube, t: Target): Promise<Observed> {
  const [service, preview, blue, green] = await Promise.all([
    readService(kube, t, t.service), readService(kube, t, previewServiceName(t)), readDeployment(kube, t, 'blue'), readDeployment(kube, t, 'green'),
  ]);
  return { service, preview, slots: { ...(blue && { blue }), ...(green && { green }) } };
}

/** Server-side apply under our field manager: creates or updates in one idempotent call. */
export async function apply<T extends V1Deployment | V1Service>(kube: Kube, object: T): Promise<T> {
  const step = `apply ${object.kind} ${object.metadata?.namespace}/${object.metadata?.name}`;
  return call(step, () => kube.objects.patch(object, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply));
}

export async function readDeployment(kube: Kube, t: Target, slot: Slot): Promise<V1Deployment | undefined> {
  const name = deploymentName(t, slot);
  return orUndefined(`read Deployment ${name}`, () => kube.apps.readNamespacedDeployment({ name, namespace: t.namespace }));
}

export async function slotPods(kube: Kube, t: Target, slot?: Slot): Promise<V1Pod[]> {
  const selector = [`app.kubernetes.io/name=${t.model}`, ...(slot === undefined ? [] : [`${t.slotLabel}=${slot}`])].join(',');
  const list = await call(`list pods of ${t.model}`, () => kube.core.listNamespacedPod({ namespace: t.namespace, labelSelector: selector }));
  return list.items;
}

export async function scaleDeployment(kube: Kube, t: Target, slot: Slot, replicas: number): Promise<void> {
  const name = deploymentName(t, slot);
  await call(`scale Deployment ${name}`, () => kube.apps.patchNamespacedDeploymentScale(
    { name, namespace: t.namespace, body: { spec: { replicas } }, fieldManager: FIELD_MANAGER },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  ));
}

export async function deleteDeployment(kube: Kube, t: Target, slot: Slot): Promise<boolean> {
  const name = deploymentName(t, slot);
  try {
    await kube.apps.deleteNamespacedDeployment({ name, namespace: t.namespace, propagationPolicy: 'Background' });
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw kubeError(`delete Deployment ${name}`, err);
  }
}

/** Deletes a Service only if this release created it (its annotation names the release). */
export async function deleteServiceOf(kube: Kube, t: Target, name: string, releaseId?: string): Promise<boolean> {
  const service = await readService(kube, t, name);
  if (service === undefined) return false;
  if (releaseId !== undefined && service.metadata?.annotations?.[RELEASE_ANNOTATION] !== releaseId) return false;
  try {
    await kube.core.deleteNamespacedService({ name, namespace: t.namespace, body: { preconditions: { uid: service.metadata?.uid } } });
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw kubeError(`delete Service ${name}`, err);
  }
}

/** Points a Service (live or preview) at a slot, creating it if absent. */
export async function pointService(kube: Kube, t: Target, name: string, slot: Slot, releaseId: string): Promise<void> {
  await apply(kube, slotService(t, name, slot, releaseId));
}

/**
 * Moves the live selector from one slot to another with a JSON patch whose
 * `test` op makes the API server refuse it if someone changed the selector
 * since: a concurrent change is reported, never overwritten.
 */
export async function patchSelector(kube: Kube, t: Target, from: Slot, to: Slot): Promise<'switched' | 'conflict'> {
  const path = `/spec/selector/${t.slotLabel.replaceAll('~', '~0').replaceAll('/', '~1')}`;
  try {
    await kube.core.patchNamespacedService(
      { name: t.service, namespace: t.namespace, fieldManager: FIELD_MANAGER, body: [{ op: 'test', path, value: from }, { op: 'replace', path, value: to }] },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
    return 'switched';
  } catch (err) {
    // A failed `test` op is 422 Unprocessable Entity.
    if (err instanceof ApiException && err.code === 422) return 'conflict';
    throw kubeError(`patch selector of Service ${t.service}`, err);
  }
}

export async function readService(kube: Kube, t: Target, name: string): Promise<V1Service | undefined> {
  return orUndefined(`read Service ${name}`, () => kube.core.readNamespacedService({ name, namespace: t.namespace }));
}

/** What a Service's EndpointSlices hold, judged against a slot. */
export async function serviceEndpoints(kube: Kube, t: Target, service: string, slot: Slot): Promise<EndpointsState> {
  const [slices, pods] = await Promise.all([
    call(`list EndpointSlices of ${service}`, () => kube.discovery.listNamespacedEndpointSlice({ namespace: t.namespace, labelSelector: `kubernetes.io/service-name=${service}` })),
    slotPods(kube, t),
  ]);
  return endpointsState(slices.items, pods, t.slotLabel, slot);
}
