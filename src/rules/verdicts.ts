// The verdicts of verification's measured checks, from what was measured:
// latency percentiles against their bounds, and shadow agreement against its
// minimum. The requests are sent by activities/model-checks.ts.
import type { ReleaseSpec } from '../release/spec.js';
import type { CheckResult } from '../release/status.js';
import { clip, percentile } from './compare.js';

type Latency = NonNullable<ReleaseSpec['verify']['latency']>;
type Shadow = NonNullable<ReleaseSpec['verify']['shadow']>;

/**
 * Latencies (ms, any order) and errors of `latency.requests` requests, judged
 * against the spec's percentile bounds; with streamed answers, their times to
 * the first token and between tokens (each answer's mean) against the ttft
 * and itl bounds too.
 */
export function latencyVerdict(
  latency: Latency, latencies: readonly number[], errors: readonly string[],
  firstTokens: readonly number[] = [], interTokens: readonly number[] = [],
): CheckResult {
  const sorted = (v: readonly number[]) => [...v].sort((a, b) => a - b);
  const [times, ttfts, itls] = [sorted(latencies), sorted(firstTokens), sorted(interTokens)];
  const over = `over ${latency.requests} requests at concurrency ${latency.concurrency}`;
  if (errors.length > 0) return { name: 'latency', ok: false, detail: clip(`${errors.length} of ${latency.requests} requests failed ${over}; first: ${errors[0]}`) };
  const figures = ([
    ['p50', times, latency.p50Ms], ['p95', times, latency.p95Ms], ['p99', times, latency.p99Ms],
    ['ttft p50', ttfts, latency.ttftP50Ms], ['ttft p95', ttfts, latency.ttftP95Ms],
    ['itl p50', itls, latency.itlP50Ms], ['itl p95', itls, latency.itlP95Ms],
  ] as const)
    .filter(([, , bound]) => bound !== undefined)
    .map(([what, values, bound]) => ({ what, value: percentile(values, Number(what.slice(-2))), bound: bound! }));
  // A server that streamed no event has no time to first token: that fails its bound.
  const holds = (f: { value: number; bound: number }) => f.value <= f.bound;
  const ok = figures.every(holds);
  const worst = figures.find((f) => !holds(f)) ?? figures[figures.length - 1]!;
  const detail = `${figures.map((f) => `${f.what} ${Number.isNaN(f.value) ? 'none (no event streamed)' : `${f.value} ms`} ${holds(f) ? '<=' : '>'} ${f.bound}`).join(', ')} ${over}`;
  return { name: 'latency', ok, detail, value: Number.isNaN(worst.value) ? -1 : worst.value, bound: `${worst.what} <= ${worst.bound} ms` };
}

export interface ShadowTally {
  inputs: number;
  compared: number;
  agreed: number;
  /** outputs equal (labels) or within the tolerance (numbers): with shadow.similarity, fewer than agreed */
  exact: number;
  /** inputs the live model did not answer, left out */
  liveFailed: number;
  /** the first disagreements */
  examples: string[];
}

/** The rate of agreeing outputs against shadow.minAgreement. */
export function shadowVerdict(shadow: Shadow, tally: ShadowTally): CheckResult {
  const { inputs, compared, agreed, liveFailed, examples } = tally;
  const bound = `>= ${shadow.minAgreement}`;
  if (compared === 0) return { name: 'shadow agreement', ok: false, detail: `nothing compared: the live model answered none of ${inputs} inputs`, bound };
  const rate = agreed / compared;
  const skipped = liveFailed > 0 ? ` (${liveFailed} inputs the live model did not answer are left out)` : '';
  const how = shadow.similarity === undefined ? '' : ` (texts ${shadow.similarity} alike; ${tally.exact} exactly)`;
  const head = `${agreed} of ${compared} outputs agree${how}: ${(rate * 100).toFixed(1)}% ${rate >= shadow.minAgreement ? '>=' : '<'} ${(shadow.minAgreement * 100).toFixed(1)}%${skipped}`;
  return {
    name: 'shadow agreement', ok: rate >= shadow.minAgreement, value: Number(rate.toFixed(4)), bound,
    detail: clip(examples.length === 0 ? head : `${head}; first disagreements: ${examples.join('; ')}`, 600),
    ...(examples.length > 0 ? { examples } : {}),
  };
}
