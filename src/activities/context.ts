// What every activity family is built from: the clients and allowlists the
// worker hands in, and the small reads and refusals they all use.
import { ApplicationFailure } from '@temporalio/activity';
import type { V1Deployment } from '@kubernetes/client-node';
import { ErrorTypes } from '../release/errors.js';
import type { Webhook } from '../release/notify.js';
import type { ReleaseSpec } from '../release/spec.js';
import { previewServiceName, type Target } from '../release/target.js';
import { apiReads, readSecretKey, readService, type Kube } from './cluster.js';
import type { Fetch } from './http.js';
import type { Reads } from './watches.js';

export interface ActivityDeps {
  kube: Kube;
  /** namespaces the worker may touch; undefined allows all */
  allowedNamespaces?: readonly string[];
  /** hosts (or host:port) verification may reach besides the release's own Services */
  allowedEndpointHosts?: readonly string[];
  /** the cluster this worker serves; a release that names another is refused */
  clusterName?: string;
  fetch?: Fetch;
  /** how often waits re-read the cluster */
  pollMs?: number;
  /** where notices go (BLUEGREEN_NOTIFY), and the page their links point at (BLUEGREEN_UI_URL) */
  webhooks?: readonly Webhook[];
  uiUrl?: string;
}

export interface ActivityContext {
  deps: ActivityDeps;
  kube: Kube;
  fetch: Fetch;
  pollMs: number;
}

export const contextOf = (deps: ActivityDeps): ActivityContext => ({
  deps, kube: deps.kube, fetch: deps.fetch ?? fetch, pollMs: deps.pollMs ?? 500,
});

export const nonRetryable = (type: string, message: string) => ApplicationFailure.nonRetryable(message, type);

/** Refuses a namespace outside the allowlist before any call reaches the cluster. */
export function guardNamespace(deps: ActivityDeps, t: Pick<Target, 'namespace'>): void {
  if (deps.allowedNamespaces !== undefined && !deps.allowedNamespaces.includes(t.namespace)) {
    throw nonRetryable(ErrorTypes.NamespaceNotAllowed, `namespace "${t.namespace}" is not in this worker's allowlist (${deps.allowedNamespaces.join(', ')})`);
  }
}

/** Why an endpoint a spec field gives may not be reached: neither one of the release's own Services nor in the worker's allowlist. */
export function endpointRefusal(deps: ActivityDeps, t: Target, field: string, endpoint: string): string | undefined {
  const own = [t.service, previewServiceName(t)].flatMap((n) => [`${n}.${t.namespace}.svc`, `${n}.${t.namespace}.svc.cluster.local`]);
  const allowed = deps.allowedEndpointHosts ?? [];
  const url = new URL(endpoint);
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (own.includes(host) || allowed.includes(host) || allowed.includes(`${host}:${url.port}`)) return undefined;
  return `${field}: ${url.host} is not one of this release's Services (${t.service}, ${previewServiceName(t)} in ${t.namespace}) nor in the worker's BLUEGREEN_VERIFY_HOSTS (${allowed.join(', ') || 'empty'})`;
}

/** Refuses a verification, analysis or drain endpoint outside the release's own Services and the worker's allowlist. */
export function guardEndpoints(deps: ActivityDeps, spec: ReleaseSpec, t: Target): void {
  const endpoints: [string, string | undefined][] = [
    ['verify.endpoint', spec.verify.endpoint], ['verify.liveEndpoint', spec.verify.liveEndpoint],
    ['monitor.endpoint', spec.monitor.endpoint],
    ...(spec.monitor.analysis ?? []).map((a, i): [string, string | undefined] => [
      `monitor.analysis[${i}].provider.prometheus.address`, 'prometheus' in a.provider ? a.provider.prometheus.address : undefined,
    ]),
    ['drain.prometheus.address', spec.drain?.prometheus?.address],
  ];
  for (const [field, endpoint] of endpoints) {
    const refused = endpoint === undefined ? undefined : endpointRefusal(deps, t, field, endpoint);
    if (refused !== undefined) throw nonRetryable(ErrorTypes.EndpointNotAllowed, refused);
  }
}

/**
 * A Service's URL for verification and analysis: its ClusterIP, which needs no
 * cluster DNS (a worker beside the cluster, or in it); the DNS name if it has none.
 */
export async function serviceUrl(kube: Kube, t: Target, name: string, port: number): Promise<string> {
  const service = await readService(kube, t, name);
  const ip = service?.spec?.clusterIP;
  const host = ip && ip !== 'None' ? (ip.includes(':') ? `[${ip}]` : ip) : `${name}.${t.namespace}.svc.cluster.local`;
  return `http://${host}:${port}`;
}

/** A Deployment that must exist; its absence fails the step with `type`. */
export async function mustReadFrom(reads: Reads, t: Target, name: string, type: string): Promise<V1Deployment> {
  const d = await reads.deployment(name);
  if (d === undefined) throw nonRetryable(type, `Deployment ${t.namespace}/${name} does not exist`);
  return d;
}

export const mustRead = (kube: Kube, t: Target, name: string, type: string) => mustReadFrom(apiReads(kube, t.namespace), t, name, type);

/** A list of request headers as the spec gives them (literal, or a Secret's key), and the field it is. */
type HeaderList = { name: string; value?: string; secretKeyRef?: { name: string; key: string } }[];

/**
 * Request headers with their values: a Secret's is read now, by the worker, so
 * it never enters the release's history. A missing Secret or key is refused
 * with a failure of `type`, naming the header (`field`).
 */
export async function requestHeaders(
  kube: Kube, t: Target, type: string, list: HeaderList, field: string,
): Promise<Record<string, string>> {
  const headers: Record<string, string> = {};
  for (const [i, h] of list.entries()) {
    if (h.value !== undefined) {
      headers[h.name] = h.value;
      continue;
    }
    const { name, key } = h.secretKeyRef!;
    const value = await readSecretKey(kube, t, name, key);
    if (value === undefined) throw nonRetryable(type, `${field}[${i}] (${h.name}): Secret ${t.namespace}/${name} has no key "${key}" (or does not exist)`);
    if (/[\r\n]/.test(value.trim())) throw nonRetryable(type, `${field}[${i}] (${h.name}): the value in Secret ${t.namespace}/${name} key "${key}" spans lines; a header value is one line`);
    headers[h.name] = value.trim();
  }
  return headers;
}

/** verify.headers, sent with every request to the model servers. */
export const verifyHeaders = (kube: Kube, spec: ReleaseSpec, t: Target, type: string): Promise<Record<string, string>> =>
  requestHeaders(kube, t, type, spec.verify.headers ?? [], 'verify.headers');

/** Each analysis metric's Prometheus headers, read as requestHeaders reads them (none for a probe). */
export const analysisHeaders = (kube: Kube, spec: ReleaseSpec, t: Target, type: string): Promise<Record<string, string>[]> =>
  Promise.all((spec.monitor.analysis ?? []).map((m, i) => ('prometheus' in m.provider && m.provider.prometheus.headers !== undefined
    ? requestHeaders(kube, t, type, m.provider.prometheus.headers, `monitor.analysis[${i}].provider.prometheus.headers`)
    : {})));
