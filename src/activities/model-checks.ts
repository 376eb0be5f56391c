// The checks that send requests to a model server: health, the signature
// against the live model's, the golden set, latency and shadow agreement.
// Verification before the switch runs them all (verifyModel); the monitor's
// probe runs health and the golden set (probeModel). Verdicts are rules/'s.
import { modelRequestMs } from '../release/bounds.js';
import { streamedLatency } from '../release/model-checks.js';
import type { ReleaseSpec } from '../release/spec.js';
import type { CheckResult } from '../release/status.js';
import { clip, compareJson, textSimilarity, withoutFields } from '../rules/compare.js';
import { breakingChanges, describeSignature, type Signature } from '../rules/signature.js';
import { latencyVerdict, shadowVerdict, type ShadowTally } from '../rules/verdicts.js';
import { baseOf, getOk, postJson, sendBytes, type Answer, type Fetch, type RequestOptions } from './http.js';
import { protocolOf, type ModelProtocol, type Outgoing } from './protocols/index.js';

/** Disagreements quoted in the shadow check: enough to start looking, small in the history. */
const MAX_EXAMPLES = 3;

export interface ProbeOptions {
  fetch: Fetch;
  endpoint: string;
  /** extra tries for the health check, for servers that have only just become ready */
  healthRetries?: number;
  sleep?: (ms: number) => Promise<void>;
  /** verify.headers with their values (a Secret's read by the worker) */
  headers?: Record<string, string>;
}

/** Sends a request (its JSON, or raw bytes) to a model server, with the spec's headers and timeout. */
type Post = (out: Outgoing) => Promise<Answer>;

const requestOptions = (spec: ReleaseSpec, options: ProbeOptions): RequestOptions => ({
  timeoutMs: modelRequestMs(spec),
  headers: options.headers,
});
const poster = (spec: ReleaseSpec, options: ProbeOptions): Post => {
  const request = requestOptions(spec, options);
  return ({ url, body, raw, method }) => (raw === undefined
    ? postJson(options.fetch, url, body, request, method)
    : sendBytes(options.fetch, method ?? 'POST', url, raw.bytes, raw.contentType, request));
};

export interface ModelCheckOptions extends ProbeOptions {
  /** the live model, for the signature and shadow checks; undefined on a first release */
  liveEndpoint?: string;
}

/** Health plus every golden request; each result names what it checked. */
export async function probeModel(spec: ReleaseSpec, options: ProbeOptions): Promise<CheckResult[]> {
  const health = await healthWithRetries(spec, options);
  if (!health.ok) return [health];
  const protocol = protocolOf(spec, options.fetch, requestOptions(spec, options));
  return [health, ...await goldenChecks(spec, protocol, poster(spec, options), baseOf(options.endpoint))];
}

/** Every check of verification, in order; the first failed health check ends it. */
export async function verifyModel(spec: ReleaseSpec, options: ModelCheckOptions): Promise<CheckResult[]> {
  const post = poster(spec, options);
  const protocol = protocolOf(spec, options.fetch, requestOptions(spec, options));
  const liveProtocol = protocolOf(spec, options.fetch, requestOptions(spec, options), 'live');
  const base = baseOf(options.endpoint);
  const live = options.liveEndpoint === undefined ? undefined : baseOf(options.liveEndpoint);
  const health = await healthWithRetries(spec, options);
  if (!health.ok) return [health];
  const checks: CheckResult[] = [];
  let signature: Signature | undefined;
  if (protocol.signature !== undefined) {
    const read = await protocol.signature(base);
    if (typeof read === 'string') return [health, { name: 'signature', ok: false, detail: `the candidate's ${read}` }];
    signature = read;
    if (live !== undefined) checks.push(signatureCheck(spec, await liveProtocol.signature!(live), read));
  }
  checks.push(...await goldenChecks(spec, protocol, post, base, signature));
  if (spec.verify.latency !== undefined) checks.push(await latencyCheck(spec, protocol, post, base));
  if (spec.verify.shadow !== undefined) {
    checks.push(live === undefined
      ? { name: 'shadow agreement', ok: true, detail: 'not compared: a first release has no live model' }
      : await shadowCheck(spec, protocol, liveProtocol, post, base, live));
  }
  return [health, ...checks];
}

async function healthWithRetries(spec: ReleaseSpec, options: ProbeOptions): Promise<CheckResult> {
  const url = `${baseOf(options.endpoint)}${spec.readinessPath}`;
  // A health check is quick whatever the answers take: REQUEST_TIMEOUT_MS, not verify.timeout.
  const request = { headers: options.headers };
  let health = await getOk(options.fetch, url, request);
  for (let i = 0; !health.ok && i < (options.healthRetries ?? 0); i += 1) {
    await (options.sleep ?? delay)(1_000);
    health = await getOk(options.fetch, url, request);
  }
  return { name: 'health', ...health };
}

/**
 * Every golden request: the expected values within tolerance, and (given the
 * model's signature) each output's name, datatype and shape.
 */
async function goldenChecks(
  spec: ReleaseSpec, protocol: ModelProtocol, post: Post, base: string, signature?: Signature,
): Promise<CheckResult[]> {
  const ignore = spec.verify.ignore ?? [];
  const checks: CheckResult[] = [];
  const sends = spec.verify.requests.flatMap((request, i) => (protocol.variants?.(request) ?? [{ label: '', request }])
    .map((v) => ({ name: `request ${request.name ?? i}${v.label}`, sent: v.request, expected: request.expected, tolerance: request.tolerance })));
  for (const { name, sent, expected, tolerance } of sends) {
    const res = await post(protocol.request(base, sent));
    if (!res.ok) {
      checks.push({ name, ok: false, detail: res.error });
      continue;
    }
    const { answer, latencyMs } = res;
    const mismatch = (protocol.judge !== undefined
      ? protocol.judge(expected, answer)
      : compareJson(withoutFields(expected, ignore), withoutFields(protocol.answerOf(answer), ignore), tolerance, ''))
      ?? (signature !== undefined ? protocol.checkAnswer?.(answer, signature) : undefined);
    const slow = spec.verify.maxLatencyMs !== undefined && latencyMs > spec.verify.maxLatencyMs;
    const detail = mismatch !== undefined ? clip(mismatch) : (slow ? `took ${latencyMs} ms; maxLatencyMs is ${spec.verify.maxLatencyMs}` : `matched in ${latencyMs} ms`);
    checks.push({ name, ok: mismatch === undefined && !slow, detail, latencyMs });
  }
  return checks;
}

function signatureCheck(spec: ReleaseSpec, live: Signature | string, candidate: Signature): CheckResult {
  const allowed = spec.verify.allowSignatureChange === true;
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

/** N requests over the golden inputs, `concurrency` at a time; percentiles against their bounds. */
async function latencyCheck(spec: ReleaseSpec, protocol: ModelProtocol, post: Post, base: string): Promise<CheckResult> {
  const latency = spec.verify.latency!;
  // Time to first token and between tokens are measured on streamed answers.
  const streamed = streamedLatency(latency);
  const requests = spec.verify.requests.map((r) => protocol.request(base, streamed ? { ...r, stream: true } : r));
  const times: number[] = [];
  const firstTokens: number[] = [];
  const interTokens: number[] = [];
  const errors: string[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < latency.requests) {
      const request = requests[next % requests.length]!;
      next += 1;
      const res = await post(request);
      if (!res.ok) {
        errors.push(res.error);
        continue;
      }
      times.push(res.latencyMs);
      if (res.firstEventMs !== undefined) firstTokens.push(res.firstEventMs);
      if (res.interEventMs !== undefined) interTokens.push(res.interEventMs);
    }
  };
  await Promise.all(Array.from({ length: Math.min(latency.concurrency, latency.requests) }, lane));
  return latencyVerdict(latency, times, errors, firstTokens, interTokens);
}

/**
 * The same inputs to the live model and the candidate; the rate of outputs that
 * agree (per output of each input, or per answer with protocol http) against
 * shadow.minAgreement.
 */
async function shadowCheck(
  spec: ReleaseSpec, protocol: ModelProtocol, liveProtocol: ModelProtocol, post: Post, base: string, liveBase: string,
): Promise<CheckResult> {
  const shadow = spec.verify.shadow!;
  // An ignored path is an output's name (v2) or a field of an output (a whole JSON answer with http).
  const ignore = spec.verify.ignore ?? [];
  const outputsOf = (answer: unknown) => {
    const outputs = withoutFields(protocol.outputsOf(answer), ignore) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(outputs).map(([output, data]) => [output, withoutFields(data, ignore)]));
  };
  const inputs = [
    ...spec.verify.requests.map((r, i) => ({ name: r.name ?? `request ${i}`, request: r })),
    ...shadow.inputs.map((r, i) => ({ name: r.name ?? `recorded ${i}`, request: r })),
  ];
  const tally: ShadowTally = { inputs: inputs.length, compared: 0, agreed: 0, exact: 0, liveFailed: 0, examples: [] };
  const disagree = (text: string) => { if (tally.examples.length < MAX_EXAMPLES) tally.examples.push(clip(text, 160)); };
  for (const { name, request } of inputs) {
    const [live, candidate] = await Promise.all([post(liveProtocol.request(liveBase, request)), post(protocol.request(base, request))]);
    if (!live.ok) {
      tally.liveFailed += 1;
      continue;
    }
    const candidateOutputs = candidate.ok ? outputsOf(candidate.answer) : {};
    for (const [output, liveData] of Object.entries(outputsOf(live.answer))) {
      tally.compared += 1;
      const candidateData = candidateOutputs[output];
      // Labels (strings, booleans) must be equal, numbers within the tolerance; texts, alike enough when shadow.similarity is set.
      const diff = candidate.ok ? compareJson(liveData, candidateData, shadow.tolerance, '') : candidate.error;
      const texts = shadow.similarity !== undefined && typeof liveData === 'string' && typeof candidateData === 'string';
      const alike = texts ? textSimilarity(liveData, candidateData) : undefined;
      if (diff === undefined) tally.exact += 1;
      if (diff === undefined || (alike !== undefined && alike >= shadow.similarity!)) tally.agreed += 1;
      else if (!candidate.ok) disagree(`${name} ${output}: ${diff}`);
      else disagree(`${name} ${output}: ${alike === undefined ? '' : `similarity ${alike.toFixed(2)}: `}live ${JSON.stringify(liveData)}, candidate ${JSON.stringify(candidateData)}`);
    }
  }
  return shadowVerdict(shadow, tally);
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
