// The spec of the model-aware checks: latency percentiles and shadow agreement
// before the switch, and analysis (Prometheus queries or the golden probes)
// during the monitor window, with Argo Rollouts' analysis semantics.
import { z } from 'zod';
import { conditionError } from './condition.js';
import { DNS1123_LABEL } from './k8s-names.js';
import { requestHeaderList } from './secrets.js';

export const latencySpec = z.strictObject({
  /** requests sent, cycling over the golden inputs */
  requests: z.number().int().min(1).max(10_000).default(100),
  concurrency: z.number().int().min(1).max(64).default(4),
  p50Ms: z.number().positive().max(600_000).optional(),
  p95Ms: z.number().positive().max(600_000).optional(),
  p99Ms: z.number().positive().max(600_000).optional(),
  /** protocol openai: time to the first token of streamed answers */
  ttftP50Ms: z.number().positive().max(600_000).optional(),
  ttftP95Ms: z.number().positive().max(600_000).optional(),
  /** protocol openai: inter-token latency, each streamed answer's mean time between tokens (1000 / tokens per second) */
  itlP50Ms: z.number().positive().max(600_000).optional(),
  itlP95Ms: z.number().positive().max(600_000).optional(),
}).refine((l) => [l.p50Ms, l.p95Ms, l.p99Ms, l.ttftP50Ms, l.ttftP95Ms, l.itlP50Ms, l.itlP95Ms].some((b) => b !== undefined), {
  error: 'give at least one bound: p50Ms, p95Ms, p99Ms, ttftP50Ms, ttftP95Ms, itlP50Ms or itlP95Ms',
});

/** Whether latency is measured on streamed answers: a bound on the time to first token or between tokens. */
export const streamedLatency = (l: { ttftP50Ms?: number; ttftP95Ms?: number; itlP50Ms?: number; itlP95Ms?: number }): boolean =>
  [l.ttftP50Ms, l.ttftP95Ms, l.itlP50Ms, l.itlP95Ms].some((b) => b !== undefined);

/** One recorded request: the inputs (protocol v2) or the body (protocol http). */
export const shadowInput = z.strictObject({
  name: z.string().min(1).max(100).optional(),
  inputs: z.array(z.strictObject({
    name: z.string().min(1), shape: z.array(z.number().int().nonnegative()), datatype: z.string().min(1), data: z.array(z.unknown()),
    parameters: z.record(z.string(), z.unknown()).optional(),
  })).min(1).optional(),
  /** protocol v2: the request's parameters, as a recorded Open Inference Protocol request has them */
  parameters: z.record(z.string(), z.unknown()).optional(),
  body: z.unknown().optional(),
});

/** Largest set of recorded inputs, as JSON: it is stored in the release's history. */
export const MAX_SHADOW_INPUT_BYTES = 192 * 1024;

export const shadowSpec = z.strictObject({
  /** recorded requests besides the golden inputs (JSON array or JSON lines); the CLI reads it into `inputs` */
  inputsFile: z.string().min(1).optional(),
  inputs: z.array(shadowInput).max(1_000).default([]),
  /** fraction of outputs that must agree, 0 to 1 */
  minAgreement: z.number().min(0).max(1),
  /** numbers agree within this; labels (strings, booleans) must be equal */
  tolerance: z.number().nonnegative().max(1e6).default(1e-6),
  /** texts (an LLM's answers) agree when this alike, word by word (1 - edit distance / words); unset: equal */
  similarity: z.number().min(0).max(1).optional(),
}).refine((s) => JSON.stringify(s.inputs).length <= MAX_SHADOW_INPUT_BYTES, {
  error: `inputs must be at most ${MAX_SHADOW_INPUT_BYTES / 1024} KiB as JSON (they are stored in the release's history)`,
});

/** What a Prometheus query may name; filled in for each release. */
export const QUERY_PLACEHOLDERS = ['model', 'namespace', 'service', 'version', 'slot', 'deployment'] as const;
export type QueryArgs = Record<(typeof QUERY_PLACEHOLDERS)[number], string>;
const PLACEHOLDER = /\{\{\s*([A-Za-z]+)\s*\}\}/g;

/** The query with {{ version }} and the like filled in. */
export const renderQuery = (query: string, args: Partial<QueryArgs>): string =>
  query.replace(PLACEHOLDER, (_, name: string) => args[name as keyof QueryArgs] ?? '');

/** A Prometheus server's address. */
export const prometheusAddress = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as http://prometheus.monitoring:9090' });

/** A PromQL query whose placeholders are among `allowed`. */
export const promQuery = (allowed: readonly string[] = QUERY_PLACEHOLDERS) => z.string().min(1).max(4_096).superRefine((q, ctx) => {
  for (const [, name] of q.matchAll(PLACEHOLDER)) {
    if (!allowed.includes(name!)) {
      ctx.addIssue({ code: 'custom', input: `{{${name}}}`, message: `names an unknown placeholder; use ${allowed.map((p) => `{{${p}}}`).join(', ')}` });
    }
  }
});

const condition = z.string().min(1).max(500).superRefine((s, ctx) => {
  const error = conditionError(s);
  if (error !== undefined) ctx.addIssue({ code: 'custom', input: s, message: `is not a condition: ${error} (e.g. "result < 0.01")` });
});

/** One analysis metric; `duration` is the spec's duration field (passed in to keep one definition). */
export const analysisMetric = (duration: z.ZodType<string>) => z.strictObject({
  name: z.string().max(63).regex(DNS1123_LABEL, { error: 'must be a DNS-1123 label such as error-rate' }),
  provider: z.union([
    z.strictObject({
      prometheus: z.strictObject({
        address: prometheusAddress,
        query: promQuery(),
        /** sent with each query: a token for a Prometheus behind auth (Thanos, a managed service), from a Secret */
        headers: requestHeaderList.optional(),
      }),
    }),
    /** the golden requests against the live endpoint; result is the fraction of checks that pass */
    z.strictObject({ probe: z.strictObject({}) }),
  ], { error: 'must be { prometheus: { address, query } } or { probe: {} }' }),
  successCondition: condition.optional(),
  failureCondition: condition.optional(),
  /** default: monitor.interval */
  interval: duration.optional(),
  /** measurements to take; default: one every interval until the monitor window ends */
  count: z.number().int().min(1).max(10_000).optional(),
  /** the metric fails when more measurements than this fail */
  failureLimit: z.number().int().min(0).max(1_000).default(0),
  /** the release waits for a person when more measurements than this are inconclusive */
  inconclusiveLimit: z.number().int().min(0).max(1_000).default(0),
  /** before the first measurement; default: monitor.initialDelay */
  initialDelay: duration.optional(),
}).superRefine((m, ctx) => {
  if ('prometheus' in m.provider && m.successCondition === undefined && m.failureCondition === undefined) {
    ctx.addIssue({ code: 'custom', path: ['successCondition'], message: 'give successCondition, failureCondition or both for a prometheus metric' });
  }
});
