// Draining a slot: the requests a pod still answers, read from its metrics page,
// and whether its pods get the time a drain gives them.
import type { V1PodSpec } from '@kubernetes/client-node';
import { durationMs } from '../release/duration.js';

/** Kubernetes' default terminationGracePeriodSeconds. */
const DEFAULT_GRACE_SECONDS = 30;

/**
 * The sum of the samples of `names` on a Prometheus text page (every label set);
 * undefined when the page has none of them (a server that does not export them).
 */
export function metricSum(page: string, names: readonly string[]): number | undefined {
  let sum: number | undefined;
  for (const line of page.split('\n')) {
    if (line.startsWith('#')) continue;
    // name, optional {labels} (label values may hold spaces and braces), value, optional timestamp
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{.*\})?\s+(\S+)/);
    if (m === null || !names.includes(m[1]!)) continue;
    const value = Number(m[2]);
    if (Number.isFinite(value)) sum = (sum ?? 0) + value;
  }
  return sum;
}

/** The seconds a pod's preStop hook sleeps before its server is told to stop (a sleep action or `sleep N` command). */
function preStopSeconds(spec: V1PodSpec): number {
  return Math.max(0, ...spec.containers.map((c) => {
    const hook = c.lifecycle?.preStop;
    if (hook?.sleep?.seconds !== undefined) return hook.sleep.seconds;
    const command = hook?.exec?.command?.join(' ') ?? '';
    return Number(command.match(/\bsleep\s+(\d+)/)?.[1] ?? 0);
  }));
}

/**
 * What keeps the slots' pods from finishing their answers within drain.timeout:
 * the kubelet kills a pod terminationGracePeriodSeconds after it is told to
 * stop, preStop hook included, whatever the drain still waits for. Slots whose
 * templates agree on both are named in one warning.
 */
export function drainWarnings(drain: { timeout: string } | undefined, slots: { deployment: string; spec?: V1PodSpec }[]): string[] {
  if (drain === undefined) return [];
  const timeout = Math.ceil(durationMs(drain.timeout) / 1000);
  const byTiming = new Map<string, { grace: number; given: boolean; sleeps: number; names: string[] }>();
  for (const { deployment, spec } of slots) {
    if (spec === undefined) continue;
    const grace = spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
    const sleeps = preStopSeconds(spec);
    const key = `${grace}/${sleeps}/${spec.terminationGracePeriodSeconds === undefined}`;
    const entry = byTiming.get(key) ?? { grace, sleeps, given: spec.terminationGracePeriodSeconds !== undefined, names: [] };
    entry.names.push(deployment);
    byTiming.set(key, entry);
  }
  return [...byTiming.values()].flatMap(({ grace, sleeps, given, names }) => {
    const pods = `Deployment${names.length > 1 ? 's' : ''} ${names.join(' and ')}`;
    const warnings: string[] = [];
    if (grace < timeout) {
      warnings.push(`drain: the pods of ${pods} have terminationGracePeriodSeconds ${grace}${given ? '' : ' (the default)'}: the kubelet kills them ${grace}s after they are told to stop, before drain.timeout (${drain.timeout}) ends, so an answer longer than that is cut; set it to at least ${timeout}`);
    }
    if (sleeps > 0 && sleeps >= grace) {
      warnings.push(`drain: the preStop hook of ${pods} sleeps ${sleeps}s of its ${grace}s grace period: the server is killed before it is told to stop, with no time to finish its answers`);
    }
    return warnings;
  });
}
