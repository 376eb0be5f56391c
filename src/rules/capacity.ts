// Whether the cluster has room for the candidate beside the live slot, before
// anything changes: each resource the pod requests (GPUs and other extended
// resources, cpu, memory, ephemeral storage), on the nodes the pod may land on
// (nodeSelector, required node affinity, tolerated taints, schedulable), against
// what they have free (allocatable minus the requests of the pods there).
// A simplification of the scheduler's fit: pod affinity, topology spread and
// host ports are not counted; what this refuses, the scheduler would too.
import type { V1Node, V1NodeSelectorRequirement, V1Pod, V1PodSpec, V1Taint, V1Toleration } from '@kubernetes/client-node';
import { RefusedError } from './refused.js';

export type Amounts = Record<string, number>;

/** A quantity in base units (cpu in cores, memory in bytes): `500m`, `2Gi`, `1e3`, `4`. */
export function quantity(value: string | number | undefined): number {
  if (value === undefined) return 0;
  if (typeof value === 'number') return value;
  const m = /^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(value.trim());
  if (m === null) return Number.NaN;
  const scale: Record<string, number> = {
    m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
    Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
  };
  return Number(m[1]) * (m[2] === undefined ? 1 : scale[m[2]]!);
}

const add = (into: Amounts, from: Amounts): Amounts => {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
  return into;
};

/**
 * What one pod requests: its containers' requests summed (an extended
 * resource's limit is its request), or its largest init container's.
 */
export function podRequests(spec: V1PodSpec | undefined): Amounts {
  const of = (c: { resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }): Amounts => {
    const out: Amounts = {};
    for (const [k, v] of Object.entries(c.resources?.limits ?? {})) if (k.includes('/')) out[k] = quantity(v);
    for (const [k, v] of Object.entries(c.resources?.requests ?? {})) out[k] = quantity(v);
    return out;
  };
  const sum = (spec?.containers ?? []).reduce((acc, c) => add(acc, of(c)), {} as Amounts);
  for (const init of spec?.initContainers ?? []) {
    for (const [k, v] of Object.entries(of(init))) sum[k] = Math.max(sum[k] ?? 0, v);
  }
  return sum;
}

const tolerates = (tolerations: readonly V1Toleration[], taint: V1Taint): boolean => tolerations.some((t) =>
  (t.key === undefined || t.key === '' ? t.operator === 'Exists' : t.key === taint.key)
  && (t.operator === 'Exists' || (t.value ?? '') === (taint.value ?? ''))
  && (t.effect === undefined || t.effect === '' || t.effect === taint.effect));

function matchesExpression(labels: Record<string, string>, e: V1NodeSelectorRequirement): boolean {
  const value = labels[e.key];
  switch (e.operator) {
    case 'In': return value !== undefined && (e.values ?? []).includes(value);
    case 'NotIn': return value === undefined || !(e.values ?? []).includes(value);
    case 'Exists': return value !== undefined;
    case 'DoesNotExist': return value === undefined;
    case 'Gt': return value !== undefined && Number(value) > Number(e.values?.[0]);
    case 'Lt': return value !== undefined && Number(value) < Number(e.values?.[0]);
    default: return false;
  }
}

/** Why the pod cannot land on a node, or undefined when it may. */
export function excludedBy(spec: V1PodSpec | undefined, node: V1Node): string | undefined {
  const labels = node.metadata?.labels ?? {};
  if (node.spec?.unschedulable) return 'unschedulable';
  const selector = Object.entries(spec?.nodeSelector ?? {}).find(([k, v]) => labels[k] !== v);
  if (selector !== undefined) return `nodeSelector ${selector[0]}=${selector[1]}`;
  const terms = spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  const termHolds = (t: { matchExpressions?: V1NodeSelectorRequirement[] }) =>
    (t.matchExpressions ?? []).every((e) => matchesExpression(labels, e));
  if (terms !== undefined && terms.length > 0 && !terms.some(termHolds)) {
    return 'required node affinity';
  }
  const repels = (t: V1Taint) => (t.effect === 'NoSchedule' || t.effect === 'NoExecute') && !tolerates(spec?.tolerations ?? [], t);
  const taint = (node.spec?.taints ?? []).find(repels);
  return taint === undefined ? undefined : `taint ${taint.key}${taint.value ? `=${taint.value}` : ''}:${taint.effect}`;
}

export interface NodeRoom { node: string; free: Amounts; allocatable: Amounts; fits: number }

/** What each node the pod may land on has free, and how many such pods fit there. */
export function roomOn(
  spec: V1PodSpec | undefined,
  nodes: readonly V1Node[],
  pods: readonly V1Pod[],
): { rooms: NodeRoom[]; excluded: string[] } {
  const need = podRequests(spec);
  const used = new Map<string, Amounts>();
  for (const pod of pods) {
    const at = pod.spec?.nodeName;
    if (at === undefined || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
    used.set(at, add(used.get(at) ?? {}, podRequests(pod.spec)));
  }
  const rooms: NodeRoom[] = [];
  const excluded: string[] = [];
  for (const node of nodes) {
    const name = node.metadata?.name ?? '';
    const why = excludedBy(spec, node);
    if (why !== undefined) { excluded.push(`${name} (${why})`); continue; }
    const allocatable: Amounts = {};
    for (const [k, v] of Object.entries(node.status?.allocatable ?? {})) allocatable[k] = quantity(v);
    const free: Amounts = {};
    let fits = Number.POSITIVE_INFINITY;
    for (const [resource, amount] of Object.entries(need)) {
      free[resource] = (allocatable[resource] ?? 0) - (used.get(name)?.[resource] ?? 0);
      if (amount > 0) fits = Math.min(fits, Math.max(0, Math.floor(free[resource]! / amount + 1e-9)));
    }
    rooms.push({ node: name, free, allocatable, fits: Number.isFinite(fits) ? fits : Number.MAX_SAFE_INTEGER });
  }
  return { rooms, excluded };
}

const show = (resource: string, n: number): string => {
  if (resource === 'memory' || resource === 'ephemeral-storage') return `${Math.round(n / 2 ** 20)}Mi`;
  if (resource === 'cpu') return `${Math.round(n * 1000)}m`;
  return `${Math.round(n * 1000) / 1000}`;
};

/**
 * Refuses a candidate of `count` pods that the nodes cannot hold beside what
 * runs there now (the live slot included), naming the resource that runs out,
 * the need, each fitting node's free amount, and how many pods would fit.
 */
export function refuseNoRoom(
  spec: V1PodSpec | undefined, count: number, nodes: readonly V1Node[], pods: readonly V1Pod[], deployment: string, stepped = false,
): void {
  const need = podRequests(spec);
  if (Object.values(need).every((v) => v <= 0) || nodes.length === 0) return;
  const { rooms, excluded } = roomOn(spec, nodes, pods);
  const fit = rooms.reduce((n, r) => n + r.fits, 0);
  if (fit >= count) return;
  // The resource that runs out first: the one the fewest pods fit by.
  const scarce = Object.entries(need).filter(([, v]) => v > 0).map(([resource, amount]) => ({
    resource, amount, fits: rooms.reduce((n, r) => n + Math.max(0, Math.floor((r.free[resource] ?? 0) / amount + 1e-9)), 0),
  })).sort((a, b) => a.fits - b.fits)[0]!;
  const perNode = rooms.map((r) => `${r.node} ${show(scarce.resource, r.free[scarce.resource] ?? 0)} of ${show(scarce.resource, r.allocatable[scarce.resource] ?? 0)}`).join(', ') || 'none';
  const outside = excluded.length > 0 ? `; nodes it cannot run on: ${excluded.slice(0, 5).join(', ')}${excluded.length > 5 ? ` and ${excluded.length - 5} more` : ''}` : '';
  const wouldFit = fit === 0 ? 'no pod of it fits now'
    : stepped ? `${fit} would fit now (stepped.extraPods: ${fit})`
      : `${fit} would fit now (a stepped release with stepped.extraPods: ${fit} needs only that many beside the live slot; previewReplicas alone verifies with fewer, but the switch needs all ${count})`;
  throw new RefusedError(`not enough ${scarce.resource} for ${deployment}: ${count} pods × ${show(scarce.resource, scarce.amount)} = ${show(scarce.resource, count * scarce.amount)} needed beside the live slot, free on the nodes it can run on: ${perNode}${outside}; ${wouldFit}. Free capacity (scale down something, add nodes) or release fewer replicas`);
}
