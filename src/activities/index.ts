// The activity object the worker registers. Clients come in through deps, so
// tests hand in a real cluster's clients or local ones.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { durationMs } from '../release/duration.js';
import type { ReleaseSpec } from '../release/spec.js';
import { ErrorTypes, type AnalysisResult, type CheckResult, type Slot, type VerificationResult } from '../release/status.js';
import { deploymentName, previewServiceName, targetOf, type Target } from '../release/target.js';
import { InvalidSpecError, formatFieldError, validateSpec } from '../release/validate.js';
import {
  apply, deleteDeployment, deleteServiceOf, observe, patchSelector, pointService, readDeployment, readService,
  scaleDeployment, serviceEndpoints, slotPods, KubeError, type Kube,
} from './cluster.js';
import { RefusedError, candidateDeployment, planRelease, rolloutState, selectedSlot } from './cluster-logic.js';
import type { Plan, RolloutInput, RolloutReport, SlotRef, SwitchInput } from './types.js';
import { probeModelServer, type Fetch } from './verify.js';

export interface ActivityDeps {
  kube: Kube;
  /** namespaces the worker may touch; undefined allows all */
  allowedNamespaces?: readonly string[];
  fetch?: Fetch;
  /** how often waits re-read the cluster */
  pollMs?: number;
}

const HEARTBEAT_STEP_MS = 5_000;
/** Errors worth another try: no answer at all, 429, or a 5xx. */
const isTransient = (err: unknown): err is KubeError =>
  err instanceof KubeError && (err.code === undefined || err.code === 429 || err.code >= 500);
const nonRetryable = (type: string, message: string) => ApplicationFailure.nonRetryable(message, type);

export function createActivities(deps: ActivityDeps) {
  const { kube } = deps;
  const fetchFn = deps.fetch ?? fetch;
  const pollMs = deps.pollMs ?? 500;

  /** Refuses a namespace outside the allowlist before any call reaches the cluster. */
  const guard = (t: Target): void => {
    if (deps.allowedNamespaces !== undefined && !deps.allowedNamespaces.includes(t.namespace)) {
      throw nonRetryable(ErrorTypes.forbiddenNamespace, `namespace "${t.namespace}" is not in this worker's allowlist (${deps.allowedNamespaces.join(', ')})`);
    }
  };
  // 401, 403 and 422 are answers a retry will not change.
  const rethrow = (err: unknown): never => {
    if (err instanceof KubeError && (err.code === 401 || err.code === 403 || err.code === 422)) throw nonRetryable('KubernetesRejected', err.message);
    throw err;
  };
  const sleep = (ms: number) => Context.current().sleep(ms);

  /** Re-reads until `check` says done; heartbeats each round so a dead worker is noticed. */
  async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<{ done: boolean; progress: T }>, errorType: string = ErrorTypes.waitTimeout): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        const { done, progress } = await check();
        Context.current().heartbeat(progress);
        if (done) return progress;
        last = progress;
      } catch (err) {
        // A blip of the API server must not fail a long wait: keep polling until the deadline.
        if (!isTransient(err)) throw err;
        last = err.message;
        Context.current().heartbeat({ error: err.message });
      }
      if (Date.now() > deadline) throw nonRetryable(errorType, `${what} not done after ${Math.round(timeoutMs / 1000)}s (last: ${JSON.stringify(last)})`);
      await sleep(pollMs);
    }
  }

  return {
    /** Preflight: validate the spec again (the worker trusts no client) and decide the slots. */
    async inspect(spec: ReleaseSpec): Promise<Plan> {
      try {
        validateSpec(spec);
      } catch (err) {
        if (err instanceof InvalidSpecError) throw nonRetryable(ErrorTypes.invalidSpec, err.errors.map(formatFieldError).join('; '));
        throw err;
      }
      const t = targetOf(spec);
      guard(t);
      const observed = await observe(kube, t).catch(rethrow);
      try {
        return planRelease(t, observed);
      } catch (err) {
        if (err instanceof RefusedError) throw nonRetryable(ErrorTypes.refused, err.message);
        throw err;
      }
    },

    async applyCandidate(input: { spec: ReleaseSpec; slot: Slot; releaseId: string; replicas: number }): Promise<void> {
      const t = targetOf(input.spec);
      guard(t);
      await apply(kube, candidateDeployment(input.spec, t, input.slot, input.releaseId, input.replicas)).catch(rethrow);
    },

    async pointPreview({ target, slot, releaseId }: SlotRef & { releaseId: string }): Promise<void> {
      guard(target);
      await pointService(kube, target, previewServiceName(target), slot, releaseId).catch(rethrow);
    },

    async removePreview({ target }: { target: Target }): Promise<void> {
      guard(target);
      await deleteServiceOf(kube, target, previewServiceName(target)).catch(rethrow);
    },

    async removeService({ target, releaseId }: { target: Target; releaseId: string }): Promise<void> {
      guard(target);
      await deleteServiceOf(kube, target, target.service, releaseId).catch(rethrow);
    },

    async waitForRollout({ target, slot, replicas, timeoutMs }: RolloutInput): Promise<RolloutReport> {
      guard(target);
      const name = deploymentName(target, slot);
      return waitFor(`rollout of ${name}`, timeoutMs, async () => {
        const deployment = await readDeployment(kube, target, slot).catch(rethrow);
        if (deployment === undefined) throw nonRetryable(ErrorTypes.rolloutFailed, `Deployment ${target.namespace}/${name} does not exist`);
        if (replicas !== undefined && deployment.spec?.replicas !== replicas) {
          return { done: false, progress: { ready: deployment.status?.availableReplicas ?? 0, total: replicas } };
        }
        const state = rolloutState(deployment, await slotPods(kube, target, slot).catch(rethrow));
        if (state.failure !== undefined) throw nonRetryable(ErrorTypes.rolloutFailed, state.failure);
        return { done: state.done, progress: { ready: state.ready, total: state.total } };
      }, ErrorTypes.rolloutTimeout);
    },

    async scaleSlot({ target, slot, replicas }: SlotRef & { replicas: number }): Promise<void> {
      guard(target);
      await scaleDeployment(kube, target, slot, replicas).catch(rethrow);
    },

    async deleteSlot({ target, slot }: SlotRef): Promise<{ deleted: boolean }> {
      guard(target);
      return { deleted: await deleteDeployment(kube, target, slot).catch(rethrow) };
    },

    /**
     * Switches live traffic with a guarded patch, then waits until the Service's
     * EndpointSlices hold only pods of the new slot. `from` undefined means a
     * first release: the live Service is created pointing at `to`.
     */
    async switchTraffic({ target, from, to, releaseId }: SwitchInput): Promise<void> {
      guard(target);
      const service = await readService(kube, target, target.service).catch(rethrow);
      if (service === undefined) {
        if (from !== undefined) throw nonRetryable(ErrorTypes.selectorConflict, `Service ${target.namespace}/${target.service} is gone; expected it to select ${from}`);
        await pointService(kube, target, target.service, to, releaseId).catch(rethrow);
      } else {
        const live = selectedSlot(service, target.slotLabel);
        if (live !== to) {
          if (live !== from) {
            const now = typeof live === 'string' ? live : live.problem;
            throw nonRetryable(ErrorTypes.selectorConflict, `Service ${target.namespace}/${target.service} changed under the release: expected it to select ${from ?? 'nothing'}, found ${now}; not overwritten`);
          }
          const outcome = await patchSelector(kube, target, from, to).catch(rethrow);
          if (outcome === 'conflict') throw nonRetryable(ErrorTypes.selectorConflict, `Service ${target.namespace}/${target.service} selector changed between read and patch; not overwritten`);
        }
      }
      const want = (await readDeployment(kube, target, to).catch(rethrow))?.spec?.replicas ?? 1;
      await waitFor(`EndpointSlices of ${target.service} holding only ${to} pods`, 4 * 60_000, async () => {
        const state = await serviceEndpoints(kube, target, target.service, to).catch(rethrow);
        return { done: state.strangers.length === 0 && state.ready >= want, progress: { ready: state.ready, others: state.strangers.length } };
      });
    },

    /** Checks that the preview holds only candidate pods, then sends the golden requests. */
    async verifyCandidate({ spec, slot }: { spec: ReleaseSpec; slot: Slot }): Promise<VerificationResult> {
      const t = targetOf(spec);
      guard(t);
      const preview = previewServiceName(t);
      const endpoints = await waitFor(`EndpointSlices of ${preview}`, 2 * 60_000, async () => {
        const state = await serviceEndpoints(kube, t, preview, slot).catch(rethrow);
        return { done: state.strangers.length === 0 && state.ready > 0, progress: state };
      });
      const endpoint = spec.verify.endpoint ?? `http://${preview}.${t.namespace}.svc.cluster.local:${t.port}`;
      const checks: CheckResult[] = [
        { name: 'preview endpoints', ok: true, detail: `${endpoints.ready} ready endpoints, all ${slot} pods` },
        ...await probeModelServer(spec, { fetch: fetchFn, endpoint, healthRetries: 5, sleep }),
      ];
      return { ok: checks.every((c) => c.ok), endpoint, checks };
    },

    /**
     * Analysis over the monitor window: probes the live endpoint every interval
     * and stops early at the failure limit. Progress is heartbeated, so a new
     * worker continues the same window instead of starting it again.
     */
    async monitor({ spec }: { spec: ReleaseSpec }): Promise<AnalysisResult> {
      const t = targetOf(spec);
      guard(t);
      const ctx = Context.current();
      const windowMs = durationMs(spec.monitor.window);
      const intervalMs = durationMs(spec.monitor.interval);
      const endpoint = spec.monitor.endpoint ?? `http://${t.service}.${t.namespace}.svc.cluster.local:${t.port}`;
      const resumed = ctx.info.heartbeatDetails as { startedAt: number; runs: number; failures: number; checks: CheckResult[] } | undefined;
      const progress = resumed ?? { startedAt: Date.now(), runs: 0, failures: 0, checks: [] as CheckResult[] };
      for (;;) {
        const checks = await probeModelServer(spec, { fetch: fetchFn, endpoint });
        progress.runs += 1;
        if (!checks.every((c) => c.ok)) progress.failures += 1;
        progress.checks = checks;
        ctx.heartbeat(progress);
        const done = progress.failures >= spec.monitor.failureLimit;
        const left = progress.startedAt + windowMs - Date.now();
        if (done || left <= 0) break;
        // Sleep in short steps so heartbeats keep flowing through long intervals.
        for (let waited = 0, wait = Math.min(intervalMs, left); waited < wait; waited += HEARTBEAT_STEP_MS) {
          await sleep(Math.min(HEARTBEAT_STEP_MS, wait - waited));
          ctx.heartbeat(progress);
        }
      }
      const { runs, failures, checks } = progress;
      return { ok: failures < spec.monitor.failureLimit, runs, failures, checks };
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
