// Samples a live Service's EndpointSlices while a release runs and records every
// moment it selects no ready pod, or ready pods of both slots at once.
import type { Kube } from '../../src/activities/cluster.js';

export interface DowntimeReport {
  samples: number;
  /** samples where the Service selected no ready pod (after it first had one) */
  noReady: number;
  /** samples with ready pods of two Deployments (both slots) */
  mixed: number;
  /** the first few violations, for the failure message */
  examples: string[];
}

export function watchDowntime(kube: Kube, namespace: string, service: string, everyMs = 50) {
  const report: DowntimeReport = { samples: 0, noReady: 0, mixed: 0, examples: [] };
  let running = true;
  let served = false;
  const note = (what: string) => { if (report.examples.length < 5) report.examples.push(`${new Date().toISOString()} ${what}`); };
  const loop = (async () => {
    while (running) {
      const started = Date.now();
      try {
        const slices = await kube.discovery.listNamespacedEndpointSlice({ namespace, labelSelector: `kubernetes.io/service-name=${service}` });
        const ready = slices.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).map((e) => e.targetRef?.name ?? '');
        // A Deployment's pods are named <deployment>-<replicaset hash>-<suffix>.
        const slots = new Set(ready.map((pod) => pod.split('-').slice(0, -2).join('-') || pod));
        report.samples += 1;
        if (ready.length > 0) served = true;
        if (served && ready.length === 0) { report.noReady += 1; note('no ready endpoint'); }
        if (slots.size > 1) { report.mixed += 1; note(`ready pods of ${[...slots].join(' and ')}`); }
      } catch (err) {
        note(`sample failed: ${(err as Error).message.split('\n')[0]}`);
      }
      await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (Date.now() - started))));
    }
  })();
  return {
    report,
    async stop(): Promise<DowntimeReport> {
      running = false;
      await loop;
      return report;
    },
  };
}
