// Analysis during the monitor window, with the semantics of Argo Rollouts'
// analysis: each metric is measured every interval (up to `count` times); a
// measurement is Successful, Failed or Inconclusive by its conditions; a metric
// fails when more than failureLimit measurements failed and is inconclusive when
// more than inconclusiveLimit were. No data, or a query that cannot be answered,
// is inconclusive: the release then waits for a person rather than guess.
// Without monitor.analysis the window runs one metric of the same engine: the
// golden probe, with monitor.failureLimit. The measurements are taken by
// activities/monitor.ts; everything here is a pure rule.
import { parseCondition } from '../release/condition.js';
import { durationMs } from '../release/duration.js';
import type { ReleaseSpec } from '../release/spec.js';
import type { AnalysisResult, CheckResult } from '../release/status.js';
import { clip } from './compare.js';

export type Metric = NonNullable<ReleaseSpec['monitor']['analysis']>[number];
export type MeasurementPhase = 'Successful' | 'Failed' | 'Inconclusive';
export interface Measurement { phase: MeasurementPhase; value?: number; detail: string }

/**
 * The metrics of the window: monitor.analysis, or the default probe of the
 * golden requests every monitor.interval. `legacyFailureLimit`: a release
 * started before monitor.failureLimit took Argo's meaning, where it counted the
 * failures that roll back (1 = the first), not those tolerated.
 */
export function monitorMetrics(spec: ReleaseSpec, legacyFailureLimit = false): Metric[] {
  if (spec.monitor.analysis !== undefined) return spec.monitor.analysis;
  const failureLimit = legacyFailureLimit ? Math.max(0, spec.monitor.failureLimit - 1) : spec.monitor.failureLimit;
  // The default probe is measured at least once: in a window shorter than the delay, at the window's end.
  const initialDelay = `${Math.min(durationMs(spec.monitor.initialDelay), durationMs(spec.monitor.window))}ms`;
  return [{ name: 'golden', provider: { probe: {} }, failureLimit, inconclusiveLimit: 0, initialDelay }];
}

/** Measurements a metric needs in the window: its count, else one. */
const needed = (metric: Metric): number => metric.count ?? 1;

/**
 * What the spec makes certain before anything runs: a metric whose needed
 * measurements cannot all fall in the monitor window is never a pass (the
 * release waits for a person). `validate` prints these as warnings.
 */
export function analysisWarnings(spec: ReleaseSpec): string[] {
  // A stepped release analyses each step with the same metrics over stepped.window.
  const windows = [{ field: 'monitor.window', window: spec.monitor.window, what: 'a monitor window' }];
  if (spec.stepped !== undefined) windows.push({ field: 'stepped.window', window: spec.stepped.window, what: 'a step\'s window' });
  return windows.flatMap(({ field, window, what: where }) => (spec.monitor.analysis ?? []).flatMap((m, i) => {
    const firstMs = durationMs(m.initialDelay ?? spec.monitor.initialDelay);
    const lastMs = firstMs + (needed(m) - 1) * durationMs(m.interval ?? spec.monitor.interval);
    if (lastMs <= durationMs(window)) return [];
    const what = needed(m) === 1 ? 'its first measurement' : `its ${needed(m)} measurements (count)`;
    return [`monitor.analysis[${i}] (${m.name}): ${what} would end ${lastMs / 1000}s into ${where} of ${window}: it is inconclusive and the release waits for a person; lengthen ${field} or shorten initialDelay, interval or count`];
  }));
}

/** A metric's successCondition; with neither condition given, a measurement must be 1. */
const successOf = (metric: Pick<Metric, 'successCondition' | 'failureCondition'>): string | undefined =>
  metric.successCondition ?? (metric.failureCondition === undefined ? 'result == 1' : undefined);

/** Argo Rollouts' rules: failureCondition first, then successCondition; with both and neither holding, inconclusive. */
export function judge(metric: Pick<Metric, 'successCondition' | 'failureCondition'>, value: number | string): Measurement {
  if (typeof value === 'string') return { phase: 'Inconclusive', detail: value };
  const shown = `result ${Number(value.toPrecision(6))}`;
  const success = successOf(metric);
  if (metric.failureCondition !== undefined && parseCondition(metric.failureCondition).holds(value)) {
    return { phase: 'Failed', value, detail: `${shown}: failureCondition "${metric.failureCondition}" holds` };
  }
  if (success === undefined) return { phase: 'Successful', value, detail: `${shown}: failureCondition "${metric.failureCondition}" does not hold` };
  if (parseCondition(success).holds(value)) return { phase: 'Successful', value, detail: `${shown}: successCondition "${success}" holds` };
  if (metric.failureCondition === undefined) return { phase: 'Failed', value, detail: `${shown}: successCondition "${success}" does not hold` };
  return { phase: 'Inconclusive', value, detail: `${shown}: neither successCondition "${success}" nor failureCondition "${metric.failureCondition}" holds` };
}

/** What Prometheus answers to an instant query. */
export interface PrometheusAnswer { status?: string; error?: string; data?: { resultType?: string; result?: unknown } }

/** Why Prometheus did not answer a query with data: its own error. */
export const prometheusRefusal = (body: PrometheusAnswer): string =>
  `Prometheus refused the query: ${body.error ?? JSON.stringify(body).slice(0, 100)}`;

/** A Prometheus instant query's answer as its single value, or why there is none. */
export function prometheusValue(body: PrometheusAnswer): number | string {
  if (body.status !== 'success') return prometheusRefusal(body);
  const { resultType, result } = body.data ?? {};
  let raw: unknown;
  if (resultType === 'scalar') raw = (result as unknown[])[1];
  else if (resultType === 'vector') {
    const series = result as { value: unknown[] }[];
    if (series.length === 0) return 'no data: the query matched no series';
    if (series.length > 1) return `the query returned ${series.length} series; aggregate it to one (sum, max, avg)`;
    raw = series[0]!.value[1];
  } else return `the query returned a ${resultType ?? 'result'} where one value was expected; use an instant query`;
  const value = Number(raw);
  return Number.isFinite(value) ? value : `no data: the query's value is ${String(raw)}`;
}

/** A probe's checks as a measurement's value: the fraction that passed, and the first that failed. */
export function probeValue(checks: readonly CheckResult[]): { value: number; failed?: string } {
  const failed = checks.find((c) => !c.ok);
  const value = checks.filter((c) => c.ok).length / checks.length;
  return { value, ...(failed === undefined ? {} : { failed: `${failed.name}: ${failed.detail}` }) };
}

export interface MetricProgress {
  name: string;
  provider: 'prometheus' | 'probe';
  measurements: number;
  failures: number;
  inconclusives: number;
  nextAt: number;
  last?: Measurement & { query?: string };
  /** the latest numeric measurements, [time in ms, value], for the release page's chart */
  series?: [number, number][];
}

/** How many measurements of a metric the status keeps for its chart. */
export const SERIES_KEPT = 60;

export type Verdict = 'Successful' | 'Failed' | 'Inconclusive' | 'Running';

/** A metric's verdict; once the window has `ended`, one measured fewer times than it needs is inconclusive, never a pass. */
export function verdictOf(metric: Metric, p: MetricProgress, ended = false): Verdict {
  if (p.failures > metric.failureLimit) return 'Failed';
  if (p.inconclusives > metric.inconclusiveLimit) return 'Inconclusive';
  if (metric.count !== undefined && p.measurements >= metric.count) return 'Successful';
  return ended && p.measurements < needed(metric) ? 'Inconclusive' : 'Running';
}

export function startProgress(spec: ReleaseSpec, metrics: readonly Metric[], startedAt: number): MetricProgress[] {
  return metrics.map((m) => ({
    name: m.name, provider: 'prometheus' in m.provider ? 'prometheus' : 'probe', measurements: 0, failures: 0, inconclusives: 0,
    nextAt: startedAt + durationMs(m.initialDelay ?? spec.monitor.initialDelay),
  }));
}

/** Counts one measurement of a metric taken at `now`, and sets when the next is due. */
export function count(spec: ReleaseSpec, metric: Metric, p: MetricProgress, now: number, value: number | string, query?: string): void {
  const m = judge(metric, value);
  p.measurements += 1;
  if (m.phase === 'Failed') p.failures += 1;
  if (m.phase === 'Inconclusive') p.inconclusives += 1;
  p.last = { ...m, ...(query === undefined ? {} : { query: clip(query, 300) }) };
  if (m.value !== undefined && Number.isFinite(m.value)) {
    const point: [number, number] = [now, Number(m.value.toPrecision(6))];
    p.series = [...p.series ?? [], point].slice(-SERIES_KEPT);
  }
  p.nextAt = Math.max(p.nextAt, now) + durationMs(metric.interval ?? spec.monitor.interval);
}

/** A metric as a check of the status: its verdict, last measurement and counts. */
export function checkOf(metric: Metric, p: MetricProgress, ended = false): CheckResult {
  const verdict = verdictOf(metric, p, ended);
  const counts = `${p.measurements} measured, ${p.failures} failed (limit ${metric.failureLimit}), ${p.inconclusives} inconclusive (limit ${metric.inconclusiveLimit})`;
  const unmeasured = ended && p.measurements < needed(metric) ? `measured ${p.measurements} of the ${needed(metric)} times it needs within the window` : undefined;
  const last = unmeasured ?? (p.last === undefined ? 'not measured yet' : p.last.detail);
  const query = p.last?.query === undefined ? '' : p.provider === 'prometheus' ? `; query ${p.last.query}` : `; ${p.last.query}`;
  const conditions = [
    successOf(metric) && `success: ${successOf(metric)}`, metric.failureCondition && `failure: ${metric.failureCondition}`,
  ];
  const bound = conditions.filter(Boolean).join(', ');
  return {
    name: `${p.provider} ${p.name}`, ok: verdict !== 'Failed' && verdict !== 'Inconclusive',
    detail: clip(`${verdict === 'Running' ? 'passing' : verdict.toLowerCase()}: ${last}${query} (${counts})`, 600),
    ...(p.last?.value === undefined ? {} : { value: Number(p.last.value.toPrecision(6)) }),
    ...(bound === '' ? {} : { bound }),
    ...(p.series === undefined ? {} : { series: p.series }),
  };
}

/**
 * The window's result so far (or, `ended`, at its end): failed if any metric
 * failed, inconclusive (a person decides) if any was.
 */
export function analysisResult(metrics: readonly Metric[], progress: readonly MetricProgress[], ended = false): AnalysisResult {
  const verdicts = metrics.map((m, i) => verdictOf(m, progress[i]!, ended));
  const failed = verdicts.includes('Failed');
  return {
    ok: !failed,
    runs: Math.max(0, ...progress.map((p) => p.measurements)),
    failures: progress.reduce((n, p) => n + p.failures, 0),
    checks: metrics.map((m, i) => checkOf(m, progress[i]!, ended)),
    ...(!failed && verdicts.includes('Inconclusive') ? { inconclusive: true } : {}),
  };
}

/** Requests each slot answered in the window (undefined: no pod's counters could be read). */
export interface Served { candidate?: number; old?: number }

/**
 * The candidate's share of the requests both slots answered in the monitor
 * window, against monitor.traffic.minShare: below it, or unknown, the
 * candidate was judged on too little to promote it by itself.
 */
export function trafficShareCheck(served: Served, minShare: number | undefined, where: string): CheckResult {
  const name = 'traffic share';
  if (served.candidate === undefined || served.old === undefined) {
    const unread = served.candidate === undefined ? 'the candidate\'s' : 'the old slot\'s';
    return { name, ok: minShare === undefined, detail: `unknown: none of ${unread} pods' request counters could be read at ${where}` };
  }
  const total = served.candidate + served.old;
  const share = total === 0 ? 0 : served.candidate / total;
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const figure = `the candidate answered ${served.candidate} of the ${total} requests both slots answered in the window (${pct(share)})`;
  const value = Number(share.toFixed(4));
  if (minShare === undefined) return { name, ok: true, detail: figure, value };
  const ok = total > 0 && share >= minShare;
  return { name, ok, value, bound: `>= ${minShare}`, detail: ok ? `${figure} >= ${pct(minShare)}` : `${figure} < monitor.traffic.minShare ${pct(minShare)}: judged on a trickle` };
}
