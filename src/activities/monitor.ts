// The monitor window: each metric of rules/analysis.ts measured when due (a
// Prometheus query, or the golden probe against the live endpoint), until one
// fails or is inconclusive or the window ends. Progress is heartbeated, so a
// new worker continues the same window instead of starting it again.
import { HEALTH_RETRIES } from '../release/bounds.js';
import { durationMs } from '../release/duration.js';
import { renderQuery, type QueryArgs } from '../release/model-checks.js';
import type { ReleaseSpec } from '../release/spec.js';
import type { AnalysisResult, CheckResult, Slot } from '../release/status.js';
import { previewServiceName, targetOf } from '../release/target.js';
import {
  analysisResult, count, monitorMetrics, probeValue, prometheusValue, startProgress, trafficShareCheck, verdictOf,
  type Metric, type MetricProgress, type Served,
} from '../rules/analysis.js';
import { requestCounters } from '../release/drain.js';
import { apiReads, deploymentPods, readDeployment, type Kube } from './cluster.js';
import { beat, resumed } from './attempts.js';
import { ErrorTypes } from '../release/errors.js';
import { analysisHeaders, guardEndpoints, serviceUrl, verifyHeaders, type ActivityContext } from './context.js';
import { getJson, type Fetch } from './http.js';
import { podMetricSum } from './pod-metrics.js';
import { probeModel } from './model-checks.js';
import { heartbeating, sleep, sleepBeating } from './waits.js';

type Window = { startedAt: number; metrics: MetricProgress[]; served?: Served };
/** What a worker before the single engine heartbeated for the default monitor. */
type OldWindow = { startedAt: number; runs: number; failures: number };

export interface MonitorInput {
  spec: ReleaseSpec;
  port?: number;
  slot?: Slot;
  deployment?: string;
  /** set by releases started since monitor.failureLimit took Argo's meaning; older ones count as they did */
  argoFailureLimit?: boolean;
  /**
   * A stepped release's step, where the live Service holds both slots: the probe
   * asks the candidate alone, as verification did (verify.endpoint, else the preview Service).
   */
  candidateOnly?: boolean;
  /** monitor.traffic: the old slot's Deployment, and the port of each pod's metrics page */
  traffic?: { oldDeployment: string; port: number };
}

/** The window where an earlier attempt left it (also as a worker before the single engine left it), or a new one. */
function resumeWindow(spec: ReleaseSpec, metrics: readonly Metric[]): Window {
  const before = resumed<Window & OldWindow>();
  if (before?.metrics !== undefined && before.startedAt !== undefined) {
    return { startedAt: before.startedAt, metrics: before.metrics, ...(before.served === undefined ? {} : { served: before.served }) };
  }
  const startedAt = before?.startedAt ?? Date.now();
  const progress = startProgress(spec, metrics, startedAt);
  if (before?.runs !== undefined && progress[0] !== undefined) {
    Object.assign(progress[0], { measurements: before.runs, failures: before.failures ?? 0, nextAt: Date.now() });
  }
  return { startedAt, metrics: progress };
}

/** One measurement's value: a Prometheus query's, or the fraction of the probe's checks that passed. */
async function measureOnce(
  fetch: Fetch, metric: Metric, args: QueryArgs, probe: () => Promise<CheckResult[]>, headers: Record<string, string> = {},
): Promise<{ value: number | string; query?: string }> {
  if ('prometheus' in metric.provider) {
    const { address, query } = metric.provider.prometheus;
    const rendered = renderQuery(query, args);
    const res = await getJson(fetch, `${address.replace(/\/+$/, '')}/api/v1/query?query=${encodeURIComponent(rendered)}`, { headers });
    return { value: res.ok ? prometheusValue(res.answer as never) : `no answer from Prometheus: ${res.error}`, query: rendered };
  }
  const { value, failed } = probeValue(await probe());
  return { value, ...(failed === undefined ? {} : { query: failed }) };
}

/** Requests answered since `start`, per slot (a counter that went back, a pod restarted, counts from 0). */
const since = (start: number | undefined, end: number | undefined): number | undefined =>
  (start === undefined || end === undefined ? undefined : end >= start ? end - start : end);

/** The analysis with the window's traffic share: below monitor.traffic.minShare, a passed analysis is inconclusive. */
function withTraffic(result: AnalysisResult, start: Served, end: Served, minShare: number | undefined, where: string): AnalysisResult {
  const window = { candidate: since(start.candidate, end.candidate), old: since(start.old, end.old) };
  const check = trafficShareCheck(window, minShare, where);
  const counts = window.candidate === undefined || window.old === undefined
    ? {} : { traffic: { candidate: window.candidate, old: window.old } };
  return { ...result, ...counts, checks: [...result.checks, check], ...(result.ok && !check.ok ? { inconclusive: true } : {}) };
}

/** Where the monitor's probes go: the live Service, or the preview while only the candidate is judged. */
async function monitoredEndpoint(kube: Kube, spec: ReleaseSpec, port: number, candidateOnly: boolean): Promise<string> {
  const t = targetOf(spec);
  return candidateOnly
    ? spec.verify.endpoint ?? await serviceUrl(kube, t, previewServiceName(t), port)
    : spec.monitor.endpoint ?? await serviceUrl(kube, t, t.service, port);
}

/** monitor.traffic with the slots it compares and the counters it reads; undefined without an old slot beside the candidate. */
function countingOf(spec: ReleaseSpec, traffic: MonitorInput['traffic'], deployment: string | undefined) {
  if (traffic === undefined || deployment === undefined || spec.monitor.traffic === undefined) return undefined;
  return { ...spec.monitor.traffic, ...traffic, deployment, names: requestCounters(spec.monitor.traffic.requests) };
}
type Counting = NonNullable<ReturnType<typeof countingOf>>;

export function monitorActivities({ deps, kube, fetch }: ActivityContext) {
  /** The requests a Deployment's pods have answered, by their counters; undefined when no pod's page could be read. */
  async function servedBy(
    namespace: string, name: string, names: readonly string[], port: number, path: string,
  ): Promise<number | undefined> {
    const deployment = await readDeployment(kube, { namespace }, name);
    if (deployment === undefined) return undefined;
    const pods = await deploymentPods(apiReads(kube, namespace), deployment);
    const counts = await Promise.all(pods.map((pod) => podMetricSum(fetch, pod, port, path, names)));
    const known = counts.filter((c): c is number => c !== undefined);
    return known.length === 0 ? undefined : known.reduce((a, b) => a + b, 0);
  }

  return {
    /** Analysis over the monitor window (see the file's comment). */
    async monitor({ spec, port, slot, deployment, argoFailureLimit, candidateOnly, traffic }: MonitorInput): Promise<AnalysisResult> {
      const t = targetOf(spec);
      guardEndpoints(deps, spec, t);
      const endpoint = await monitoredEndpoint(kube, spec, port ?? spec.port ?? 8080, candidateOnly === true);
      const args = {
        model: spec.model, namespace: t.namespace, service: t.service, version: spec.version,
        slot: slot ?? '', deployment: deployment ?? '',
      };
      const metrics = monitorMetrics(spec, argoFailureLimit !== true);
      const progress = resumeWindow(spec, metrics);
      // monitor.traffic: each slot's counters now (kept in the heartbeat), and again at the window's end.
      // Only with an old slot beside the candidate (the workflow passes it, its port resolved): a first release has none.
      const counting = countingOf(spec, traffic, deployment);
      const served = async ({ deployment: candidate, oldDeployment, names, port, path }: Counting): Promise<Served> => {
        const [now, old] = await Promise.all([candidate, oldDeployment].map((d) => servedBy(t.namespace, d, names, port, path)));
        return { candidate: now, old };
      };
      if (counting !== undefined && progress.served === undefined) {
        progress.served = await served(counting);
        beat(progress);
      }
      const endsAt = progress.startedAt + durationMs(spec.monitor.window);
      // The first probe allows for a node proxy that has not synced yet (a Service just created routes only then).
      const headers = await verifyHeaders(kube, spec, t, ErrorTypes.AnalysisFailed);
      const queryHeaders = await analysisHeaders(kube, spec, t, ErrorTypes.AnalysisFailed);
      const probe = (first: boolean) => () =>
        probeModel(spec, { fetch, endpoint, healthRetries: first ? HEALTH_RETRIES : 0, sleep, headers });
      const running = (i: number) => verdictOf(metrics[i]!, progress.metrics[i]!) === 'Running';
      for (;;) {
        for (const [i, metric] of metrics.entries()) {
          const p = progress.metrics[i]!;
          if (p.nextAt > Date.now() || p.nextAt > endsAt || !running(i)) continue;
          const now = Date.now();
          const measured = () => measureOnce(fetch, metric, args, probe(p.measurements === 0), queryHeaders[i]);
          const { value, query } = await heartbeating(measured, progress);
          count(spec, metric, p, now, value, query);
          beat(progress);
        }
        // Measurements due at the window's end are taken before it is judged ended.
        const ended = Date.now() >= endsAt;
        const current = analysisResult(metrics, progress.metrics, ended);
        if (ended && counting !== undefined) {
          return withTraffic(current, progress.served ?? {}, await served(counting), counting.minShare, `http://POD:${counting.port}${counting.path}`);
        }
        if (ended || !current.ok || current.inconclusive === true) return current;
        // Measurements stop at `count`, but the window is the time the release bakes.
        const due = progress.metrics.filter((_, i) => running(i)).map((p) => p.nextAt);
        await sleepBeating(Math.min(endsAt, ...due) - Date.now(), progress);
      }
    },
  };
}
