// The activity object the worker registers. Clients come in through deps, so
// tests hand in a real cluster's clients or local ones.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { durationMs } from '../release/duration.js';
import type { ReleaseSpec } from '../release/spec.js';
import { ErrorTypes, type AnalysisResult, type CheckResult, type Slot, type VerificationResult } from '../release/status.js';
import { RELEASE_ANNOTATION, previewServiceName, targetOf, type Target } from '../release/target.js';
import { InvalidSpecError, checkSpec, formatFieldError, validateSpec } from '../release/validate.js';
import {
  apiReads, apply, deleteDeployment, deleteServiceOf, deploymentPods, observe, patchSelector, readDeployment, readService,
  podsOwnedBy, scaleDeployment, selectedPods, serviceEndpoints, KubeError, type Kube,
} from './cluster.js';
import type { Reads, Touches } from './watches.js';
import { RefusedError, isBluegreens, isReadyPod, ownService, planRelease, rolloutState, sameSelector, selects } from './cluster-logic.js';
import type { Plan, PreviewInput, RolloutInput, RolloutReport, SlotRef, SwitchInput } from './types.js';
import type { V1Deployment } from '@kubernetes/client-node';
import { probeModelServer, type Fetch } from './verify.js';
import { verifyModel } from './model-checks.js';
import { checkOf, measure, startProgress, verdictOf, type MetricProgress } from './analysis.js';
import type { QueryArgs } from '../release/model-checks.js';
import { beat, countingFailures, resumed } from './attempts.js';

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
}

/** How often long steps heartbeat: four beats fit in the 8s heartbeat timeout. */
const HEARTBEAT_STEP_MS = 2_000;
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
  /** Refuses a verification or analysis endpoint outside the release's own Services and the worker's allowlist. */
  const guardEndpoints = (spec: ReleaseSpec, t: Target): void => {
    const own = [t.service, previewServiceName(t)].flatMap((n) => [`${n}.${t.namespace}.svc`, `${n}.${t.namespace}.svc.cluster.local`]);
    const allowed = deps.allowedEndpointHosts ?? [];
    const endpoints: [string, string | undefined][] = [
      ['verify.endpoint', spec.verify.endpoint], ['verify.liveEndpoint', spec.verify.liveEndpoint], ['monitor.endpoint', spec.monitor.endpoint],
      ...(spec.monitor.analysis ?? []).map((a, i): [string, string | undefined] => [`monitor.analysis[${i}].provider.prometheus.address`, 'prometheus' in a.provider ? a.provider.prometheus.address : undefined]),
    ];
    for (const [field, endpoint] of endpoints) {
      if (endpoint === undefined) continue;
      const url = new URL(endpoint);
      const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
      if (own.includes(host) || allowed.includes(host) || allowed.includes(`${host}:${url.port}`)) continue;
      throw nonRetryable(ErrorTypes.endpointNotAllowed, `${field}: ${url.host} is not one of this release's Services (${t.service}, ${previewServiceName(t)} in ${t.namespace}) nor in the worker's BLUEGREEN_VERIFY_HOSTS (${allowed.join(', ') || 'empty'})`);
    }
  };
  // 401, 403 and 422 are answers a retry will not change.
  const rethrow = (err: unknown): never => {
    if (err instanceof KubeError && (err.code === 401 || err.code === 403 || err.code === 422)) throw nonRetryable('KubernetesRejected', err.message);
    throw err;
  };
  const sleep = (ms: number) => Context.current().sleep(ms);
  /** Sleeps in short steps, heartbeating `details` after each, so heartbeats keep flowing through long waits. */
  async function sleepBeating(ms: number, details: object): Promise<void> {
    for (let left = ms; left > 0; left -= HEARTBEAT_STEP_MS) {
      await sleep(Math.min(HEARTBEAT_STEP_MS, left));
      beat(details);
    }
  }
  /**
   * Runs a long step with a heartbeat every few seconds, so a live worker is never
   * taken for a dead one; `details` are what a retry resumes from, so they go with each beat.
   */
  async function heartbeating<T>(run: () => Promise<T>, details?: object): Promise<T> {
    const timer = setInterval(() => beat(details), HEARTBEAT_STEP_MS);
    try {
      return await run();
    } finally {
      clearInterval(timer);
    }
  }
  /**
   * A Service's URL for verification and analysis: its ClusterIP, which needs no
   * cluster DNS (a worker beside the cluster, or in it); the DNS name if it has none.
   */
  const serviceUrl = async (t: Target, name: string, port: number): Promise<string> => {
    const service = await readService(kube, t, name).catch(rethrow);
    const ip = service?.spec?.clusterIP;
    const host = ip && ip !== 'None' ? (ip.includes(':') ? `[${ip}]` : ip) : `${name}.${t.namespace}.svc.cluster.local`;
    return `http://${host}:${port}`;
  };
  const mustReadFrom = async (reads: Reads, t: Target, name: string, type: string): Promise<V1Deployment> => {
    const d = await reads.deployment(name).catch(rethrow);
    if (d === undefined) throw nonRetryable(type, `Deployment ${t.namespace}/${name} does not exist`);
    return d;
  };
  const mustRead = (t: Target, name: string, type: string) => mustReadFrom(apiReads(kube, t.namespace), t, name, type);

  /**
   * Re-reads until `check` says done; heartbeats each round so a dead worker is
   * noticed. The deadline counts from the first attempt: a restarted worker goes
   * on with the same wait, it does not start a new one. While the namespace's
   * watches are in sync, `check` reads memory and runs again when something that
   * `touches` the wait changes (at least every heartbeat step); else it reads the
   * API server every `pollMs`.
   */
  async function waitFor<T>(what: string, timeoutMs: number, on: { namespace: string; touches: Touches }, check: (reads: Reads) => Promise<{ done: boolean; progress: T }>, errorType: string = ErrorTypes.waitTimeout): Promise<T> {
    const since = resumed<{ since: number }>()?.since ?? Date.now();
    const deadline = since + timeoutMs;
    let last: unknown;
    const api = apiReads(kube, on.namespace);
    // Memory may lag behind what this release just wrote (a template applied a
    // moment ago): it only says when to look. Done or failed, the API server has the last word.
    const decide = async (watch?: { reads: (api: Reads) => Reads }) => {
      if (watch === undefined) return check(api);
      try {
        const answer = await check(watch.reads(api));
        if (!answer.done) return answer;
      } catch (err) {
        if (isTransient(err)) throw err;
      }
      return check(api);
    };
    for (;;) {
      const watch = kube.watches?.of(on.namespace);
      const watched = watch?.inSync === true;
      try {
        const { done, progress } = await decide(watched ? watch : undefined);
        beat({ since, progress });
        if (done) return progress;
        last = progress;
      } catch (err) {
        // A blip of the API server must not fail a long wait: keep polling until the deadline.
        if (!isTransient(err)) throw err;
        last = err.message;
        beat({ since, error: err.message });
      }
      if (Date.now() > deadline) throw nonRetryable(errorType, `${what} not done after ${Math.round(timeoutMs / 1000)}s (last: ${JSON.stringify(last)})`);
      if (watched) await Promise.race([watch.next(on.touches, Math.min(HEARTBEAT_STEP_MS, deadline - Date.now() + 1)), Context.current().cancelled]);
      else await sleep(pollMs);
    }
  }

  /**
   * The switch's proof and patch: reads the Service, `to`'s Deployment and the pods
   * and ReplicaSets the new selector matches, all at once; refuses unless the new
   * selector matches ready pods of that Deployment and nothing else; then patches,
   * guarded by the old selector. Returns the Deployment read, for the wait that follows.
   */
  async function moveSelector({ target, from, to, ports, releaseId, back }: SwitchInput & { back?: boolean }): Promise<{ toDeployment: V1Deployment } | { switched: false; detail: string }> {
    guard(target);
    const where = `Service ${target.namespace}/${target.service}`;
    // Read together: the switch waits on nothing it does not need.
    const [service, toDeployment, matching] = await Promise.all([
      readService(kube, target, target.service).catch(rethrow),
      mustRead(target, to.deployment, ErrorTypes.switchRefused),
      selectedPods(kube, target, to.selector).catch(rethrow),
    ]);
    const current = service?.spec?.selector;
    if (service === undefined && from !== undefined) {
      if (back) return { switched: false, detail: `${where} is gone; nothing to switch back` };
      throw nonRetryable(ErrorTypes.selectorConflict, `${where} is gone; expected it to select ${JSON.stringify(from.selector)}`);
    }
    if (sameSelector(current, to.selector)) return { toDeployment };
    if (service !== undefined && !sameSelector(current, from?.selector)) {
      if (back) return { switched: false, detail: `${where} selects ${JSON.stringify(current)}, not the candidate; left as it is` };
      throw nonRetryable(ErrorTypes.selectorConflict, `${where} changed under the release: expected it to select ${JSON.stringify(from?.selector ?? null)}, found ${JSON.stringify(current ?? null)}; not overwritten`);
    }
    // The proof: after the patch the Service would select exactly these pods.
    const own = new Set(podsOwnedBy(toDeployment, matching.pods, matching.sets));
    const strangers = matching.pods.filter((p) => !own.has(p)).map((p) => p.metadata?.name);
    const ready = [...own].filter(isReadyPod);
    if (strangers.length > 0) {
      throw nonRetryable(ErrorTypes.switchRefused, `not switched: the selector ${JSON.stringify(to.selector)} would also select pods that are not Deployment ${to.deployment}'s (${strangers.slice(0, 5).join(', ')})`);
    }
    if (ready.length === 0) {
      throw nonRetryable(ErrorTypes.switchRefused, `not switched: the selector ${JSON.stringify(to.selector)} matches no ready pod of Deployment ${to.deployment}; the Service would have no endpoints`);
    }
    if (service === undefined) {
      await apply(kube, ownService(target, target.service, to.selector, ports, releaseId)).catch(rethrow);
    } else if (await patchSelector(kube, target, from!.selector, to.selector).catch(rethrow) === 'conflict') {
      throw nonRetryable(ErrorTypes.selectorConflict, `${where} selector changed between read and patch; not overwritten`);
    }
    return { toDeployment };
  }

  /**
   * monitor.analysis over the window: each metric measured when due, until one
   * fails or is inconclusive or the window ends. The counts are heartbeated, so a
   * new worker continues the same window.
   */
  async function analyse(spec: ReleaseSpec, { endpoint, args }: { endpoint: string; args: QueryArgs }): Promise<AnalysisResult> {
    const metrics = spec.monitor.analysis ?? [];
    type Window = { startedAt: number; metrics: MetricProgress[] };
    const before = resumed<Window>();
    const progress: Window = before?.metrics !== undefined ? before as Window : { startedAt: Date.now(), metrics: startProgress(spec, Date.now()) };
    const endsAt = progress.startedAt + durationMs(spec.monitor.window);
    // The first probe allows for a node proxy that has not synced yet.
    const probe = (first: boolean) => () => probeModelServer(spec, { fetch: fetchFn, endpoint, healthRetries: first ? 5 : 0, sleep });
    const running = (i: number) => verdictOf(metrics[i]!, progress.metrics[i]!) === 'Running';
    const result = (): AnalysisResult => {
      const verdicts = metrics.map((m, i) => verdictOf(m, progress.metrics[i]!));
      const failed = verdicts.includes('Failed');
      return {
        ok: !failed,
        runs: Math.max(0, ...progress.metrics.map((p) => p.measurements)),
        failures: progress.metrics.reduce((n, p) => n + p.failures, 0),
        checks: metrics.map((m, i) => checkOf(m, progress.metrics[i]!)),
        ...(!failed && verdicts.includes('Inconclusive') ? { inconclusive: true } : {}),
      };
    };
    for (;;) {
      for (const [i, metric] of metrics.entries()) {
        const p = progress.metrics[i]!;
        if (p.nextAt > Date.now() || p.nextAt > endsAt || !running(i)) continue;
        await heartbeating(() => measure(spec, metric, p, Date.now(), { fetch: fetchFn, args, probe: probe(p.measurements === 0) }), progress);
        beat(progress);
      }
      const current = result();
      if (!current.ok || current.inconclusive === true) return current;
      // Measurements stop at `count`, but the window is the time the release bakes.
      const due = progress.metrics.filter((_, i) => running(i)).map((p) => p.nextAt);
      await sleepBeating(Math.min(endsAt, ...due) - Date.now(), progress);
      if (Date.now() >= endsAt) return result();
    }
  }

  return countingAll({
    /** The spec's field errors, or the spec with its defaults: run in the workflow task (a local activity). */
    async checkSpec(input: unknown) {
      return checkSpec(input);
    },

    /**
     * Preflight: validate the spec again (the worker trusts no client), find the
     * live slot, build the candidate and have the API server judge it in a dry
     * run, all before anything in the cluster changes.
     */
    async inspect(input: ReleaseSpec): Promise<Plan> {
      let spec: ReleaseSpec;
      try {
        spec = validateSpec(input);
      } catch (err) {
        if (err instanceof InvalidSpecError) throw nonRetryable(ErrorTypes.invalidSpec, err.errors.map(formatFieldError).join('; '));
        throw err;
      }
      if (spec.templateFrom !== undefined) {
        throw nonRetryable(ErrorTypes.invalidSpec, `templateFrom: the client reads ${spec.templateFrom.file} and inlines it as template before starting (the bluegreen CLI does); the worker reads no files`);
      }
      if (spec.verify.shadow?.inputsFile !== undefined) {
        throw nonRetryable(ErrorTypes.invalidSpec, `verify.shadow.inputsFile: the client reads ${spec.verify.shadow.inputsFile} and inlines it as verify.shadow.inputs before starting (the bluegreen CLI does); the worker reads no files`);
      }
      const t = targetOf(spec);
      guard(t);
      guardEndpoints(spec, t);
      if ((spec.cluster ?? deps.clusterName) !== undefined && spec.cluster !== deps.clusterName) {
        throw nonRetryable(ErrorTypes.refused, `the release targets cluster ${spec.cluster ?? '(none named)'}, but this worker serves ${deps.clusterName ?? 'a cluster with no name (BLUEGREEN_CLUSTER_NAME unset)'}`);
      }
      const observed = await observe(kube, t).catch(rethrow);
      let plan: Plan;
      try {
        plan = planRelease(spec, t, observed);
      } catch (err) {
        if (err instanceof RefusedError) throw nonRetryable(ErrorTypes.refused, err.message);
        throw err;
      }
      try {
        await apply(kube, plan.object, true);
      } catch (err) {
        // 400 and 403 are what admission webhooks and quotas answer, 422 a field the API server rejects;
        // anything else (409, 429, 5xx, no answer) is worth another try.
        if (!(err instanceof KubeError) || ![400, 403, 404, 422].includes(err.code ?? 0)) throw err;
        if (err.code === 404) throw nonRetryable(ErrorTypes.refused, `namespace "${t.namespace}" does not exist (${err.message})`);
        throw nonRetryable(ErrorTypes.refused, `the API server refused the candidate Deployment ${t.namespace}/${plan.candidate.deployment} in a dry run: ${err.message}`);
      }
      return plan;
    },

    async applyCandidate({ target, object, replicas, releaseId }: { target: Target; object: V1Deployment; replicas: number; releaseId: string }): Promise<void> {
      guard(target);
      const annotations = { ...object.metadata?.annotations, [RELEASE_ANNOTATION]: releaseId };
      await apply(kube, { ...object, metadata: { ...object.metadata, annotations }, spec: { ...object.spec!, replicas } }).catch(rethrow);
    },

    /** Points the preview Service at a selector (creating it if absent); preflight made sure it is ours. */
    async pointPreview({ target, selector, ports, releaseId }: PreviewInput): Promise<void> {
      guard(target);
      await apply(kube, ownService(target, previewServiceName(target), selector, ports, releaseId)).catch(rethrow);
    },

    /** Removes the preview Service if it is Bluegreen's for this model service; anyone else's is never touched. */
    async removePreview({ target }: { target: Target }): Promise<void> {
      guard(target);
      await deleteServiceOf(kube, target, previewServiceName(target), (s) => isBluegreens(s, target)).catch(rethrow);
    },

    /** Removes the live Service if this release created it (its annotation names the release). */
    async removeService({ target, releaseId }: { target: Target; releaseId: string }): Promise<void> {
      guard(target);
      await deleteServiceOf(kube, target, target.service, (s) => s.metadata?.annotations?.[RELEASE_ANNOTATION] === releaseId).catch(rethrow);
    },

    /**
     * Waits until a slot's Deployment has rolled out. With `restoreReplicas` (a
     * rollback), a slot scaled to 0 is scaled back first, and one ready pod is
     * enough: traffic can go back as soon as something serves it.
     */
    async waitForRollout({ target, deployment: name, replicas, restoreReplicas, timeoutMs }: RolloutInput): Promise<RolloutReport> {
      guard(target);
      let restored = false;
      const slot = slotWatch(target, name);
      return waitFor(`rollout of ${name}`, timeoutMs, slot, async (reads) => {
        const deployment = slot.seen(await mustReadFrom(reads, target, name, ErrorTypes.rolloutFailed));
        if (restoreReplicas !== undefined && !restored && (deployment.spec?.replicas ?? 1) === 0) {
          await scaleDeployment(kube, target, name, restoreReplicas).catch(rethrow);
          restored = true;
          return { done: false, progress: { ready: 0, total: restoreReplicas } };
        }
        if (replicas !== undefined && deployment.spec?.replicas !== replicas) {
          return { done: false, progress: { ready: deployment.status?.availableReplicas ?? 0, total: replicas } };
        }
        // Until the controller has seen this generation, its current ReplicaSet may be the previous one's.
        if ((deployment.status?.observedGeneration ?? 0) < (deployment.metadata?.generation ?? 1)) {
          return { done: false, progress: { ready: deployment.status?.availableReplicas ?? 0, total: deployment.spec?.replicas ?? 1 } };
        }
        const state = rolloutState(deployment, await deploymentPods(reads, deployment, true).catch(rethrow));
        if (restoreReplicas !== undefined) return { done: state.ready >= 1, progress: { ready: state.ready, total: state.total } };
        if (state.failure !== undefined) throw nonRetryable(ErrorTypes.rolloutFailed, state.failure);
        return { done: state.done, progress: { ready: state.ready, total: state.total } };
      }, ErrorTypes.rolloutTimeout);
    },

    async scaleSlot({ target, deployment, replicas }: SlotRef & { replicas: number }): Promise<void> {
      guard(target);
      await scaleDeployment(kube, target, deployment, replicas).catch(rethrow);
    },

    /** Deletes a slot's Deployment, unless the live Service selects its pods: what serves traffic is never deleted. */
    async deleteSlot({ target, deployment: name }: SlotRef): Promise<{ deleted: boolean }> {
      guard(target);
      const [deployment, service] = await Promise.all([readDeployment(kube, target, name), readService(kube, target, target.service)]).catch(rethrow);
      if (deployment === undefined) return { deleted: false };
      const selector = service?.spec?.selector;
      if (selects(selector, deployment.spec?.template?.metadata?.labels)) {
        throw nonRetryable(ErrorTypes.slotIsLive, `Service ${target.namespace}/${target.service} selects ${JSON.stringify(selector)}, the pods of Deployment ${name}: it serves live traffic, so it was not deleted`);
      }
      return { deleted: await deleteDeployment(kube, target, name).catch(rethrow) };
    },

    /**
     * Moves the live Service from one slot's selector to another's, after proving
     * that the new selector matches ready pods of `to`'s Deployment and nothing
     * else; then waits (at most settleMs) until its EndpointSlices hold only those
     * pods. `from` undefined: a first release, which creates the live Service.
     * `back`: a rollback; a Service that no longer selects `from` is left alone.
     */
    async switchTraffic(input: SwitchInput & { back?: boolean }): Promise<{ switched: boolean; detail: string }> {
      const { target, to, settleMs } = input;
      const moved = await moveSelector(input);
      if (!('toDeployment' in moved)) return moved;
      const { toDeployment } = moved;
      const settled = await waitFor(`EndpointSlices of ${target.service} holding only ${to.deployment}'s ready pods`, settleMs, slotWatch(target, to.deployment, target.service, toDeployment), async (reads) => {
        const state = await serviceEndpoints(reads, target.service, toDeployment).catch(rethrow);
        return { done: state.strangers.length === 0 && state.ready >= Math.max(1, state.podsReady), progress: { ready: state.ready, others: state.strangers.length } };
      }, ErrorTypes.switchTimeout);
      return { switched: true, detail: `Service ${target.namespace}/${target.service} selects ${JSON.stringify(to.selector)}: ${settled.ready} ready endpoints of ${to.deployment}` };
    },

    /**
     * The first half of switchTraffic alone (the proof and the patch, no wait), run
     * as a local activity in the workflow task that took the approval, so traffic
     * moves without a round trip through the server's activity queue.
     */
    async switchSelector(input: SwitchInput): Promise<{ switched: boolean; detail: string }> {
      const moved = await moveSelector(input);
      return 'toDeployment' in moved ? { switched: true, detail: `Service ${input.target.namespace}/${input.target.service} selects ${JSON.stringify(input.to.selector)}` } : moved;
    },

    /**
     * Checks that the preview holds only candidate pods, then verifies the model:
     * health, signature and shadow agreement against the live model (when there
     * is one: `hasLive`), golden set, latency.
     */
    async verifyCandidate({ spec, deployment: name, port, hasLive }: { spec: ReleaseSpec; slot: Slot; deployment: string; port: number; hasLive?: boolean }): Promise<VerificationResult> {
      const t = targetOf(spec);
      guard(t);
      guardEndpoints(spec, t);
      const preview = previewServiceName(t);
      const slot = slotWatch(t, name, preview);
      const endpoints = await waitFor(`EndpointSlices of ${preview}`, 2 * 60_000, slot, async (reads) => {
        const deployment = slot.seen(await mustReadFrom(reads, t, name, ErrorTypes.verificationFailed));
        const state = await serviceEndpoints(reads, preview, deployment).catch(rethrow);
        return { done: state.strangers.length === 0 && state.ready > 0, progress: state };
      });
      const endpoint = spec.verify.endpoint ?? await serviceUrl(t, preview, port);
      const liveEndpoint = hasLive === true ? spec.verify.liveEndpoint ?? await serviceUrl(t, t.service, port) : undefined;
      const probes = await heartbeating(() => verifyModel(spec, { fetch: fetchFn, endpoint, liveEndpoint, healthRetries: 5, sleep }));
      const checks: CheckResult[] = [
        { name: 'preview endpoints', ok: true, detail: `${endpoints.ready} ready endpoints, all pods of ${name}` },
        ...probes,
      ];
      return { ok: checks.every((c) => c.ok), endpoint, checks };
    },

    /**
     * Analysis over the monitor window: probes the live endpoint every interval
     * and stops early at the failure limit. Progress is heartbeated, so a new
     * worker continues the same window instead of starting it again.
     */
    async monitor({ spec, port, slot, deployment }: { spec: ReleaseSpec; port?: number; slot?: Slot; deployment?: string }): Promise<AnalysisResult> {
      const t = targetOf(spec);
      guard(t);
      guardEndpoints(spec, t);
      const windowMs = durationMs(spec.monitor.window);
      const intervalMs = durationMs(spec.monitor.interval);
      const endpoint = spec.monitor.endpoint ?? await serviceUrl(t, t.service, port ?? spec.port ?? 8080);
      if (spec.monitor.analysis !== undefined) {
        const args = { model: spec.model, namespace: t.namespace, service: t.service, version: spec.version, slot: slot ?? '', deployment: deployment ?? '' };
        return analyse(spec, { endpoint, args });
      }
      type Window = { startedAt: number; runs: number; failures: number; checks: CheckResult[] };
      const before = resumed<Window>();
      const progress: Window = before?.startedAt !== undefined ? before as Window : { startedAt: Date.now(), runs: 0, failures: 0, checks: [] };
      // Let every proxy route to the candidate first (a resumed window has waited already).
      await sleepBeating(progress.startedAt + durationMs(spec.monitor.initialDelay) - Date.now(), progress);
      for (;;) {
        // A Service that was just created routes only once kube-proxy has synced: the first run allows for that.
        const healthRetries = progress.runs === 0 ? 5 : 0;
        const checks = await heartbeating(() => probeModelServer(spec, { fetch: fetchFn, endpoint, healthRetries, sleep }), progress);
        progress.runs += 1;
        if (!checks.every((c) => c.ok)) progress.failures += 1;
        progress.checks = checks;
        beat(progress);
        const done = progress.failures >= spec.monitor.failureLimit;
        const left = progress.startedAt + windowMs - Date.now();
        if (done || left <= 0) break;
        await sleepBeating(Math.min(intervalMs, left), progress);
      }
      const { runs, failures, checks } = progress;
      return { ok: failures < spec.monitor.failureLimit, runs, failures, checks };
    },
  });
}

/**
 * What a wait on a slot watches: its Deployment, the pods and ReplicaSets its
 * selector matches (learnt from the Deployment each round), and a Service's
 * EndpointSlices.
 */
function slotWatch(t: Target, deployment: string, service?: string, known?: V1Deployment) {
  let selector = known?.spec?.selector?.matchLabels;
  const touches: Touches = (kind, obj) => {
    const labels = obj.metadata?.labels;
    if (kind === 'Deployment') return obj.metadata?.name === deployment;
    if (kind === 'EndpointSlice') return service !== undefined && labels?.['kubernetes.io/service-name'] === service;
    return selector === undefined || selects(selector, labels);
  };
  return {
    namespace: t.namespace,
    touches,
    seen(d: V1Deployment): V1Deployment {
      selector = d.spec?.selector?.matchLabels;
      return d;
    },
  };
}

/** Every activity counts its real failures apart from worker restarts (see attempts.ts). */
function countingAll<T extends Record<string, (...args: never[]) => Promise<unknown>>>(acts: T): T {
  return Object.fromEntries(Object.entries(acts).map(([name, fn]) => [name, countingFailures(fn)])) as T;
}

export type Activities = ReturnType<typeof createActivities>;
