// Draining a slot before it goes: its pods are told to stop (SIGTERM: a good
// server finishes its answers and closes its keep-alive connections, so those
// clients reconnect to the live slot), and the step waits for them to end,
// showing the requests each still answers, up to drain.timeout; then what is
// left is named and told to stop at once.
import type { V1Pod } from '@kubernetes/client-node';
import type { DrainInput, DrainReport, DrainingPod } from '../release/drain.js';
import { beat, resumed } from './attempts.js';
import { apiReads, deletePodNow, deploymentPods, scaleDeployment } from './cluster.js';
import type { ActivityContext } from './context.js';
import { podMetricSum } from './pod-metrics.js';
import { retirable } from './slots.js';
import { sleep } from './waits.js';

/** How often the pods and their metrics are read. */
const DRAIN_POLL_MS = 1_000;

export function drainActivities({ kube, fetch }: ActivityContext) {
  /** A pod's requests in flight, or undefined when its metrics cannot be read (not started, already closed). */
  const inFlightOn = (pod: V1Pod, { port, path, metrics }: DrainInput) => podMetricSum(fetch, pod, port, path, metrics);

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
      const before = resumed<{ since: number; most: number }>();
      const since = before?.since ?? Date.now();
      let most = before?.most ?? 0;
      const deadline = since + input.timeoutMs;
      beat({ since, most }); // before the reads: a busy start is not a dead worker
      const deployment = await retirable(kube, input);
      if (deployment === undefined) return { drained: true, tookMs: Date.now() - since, pods: most, cut: [] };
      if (deployment.spec?.replicas !== 0) await scaleDeployment(kube, input.target, input.deployment, 0);
      const reads = apiReads(kube, input.target.namespace);
      for (;;) {
        const pods = await deploymentPods(reads, deployment);
        most = Math.max(most, pods.length);
        if (pods.length === 0) return { drained: true, tookMs: Date.now() - since, pods: most, cut: [] };
        const draining: DrainingPod[] = await Promise.all(pods.map(async (p) =>
          ({ pod: p.metadata?.name ?? '', inFlight: await inFlightOn(p, input) })));
        const known = draining.filter((d) => d.inFlight !== undefined);
        const inFlight = known.length === 0 ? undefined : known.reduce((n, d) => n + d.inFlight!, 0);
        beat({ since, most, progress: { pods: pods.length, ...(inFlight === undefined ? {} : { inFlight }) } });
        if (Date.now() >= deadline) {
          await Promise.all(draining.map((d) => deletePodNow(kube, input.target, d.pod)));
          return { drained: false, tookMs: Date.now() - since, pods: most, cut: draining };
        }
        await sleep(DRAIN_POLL_MS);
      }
    },
  };
}
