// Verification of a candidate model before the switch: health, its signature
// against the live model's, the golden set, latency percentiles and shadow
// agreement with the live model. Each check carries its figure and its bound.
import type { ReleaseSpec } from '../release/spec.js';
import type { CheckResult } from '../release/status.js';
import { breakingChanges, describeSignature, signatureOf, type Signature } from './signature.js';
import {
  baseOf, clip, compareJson, getJson, goldenChecks, healthWithRetries, postJson, requestOf, v2Outputs, type Answer, type Fetch, type ProbeOptions,
} from './verify.js';

/** Disagreements quoted in the shadow check: enough to start looking, small in the history. */
const MAX_EXAMPLES = 3;

export interface ModelCheckOptions extends ProbeOptions {
  /** the live model, for the signature and shadow checks; undefined on a first release */
  liveEndpoint?: string;
}

export async function verifyModel(spec: ReleaseSpec, options: ModelCheckOptions): Promise<CheckResult[]> {
  const { fetch } = options;
  const base = baseOf(options.endpoint);
  const health = await healthWithRetries(spec, options);
  if (!health.ok) return [health];
  const checks: CheckResult[] = [];
  let signature: Signature | undefined;
  if (spec.verify.protocol === 'v2') {
    const read = await readSignature(spec, fetch, base);
    if (typeof read === 'string') return [health, { name: 'signature', ok: false, detail: `the candidate's ${read}` }];
    signature = read;
    if (options.liveEndpoint !== undefined) checks.push(await signatureCheck(spec, fetch, baseOf(options.liveEndpoint), read));
  }
  checks.push(...await goldenChecks(spec, fetch, base, signature));
  if (spec.verify.latency !== undefined) checks.push(await latencyCheck(spec, fetch, base));
  if (spec.verify.shadow !== undefined) {
    checks.push(options.liveEndpoint === undefined
      ? { name: 'shadow agreement', ok: true, detail: 'not compared: a first release has no live model' }
      : await shadowCheck(spec, fetch, base, baseOf(options.liveEndpoint)));
  }
  return [health, ...checks];
}

async function readSignature(spec: ReleaseSpec, fetch: Fetch, base: string): Promise<Signature | string> {
  const res = await getJson(fetch, `${base}/v2/models/${encodeURIComponent(spec.verify.modelName ?? spec.model)}`);
  if (!res.ok) return `model metadata could not be read: ${res.error}`;
  return signatureOf(res.answer);
}

async function signatureCheck(spec: ReleaseSpec, fetch: Fetch, liveBase: string, candidate: Signature): Promise<CheckResult> {
  const allowed = spec.verify.allowSignatureChange === true;
  const live = await readSignature(spec, fetch, liveBase);
  if (typeof live === 'string') {
    return allowed
      ? { name: 'signature', ok: true, detail: clip(`not compared (allowSignatureChange): the live ${live}`) }
      : { name: 'signature', ok: false, detail: clip(`the live ${live}; set verify.liveEndpoint, or verify.allowSignatureChange: true to release without comparing`) };
  }
  const changes = breakingChanges(live, candidate);
  if (changes.length === 0) return { name: 'signature', ok: true, detail: clip(`compatible with the live model: ${describeSignature(candidate)}`) };
  const listed = changes.join('; ');
  return allowed
    ? { name: 'signature', ok: true, detail: clip(`changed, allowed by allowSignatureChange: ${listed}`), value: changes.length }
    : { name: 'signature', ok: false, detail: clip(`would break the live model's callers: ${listed}`), value: changes.length };
}

/** The p-th percentile (0 < p <= 100) of sorted values, by nearest rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

/** N requests over the golden inputs, `concurrency` at a time; percentiles against their bounds. */
async function latencyCheck(spec: ReleaseSpec, fetch: Fetch, base: string): Promise<CheckResult> {
  const latency = spec.verify.latency!;
  const requests = spec.verify.requests.map((r) => requestOf(spec, base, r));
  const times: number[] = [];
  const errors: string[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < latency.requests) {
      const request = requests[next % requests.length]!;
      next += 1;
      const res = await postJson(fetch, request.url, request.body);
      if (res.ok) times.push(res.latencyMs);
      else errors.push(res.error);
    }
  };
  await Promise.all(Array.from({ length: Math.min(latency.concurrency, latency.requests) }, lane));
  times.sort((a, b) => a - b);
  const over = `over ${latency.requests} requests at concurrency ${latency.concurrency}`;
  if (errors.length > 0) return { name: 'latency', ok: false, detail: clip(`${errors.length} of ${latency.requests} requests failed ${over}; first: ${errors[0]}`) };
  const figures = ([[50, latency.p50Ms], [95, latency.p95Ms], [99, latency.p99Ms]] as const)
    .filter(([, bound]) => bound !== undefined)
    .map(([p, bound]) => ({ p, value: percentile(times, p), bound: bound! }));
  const ok = figures.every((f) => f.value <= f.bound);
  const worst = figures.find((f) => f.value > f.bound) ?? figures[figures.length - 1]!;
  const detail = `${figures.map((f) => `p${f.p} ${f.value} ms ${f.value <= f.bound ? '<=' : '>'} ${f.bound}`).join(', ')} ${over}`;
  return { name: 'latency', ok, detail, value: worst.value, bound: `p${worst.p} <= ${worst.bound} ms` };
}

/**
 * The same inputs to the live model and the candidate; the rate of outputs that
 * agree (per output of each input, or per answer with protocol http) against
 * shadow.minAgreement.
 */
async function shadowCheck(spec: ReleaseSpec, fetch: Fetch, base: string, liveBase: string): Promise<CheckResult> {
  const shadow = spec.verify.shadow!;
  const inputs = [
    ...spec.verify.requests.map((r, i) => ({ name: r.name ?? `request ${i}`, request: r })),
    ...shadow.inputs.map((r, i) => ({ name: r.name ?? `recorded ${i}`, request: r })),
  ];
  let compared = 0;
  let agreed = 0;
  let liveFailed = 0;
  const examples: string[] = [];
  const disagree = (text: string) => { if (examples.length < MAX_EXAMPLES) examples.push(clip(text, 160)); };
  for (const { name, request } of inputs) {
    const [live, candidate] = await Promise.all([liveBase, base].map((b) => {
      const { url, body } = requestOf(spec, b, request);
      return postJson(fetch, url, body);
    })) as [Answer, Answer];
    if (!live.ok) {
      liveFailed += 1;
      continue;
    }
    const pairs: [string, unknown, unknown][] = spec.verify.protocol === 'v2'
      ? Object.entries(v2Outputs(live.answer)).map(([output, data]) => [output, data, candidate.ok ? v2Outputs(candidate.answer)[output] : undefined])
      : [['answer', live.answer, candidate.ok ? candidate.answer : undefined]];
    for (const [output, liveData, candidateData] of pairs) {
      compared += 1;
      // Labels (strings, booleans) must be equal, numbers within the tolerance.
      const diff = candidate.ok ? compareJson(liveData, candidateData, shadow.tolerance, '') : candidate.error;
      if (diff === undefined) agreed += 1;
      else disagree(`${name} ${output}: ${candidate.ok ? `live ${JSON.stringify(liveData)}, candidate ${JSON.stringify(candidateData)}` : diff}`);
    }
  }
  const bound = `>= ${shadow.minAgreement}`;
  if (compared === 0) return { name: 'shadow agreement', ok: false, detail: `nothing compared: the live model answered none of ${inputs.length} inputs`, bound };
  const rate = agreed / compared;
  const skipped = liveFailed > 0 ? ` (${liveFailed} inputs the live model did not answer are left out)` : '';
  const head = `${agreed} of ${compared} outputs agree: ${(rate * 100).toFixed(1)}% ${rate >= shadow.minAgreement ? '>=' : '<'} ${(shadow.minAgreement * 100).toFixed(1)}%${skipped}`;
  return {
    name: 'shadow agreement', ok: rate >= shadow.minAgreement, value: Number(rate.toFixed(4)), bound,
    detail: clip(examples.length === 0 ? head : `${head}; first disagreements: ${examples.join('; ')}`, 600),
    ...(examples.length > 0 ? { examples } : {}),
  };
}
