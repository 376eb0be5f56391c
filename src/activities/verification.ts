// Verification before the switch: the preview must hold only candidate pods,
// then every check of activities/model-checks.ts against it.
import { HEALTH_RETRIES, PREVIEW_WAIT_MS, PROXY_SYNC_MS } from '../release/bounds.js';
import { ErrorTypes } from '../release/errors.js';
import type { ReleaseSpec } from '../release/spec.js';
import type { CheckResult, Slot, VerificationResult } from '../release/status.js';
import { previewServiceName, targetOf } from '../release/target.js';
import { serviceEndpoints } from './cluster.js';
import { guardEndpoints, mustReadFrom, serviceUrl, verifyHeaders, type ActivityContext } from './context.js';
import { verifyModel } from './model-checks.js';
import { heartbeating, sleep, slotWatch, waitFor } from './waits.js';

export interface VerifyInput { spec: ReleaseSpec; slot: Slot; deployment: string; port: number; hasLive?: boolean }


export function verificationActivities({ deps, kube, fetch, pollMs }: ActivityContext) {
  return {
    /**
     * Checks that the preview holds only candidate pods, then verifies the model:
     * health, signature and shadow agreement against the live model (when there
     * is one: `hasLive`), golden set, latency.
     */
    async verifyCandidate({ spec, deployment: name, port, hasLive }: VerifyInput): Promise<VerificationResult> {
      const t = targetOf(spec);
      guardEndpoints(deps, spec, t);
      const preview = previewServiceName(t);
      const slot = slotWatch(t, name, preview);
      const endpoints = await waitFor(kube, pollMs, `EndpointSlices of ${preview}`, PREVIEW_WAIT_MS, slot, async (reads) => {
        const deployment = slot.seen(await mustReadFrom(reads, t, name, ErrorTypes.VerificationFailed));
        const state = await serviceEndpoints(reads, preview, deployment);
        return { done: state.strangers.length === 0 && state.ready > 0, progress: state };
      });
      // Through the preview's ClusterIP, requests reach the new endpoints only once the node proxies have them.
      // (A clock ahead of the control plane's waits no longer than PROXY_SYNC_MS.)
      const sinceChange = endpoints.changedAt === undefined ? PROXY_SYNC_MS : Date.now() - endpoints.changedAt;
      if (spec.verify.endpoint === undefined && sinceChange < PROXY_SYNC_MS) {
        await sleep(Math.min(PROXY_SYNC_MS, PROXY_SYNC_MS - sinceChange));
      }
      const endpoint = spec.verify.endpoint ?? await serviceUrl(kube, t, preview, port);
      const liveEndpoint = hasLive === true ? spec.verify.liveEndpoint ?? await serviceUrl(kube, t, t.service, port) : undefined;
      const headers = await verifyHeaders(kube, spec, t, ErrorTypes.VerificationFailed);
      const probes = await heartbeating(() =>
        verifyModel(spec, { fetch, endpoint, liveEndpoint, healthRetries: HEALTH_RETRIES, sleep, headers }));
      const checks: CheckResult[] = [
        { name: 'preview endpoints', ok: true, detail: `${endpoints.ready} ready endpoints, all pods of ${name}` },
        ...probes,
      ];
      return { ok: checks.every((c) => c.ok), endpoint, checks };
    },
  };
}
