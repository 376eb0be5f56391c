// Draining a slot before it goes: its pods are told to stop (SIGTERM: a good
// server finishes its answers and closes its keep-alive connections, so those
// clients reconnect to the live slot), and the step waits for them to end,
// showing the requests each still answers, up to drain.timeout; then what is
// left is named and told to stop at once.
import type { V1Pod } from '@kubernetes/client-node';
import type { DrainInput, DrainReport, DrainingPod } from '../release/drain.js';
import { ErrorTypes } from '../release/errors.js';
import { renderQuery } from '../release/model-checks.js';
import { valuesByPod, inFlightQuery } from '../rules/drain.js';
import { beat, resumed } from './attempts.js';
import { apiReads, deletePodNow, deploymentPods, scaleDeployment } from './cluster.js';
import { endpointRefusal, requestHeaders, type ActivityContext } from './context.js';
import { getJson } from './http.js';
import { METRICS_TIMEOUT_MS, podMetricSum } from './pod-metrics.js';
import { retirable } from './slots.js';
import { sleep } from './waits.js';

/** How often the pods and their metrics are read. */
const DRAIN_POLL_MS = 1_000;

/** What the drain heartbeats, so a new attempt goes on from it. */
interface DrainBeat { since: number; most: number; mostInFlight?: number }

/** Reads each pod's requests in flight: a round of reads, and why none could be read, if so. */
type InFlightReader = (pods: V1Pod[]) => Promise<{ draining: DrainingPod[]; unread?: string }>;

const named = (p: V1Pod) => p.metadata?.name ?? '';

/**
 * From each pod's metrics page, or (drain.prometheus) from one query a round.
 * The drain goes on whatever the reads answer: a Prometheus it may not reach,
 * or a Secret gone, leaves the requests in flight unknown, and says why.
 */
async function inFlightReader({ deps, kube, fetch }: ActivityContext, input: DrainInput): Promise<InFlightReader> {
  const { prometheus } = input;
  if (prometheus === undefined) {
    return async (pods) => ({
      draining: await Promise.all(pods.map(async (p) =>
        ({ pod: named(p), inFlight: await podMetricSum(fetch, p, input.port, input.path, input.metrics) }))),
    });
  }
  const unknown = (unread: string): InFlightReader => async (pods) => ({ draining: pods.map((p) => ({ pod: named(p) })), unread });
  const refused = endpointRefusal(deps, input.target, 'drain.prometheus.address', prometheus.address);
  if (refused !== undefined) return unknown(refused);
  let headers: Record<string, string>;
  try {
    headers = await requestHeaders(kube, input.target, ErrorTypes.AnalysisFailed, prometheus.headers ?? [], 'drain.prometheus.headers');
  } catch (err) {
    return unknown((err as Error).message);
  }
  const { model, namespace, service } = input.target;
  const query = renderQuery(prometheus.query ?? inFlightQuery(input.metrics), {
    model, namespace, service, slot: input.slot, deployment: input.deployment,
  });
  const url = `${prometheus.address.replace(/\/+$/, '')}/api/v1/query?query=${encodeURIComponent(query)}`;
  return async (pods) => {
    const res = await getJson(fetch, url, { headers, timeoutMs: METRICS_TIMEOUT_MS });
    const byPod = res.ok ? valuesByPod(res.answer as never) : `no answer from Prometheus: ${res.error}`;
    if (typeof byPod === 'string') return unknown(byPod)(pods);
    const draining = pods.map((p) => ({ pod: named(p), inFlight: byPod.get(named(p)) }));
    // A pod that is scraped exports its gauges at 0 too: none of them in the answer is a query that misses them.
    if (draining.every((d) => d.inFlight === undefined)) {
      return unknown(`the query gave no value for the slot's pods (${draining.map((d) => d.pod).join(', ')}): its series need the pod's name in a pod label`)(pods);
    }
    return { draining };
  };
}

export function drainActivities(context: ActivityContext) {
  const { kube } = context;
  return {
    /**
     * Scales the slot to 0 and waits until its pods are gone, heartbeating the
     * requests they still answer (what `status` shows). At the deadline (from
     * the first attempt: a restarted worker goes on with the same drain) the
     * pods left are deleted with a 1s grace period (deletePodNow) and reported
     * as cut. Refused, like the delete, while a Service still needs the slot's pods.
     */
    async drainSlot(input: DrainInput): Promise<DrainReport> {
      // A new attempt (the last one's worker gone) goes on from what the last one saw.
      const before = resumed<DrainBeat>();
      const seen: DrainBeat = { since: before?.since ?? Date.now(), most: before?.most ?? 0, mostInFlight: before?.mostInFlight };
      const deadline = seen.since + input.timeoutMs;
      beat(seen); // before the reads: a busy start is not a dead worker
      let unread: string | undefined;
      const report = (drained: boolean, cut: DrainingPod[]): DrainReport => ({
        drained, tookMs: Date.now() - seen.since, pods: seen.most, cut,
        ...(seen.mostInFlight === undefined ? {} : { mostInFlight: seen.mostInFlight }),
        ...(unread === undefined || seen.mostInFlight !== undefined ? {} : { unread }),
      });
      const deployment = await retirable(kube, input);
      if (deployment === undefined) return report(true, []);
      if (deployment.spec?.replicas !== 0) await scaleDeployment(kube, input.target, input.deployment, 0);
      const reads = apiReads(kube, input.target.namespace);
      const read = await inFlightReader(context, input);
      for (;;) {
        const pods = await deploymentPods(reads, deployment);
        seen.most = Math.max(seen.most, pods.length);
        if (pods.length === 0) return report(true, []);
        const round = await read(pods);
        unread = round.unread;
        const known = round.draining.filter((d) => d.inFlight !== undefined);
        const inFlight = known.length === 0 ? undefined : known.reduce((n, d) => n + d.inFlight!, 0);
        if (inFlight !== undefined) seen.mostInFlight = Math.max(seen.mostInFlight ?? 0, inFlight);
        beat({ ...seen, progress: { pods: pods.length, ...(inFlight === undefined ? {} : { inFlight }) } });
        if (Date.now() >= deadline) {
          await Promise.all(round.draining.map((d) => deletePodNow(kube, input.target, d.pod)));
          return report(false, round.draining);
        }
        await sleep(DRAIN_POLL_MS);
      }
    },
  };
}
