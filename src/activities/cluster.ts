// Kubernetes reads and writes. Each function is idempotent: it reads what is
// there and moves it to what should be, so a retry after a crash is harmless.
import {
  ApiException, AppsV1Api, CoreV1Api, DiscoveryV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy, setHeaderOptions,
  type V1Deployment, type V1Node, type V1PersistentVolumeClaim, type V1Pod, type V1ReplicaSet, type V1Service,
} from '@kubernetes/client-node';
import { FIELD_MANAGER, previewServiceName, type Target } from '../release/target.js';
import type { Selector } from '../release/plan.js';
import type { Observed } from '../rules/plan.js';
import { endpointsState, isReadyPod, podsOwnedBy, type EndpointsState } from '../rules/rollout.js';
import { isUnslotted } from '../rules/selectors.js';
import { Watches, type Reads } from './watches.js';

export interface Kube {
  core: CoreV1Api;
  apps: AppsV1Api;
  discovery: DiscoveryV1Api;
  objects: KubernetesObjectApi;
  /** the worker's shared watches; without them every wait reads the API server */
  watches?: Watches;
}

/**
 * @kubernetes/client-node 2.0 builds a new undici Agent for every request, so
 * every call opened a new TLS connection: with hundreds of releases, the
 * worker spent a third of its time in TLS handshakes (docs/benchmarks.md,
 * Scale). One Agent per API server and credentials keeps connections alive.
 */
function reuseConnections(config: KubeConfig): void {
  type CreateDispatcher = (cluster: { server?: string } | null, options: Record<string, unknown>) => unknown;
  const patched = config as unknown as { createDispatcher?: CreateDispatcher };
  const create = patched.createDispatcher?.bind(config);
  if (create === undefined) return;
  const agents = new Map<string, unknown>();
  patched.createDispatcher = (cluster, options) => {
    const credentials = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'].map((k) => String(options[k] ?? ''));
    const key = JSON.stringify([cluster?.server, ...credentials]);
    if (!agents.has(key)) agents.set(key, create(cluster, options));
    return agents.get(key);
  };
}

export function kubeFromConfig(config: KubeConfig): Kube {
  reuseConnections(config);
  const apis = {
    core: config.makeApiClient(CoreV1Api),
    apps: config.makeApiClient(AppsV1Api),
    discovery: config.makeApiClient(DiscoveryV1Api),
  };
  return { ...apis, objects: KubernetesObjectApi.makeApiClient(config), watches: new Watches({ ...apis, config }) };
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

/** Answers a read may be retried on at once: no answer at all, 429, or a 5xx. */
const isTransientAnswer = (err: unknown): boolean =>
  !(err instanceof ApiException) || err.code === 429 || err.code >= 500;
const READ_TRIES = 4;

/**
 * A read, tried again on a transient answer (with 100, 200, 400 ms between), so
 * one blip of the API server does not cost a whole activity attempt. Writes are
 * not retried here: a guarded patch retried after a lost answer would report a
 * conflict with itself.
 */
async function read<T>(step: string, run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await run();
    } catch (err) {
      if (attempt >= READ_TRIES || !isTransientAnswer(err)) throw kubeError(step, err);
      await new Promise((r) => setTimeout(r, 100 * 2 ** (attempt - 1)));
    }
  }
}

/** A read tried again on a transient answer (see read), for reads made outside this file. */
export const retriedRead = read;

async function orUndefined<T>(step: string, run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read(step, run);
  } catch (err) {
    if (err instanceof KubeError && err.code === 404) return undefined;
    throw err;
  }
}

async function call<T>(step: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw kubeError(step, err);
  }
}

/** Every Deployment and Service of a namespace, each list fresh (see freshShared). */
export async function namespaceObjects(kube: Kube, namespace: string): Promise<{ deployments: V1Deployment[]; services: V1Service[] }> {
  const [deployments, services] = await Promise.all([
    freshShared(kube, `Deployments ${namespace}`, () =>
      read(`list Deployments in ${namespace}`, () => kube.apps.listNamespacedDeployment({ namespace }))),
    freshShared(kube, `Services ${namespace}`, () =>
      read(`list Services in ${namespace}`, () => kube.core.listNamespacedService({ namespace }))),
  ]);
  return { deployments: deployments.items, services: services.items };
}

/** Every node, and every pod of the cluster not ended: what the nodes have free (shared reads, like the namespace's lists). */
export async function nodesAndPods(kube: Kube): Promise<{ nodes: V1Node[]; pods: V1Pod[] }> {
  const [nodes, pods] = await Promise.all([
    freshShared(kube, 'Nodes', () => read('list Nodes', () => kube.core.listNode())),
    freshShared(kube, 'Pods of the cluster', () => read('list Pods of the cluster', () =>
      kube.core.listPodForAllNamespaces({ fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed' }))),
  ]);
  return { nodes: nodes.items, pods: pods.items };
}

export async function listClaims(kube: Kube, namespace: string): Promise<V1PersistentVolumeClaim[]> {
  return (await read(`list PersistentVolumeClaims in ${namespace}`, () => kube.core.listNamespacedPersistentVolumeClaim({ namespace }))).items;
}

export async function observe(kube: Kube, t: Target): Promise<Observed> {
  const [service, preview, lists] = await Promise.all([
    readService(kube, t, t.service), readService(kube, t, previewServiceName(t)), namespaceObjects(kube, t.namespace),
  ]);
  // An unslotted Service (no slot label in its selector) is narrowed to the live pods: the plan needs them.
  const selected = isUnslotted(service, t.slotLabel) ? { selected: await selectedPods(kube, t, service!.spec!.selector!) } : {};
  return { service, preview, ...lists, ...selected };
}

const sharedLists = new WeakMap<Kube, Map<string, { sent?: Promise<unknown>; next?: Promise<unknown> }>>();

/**
 * A whole-namespace list that concurrent callers share without reading stale
 * data: each caller gets the answer to a request sent after it asked, so it
 * sees everything written before it asked, as a list of its own would. A
 * caller that asks while a list is in flight shares the next one, sent when
 * that one is answered. Preflight lists every Deployment and Service of the
 * namespace; with hundreds of releases starting in one namespace, each list
 * then serves many of them (docs/benchmarks.md, Scale). Callers must not
 * modify what they get.
 */
export function freshShared<T>(kube: Kube, key: string, load: () => Promise<T>): Promise<T> {
  let lists = sharedLists.get(kube);
  if (lists === undefined) sharedLists.set(kube, lists = new Map());
  let slot = lists.get(key);
  if (slot === undefined) lists.set(key, slot = {});
  const send = (): Promise<T> => {
    const sent = load();
    slot.sent = sent;
    const done = () => { if (slot.sent === sent) slot.sent = undefined; };
    sent.then(done, done);
    return sent;
  };
  if (slot.sent === undefined) return send();
  slot.next ??= slot.sent.then(() => undefined, () => undefined).then(() => {
    slot.next = undefined;
    return send();
  });
  return slot.next as Promise<T>;
}

/** Server-side apply under our field manager: creates or updates in one idempotent call. `dryRun` asks the API server to judge it only. */
export async function apply<T extends V1Deployment | V1Service>(kube: Kube, object: T, dryRun = false): Promise<T> {
  const step = `${dryRun ? 'dry-run ' : ''}apply ${object.kind} ${object.metadata?.namespace}/${object.metadata?.name}`;
  const dryRunAll = dryRun ? 'All' : undefined;
  return call(step, () => kube.objects.patch(object, undefined, dryRunAll, FIELD_MANAGER, true, PatchStrategy.ServerSideApply));
}

export async function readDeployment(kube: Kube, t: Pick<Target, 'namespace'>, name: string): Promise<V1Deployment | undefined> {
  return orUndefined(`read Deployment ${name}`, () => kube.apps.readNamespacedDeployment({ name, namespace: t.namespace }));
}

const labelSelector = (selector: Selector): string => Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(',');

/**
 * The pods a Deployment runs, by ownership (pod -> ReplicaSet -> Deployment), so
 * a pod that merely carries the same labels never counts as the Deployment's.
 * `current`: only pods of the ReplicaSet of the Deployment's current revision.
 */
export async function deploymentPods(reads: Reads, deployment: V1Deployment, current = false): Promise<V1Pod[]> {
  const selector = deployment.spec?.selector?.matchLabels ?? {};
  const [sets, pods] = await Promise.all([reads.replicaSets(selector), reads.pods(selector)]);
  return podsOwnedBy(deployment, pods, sets, current);
}

/** The reads of the waits, answered by the API server. */
export function apiReads(kube: Kube, namespace: string): Reads {
  return {
    deployment: (name) => readDeployment(kube, { namespace }, name),
    pods: async (selector) => (await read('list pods by selector', () =>
      kube.core.listNamespacedPod({ namespace, labelSelector: labelSelector(selector) }))).items,
    replicaSets: async (selector) => (await read('list ReplicaSets by selector', () =>
      kube.apps.listNamespacedReplicaSet({ namespace, labelSelector: labelSelector(selector) }))).items,
    endpointSlices: async (service) => (await read(`list EndpointSlices of ${service}`, () =>
      kube.discovery.listNamespacedEndpointSlice({ namespace, labelSelector: `kubernetes.io/service-name=${service}` }))).items,
  };
}

/**
 * Pods whose labels a selector matches, whoever runs them, and the ReplicaSets it
 * matches: a Deployment's ReplicaSets carry its pod labels, so these are enough
 * to tell which of the pods are a Deployment's (podsOwnedBy) without another read.
 */
export async function selectedPods(kube: Kube, t: Target, selector: Selector): Promise<{ pods: V1Pod[]; sets: V1ReplicaSet[] }> {
  const reads = apiReads(kube, t.namespace);
  const [pods, sets] = await Promise.all([reads.pods(selector), reads.replicaSets(selector)]);
  return { pods, sets };
}

export async function scaleDeployment(kube: Kube, t: Target, name: string, replicas: number): Promise<void> {
  await call(`scale Deployment ${name}`, () => kube.apps.patchNamespacedDeploymentScale(
    { name, namespace: t.namespace, body: { spec: { replicas } }, fieldManager: FIELD_MANAGER },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  ));
}

export async function deleteDeployment(kube: Kube, t: Target, name: string): Promise<boolean> {
  try {
    await kube.apps.deleteNamespacedDeployment({ name, namespace: t.namespace, propagationPolicy: 'Background' });
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw kubeError(`delete Deployment ${name}`, err);
  }
}

/**
 * Stops a pod now: a drain that ran out of time. A grace period of 1 second
 * shortens the one a terminating pod has, so the kubelet kills it; 0 would only
 * remove the object (a force delete), leaving the kubelet to stop the container
 * on the pod's own grace period. Gone already is fine.
 */
export async function deletePodNow(kube: Kube, t: Pick<Target, 'namespace'>, name: string): Promise<void> {
  try {
    await kube.core.deleteNamespacedPod({ name, namespace: t.namespace, gracePeriodSeconds: 1 });
  } catch (err) {
    if (!isNotFound(err)) throw kubeError(`delete pod ${name}`, err);
  }
}

/** Deletes a Service only if `ours` says it is (and only the one read: the delete is preconditioned on its uid). */
export async function deleteServiceOf(kube: Kube, t: Target, name: string, ours: (service: V1Service) => boolean): Promise<boolean> {
  const service = await readService(kube, t, name);
  if (service === undefined || !ours(service)) return false;
  try {
    await kube.core.deleteNamespacedService({ name, namespace: t.namespace, body: { preconditions: { uid: service.metadata?.uid } } });
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw kubeError(`delete Service ${name}`, err);
  }
}

/**
 * Replaces a Service's whole selector with a JSON patch whose `test` op makes
 * the API server refuse it if someone changed the selector since: a concurrent
 * change is reported, never overwritten.
 */
export async function patchSelector(kube: Kube, t: Target, from: Selector, to: Selector): Promise<'switched' | 'conflict'> {
  try {
    await kube.core.patchNamespacedService(
      {
        name: t.service, namespace: t.namespace, fieldManager: FIELD_MANAGER,
        body: [{ op: 'test', path: '/spec/selector', value: from }, { op: 'replace', path: '/spec/selector', value: to }],
      },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
    return 'switched';
  } catch (err) {
    // A failed `test` op is 422 Unprocessable Entity.
    if (err instanceof ApiException && err.code === 422) return 'conflict';
    throw kubeError(`patch selector of Service ${t.service}`, err);
  }
}

/** One key of a Secret in the target's namespace, decoded; undefined when the Secret or the key is missing. */
export async function readSecretKey(kube: Kube, t: Target, name: string, key: string): Promise<string | undefined> {
  const secret = await orUndefined(`read Secret ${name}`, () => kube.core.readNamespacedSecret({ name, namespace: t.namespace }));
  const data = secret?.data?.[key];
  return data === undefined ? undefined : Buffer.from(data, 'base64').toString('utf8');
}

export async function readService(kube: Kube, t: Target, name: string): Promise<V1Service | undefined> {
  return orUndefined(`read Service ${name}`, () => kube.core.readNamespacedService({ name, namespace: t.namespace }));
}

/** What a Service's EndpointSlices hold, judged against the pods a Deployment runs. */
export async function serviceEndpoints(
  reads: Reads, service: string, deployment: V1Deployment, also?: V1Deployment,
): Promise<EndpointsState & { podsReady: number }> {
  const [slices, own, more] = await Promise.all([
    reads.endpointSlices(service), deploymentPods(reads, deployment), also === undefined ? [] : deploymentPods(reads, also),
  ]);
  const pods = [...own, ...more];
  const podsReady = pods.filter(isReadyPod).length;
  return { ...endpointsState(slices, new Set(pods.map((p) => p.metadata?.name ?? ''))), podsReady };
}
