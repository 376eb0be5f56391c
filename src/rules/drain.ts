// Draining a slot: the requests a pod still answers, read from its metrics page,
// and whether its pods get the time a drain gives them.
import type { V1PodSpec } from '@kubernetes/client-node';
import { durationMs } from '../release/duration.js';
import type { DrainReport } from '../release/drain.js';
import { prometheusRefusal, type PrometheusAnswer } from './analysis.js';

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

/**
 * drain.prometheus's ready-made query: the inFlight gauges summed by pod over
 * the slot's pods (a Deployment's pods are named <deployment>-<hash>-<suffix>).
 */
export const inFlightQuery = (metrics: readonly string[]): string =>
  `sum by (pod) ({__name__=~"${metrics.join('|')}", namespace="{{namespace}}", pod=~"{{deployment}}-[a-z0-9]+-[a-z0-9]+"})`;

/** Each pod's value in a Prometheus answer, by its `pod` label; or why the answer gives none. */
export function valuesByPod(body: PrometheusAnswer): Map<string, number> | string {
  if (body.status !== 'success') return prometheusRefusal(body);
  const { resultType, result } = body.data ?? {};
  if (resultType !== 'vector') return `the query returned a ${resultType ?? 'result'}; it must give a value per pod (sum by (pod) (...))`;
  const values = new Map<string, number>();
  for (const series of result as { metric?: Record<string, string>; value?: unknown[] }[]) {
    const pod = series.metric?.pod;
    if (pod === undefined) return 'a series of the query has no pod label; group it by pod (sum by (pod) (...))';
    const value = Number(series.value?.[1]);
    if (Number.isFinite(value)) values.set(pod, (values.get(pod) ?? 0) + value);
  }
  return values;
}

const counted = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** A drain's outcome for the timeline: how the pods ended, what was in flight, and the pods cut at drain.timeout. */
export function drainDetail(what: string, report: DrainReport, timeout: string): string {
  const most = report.mostInFlight === undefined ? ''
    : report.mostInFlight === 0 ? '; no request in flight'
      : `; at most ${counted(report.mostInFlight, 'request')} in flight`;
  const unread = report.unread === undefined ? '' : `; requests in flight not read: ${report.unread}`;
  if (report.drained) {
    const took = `${Math.round(report.tookMs / 100) / 10}s`;
    const ended = report.pods === 0 ? 'no pods were left'
      : report.pods === 1 ? `its pod ended by itself in ${took}` : `its ${report.pods} pods ended by themselves in ${took}`;
    return `${what}: ${ended}${most}${unread}`;
  }
  const stopped = report.cut.map((c) => `${c.pod} (${c.inFlight === undefined ? 'requests in flight unknown' : `${c.inFlight} in flight`})`).join(', ');
  const inFlight = report.cut.reduce((n, c) => n + (c.inFlight ?? 0), 0);
  const still = inFlight > 0 ? `, ${counted(inFlight, 'request')} in flight` : '';
  return `${what}: drain.timeout ${timeout} ended with ${counted(report.cut.length, 'pod')} still running${still}; told to stop at once: ${stopped}${unread}`;
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
 * What keeps the slots' pods from finishing their answers: the kubelet kills a
 * pod terminationGracePeriodSeconds after it is told to stop, preStop hook
 * included, whatever drain.timeout still waits for, and whatever a request may
 * take (`requestSeconds`: verify.timeout, the longest answer the spec expects).
 * Slots whose templates agree on both are named in one warning.
 */
export function drainWarnings(
  drain: { timeout: string } | undefined, slots: { deployment: string; spec?: V1PodSpec }[], requestSeconds = 0,
): string[] {
  const timeout = drain === undefined ? 0 : Math.ceil(durationMs(drain.timeout) / 1000);
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
    const gave = `terminationGracePeriodSeconds ${grace}${given ? '' : ' (the default)'}`;
    const warnings: string[] = [];
    if (drain !== undefined && grace < timeout) {
      warnings.push(`drain: the pods of ${pods} have ${gave}: the kubelet kills them ${grace}s after they are told to stop, before drain.timeout (${drain.timeout}) ends, so an answer longer than that is cut; set it to at least ${timeout}`);
    }
    if (drain !== undefined && sleeps > 0 && sleeps >= grace) {
      warnings.push(`drain: the preStop hook of ${pods} sleeps ${sleeps}s of its ${grace}s grace period: the server is killed before it is told to stop, with no time to finish its answers`);
    }
    if (warnings.length === 0 && grace - sleeps < requestSeconds) {
      const hook = sleeps > 0 ? `, less the preStop hook's ${sleeps}s sleep` : '';
      warnings.push(`the pods of ${pods} have ${Math.max(0, grace - sleeps)}s to finish their answers once told to stop (${gave}${hook}), less than a request may take (verify.timeout, ${requestSeconds}s): an answer that long is cut when they stop; set terminationGracePeriodSeconds to at least ${requestSeconds + sleeps}`);
    }
    return warnings;
  });
}
