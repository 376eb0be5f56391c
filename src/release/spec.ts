// The release spec: one schema for the CLI, the worker's preflight and the tests.
// Unknown fields are errors, so a typo never falls back silently to a default.
import { z } from 'zod';
import { parseDuration } from './duration.js';
import { schemaError } from './json-schema.js';
import { oneOf, oneValue, requestHeaderList, secretKeyRef } from './secrets.js';
import {
  DNS1035_LABEL, DNS1123_LABEL, ENV_VAR_NAME, LABEL_VALUE, QUANTITY, isImageReference, isQualifiedName,
} from './k8s-names.js';
import { analysisMetric, latencySpec, prometheusAddress, promQuery, shadowSpec, streamedLatency } from './model-checks.js';
import { MANAGED_BY_LABEL, SERVICE_LABEL, VERSION_LABEL } from './labels.js';
import { MAX_VERIFICATION_MS, modelRequestMs, verificationBoundMs } from './bounds.js';
import { DRAIN_PLACEHOLDERS, IN_FLIGHT_PRESETS, METRIC_NAME } from './drain.js';

/** Labels Bluegreen sets on every slot, so none can tell the slots apart. */
const OWN_LABELS: readonly string[] = [MANAGED_BY_LABEL, SERVICE_LABEL, VERSION_LABEL];

const dns1035 = (max: number) =>
  z.string().max(max, { error: `must be at most ${max} characters` }).regex(DNS1035_LABEL, {
    error: 'must be a DNS-1035 label: lower-case letters, digits and "-", starting with a letter, ending with a letter or digit',
  });

const duration = (max: string, maxMs: number) =>
  z.string().refine((s) => parseDuration(s) !== undefined, {
    error: 'must be a duration such as 30s, 10m, 1h or 1h30m (units ms, s, m, h, d)',
  }).refine((s) => (parseDuration(s) ?? 0) <= maxMs, { error: `must be at most ${max}` });

const quantity = z.string().regex(QUANTITY, { error: 'must be a Kubernetes quantity such as 500m, 2, 4Gi' });
const resourceList = z.record(
  z.string().refine(isQualifiedName, { error: 'must be a resource name such as cpu, memory or nvidia.com/gpu' }),
  z.union([quantity, z.number().nonnegative()]).transform(String),
);

const envVar = z.strictObject({
  name: z.string().regex(ENV_VAR_NAME, { error: 'must be a variable name: letters, digits and "_", not starting with a digit' }),
  /** A literal, non-secret value: it is stored in the release's history. */
  value: z.string().max(4096).optional(),
  /** Secret values are passed by reference only, so they never enter the release's history. */
  secretKeyRef,
}).refine(oneOf, oneValue);

const tensor = z.strictObject({
  name: z.string().min(1),
  shape: z.array(z.number().int().nonnegative()),
  datatype: z.enum(['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES']),
  data: z.array(z.unknown()),
  /** the tensor's parameters, e.g. MLServer's { content_type: str } for a BYTES input of strings */
  parameters: z.record(z.string(), z.unknown()).optional(),
});

const chatMessage = z.strictObject({ role: z.enum(['system', 'user', 'assistant']), content: z.string().max(64 * 1024) });

const isRegExp = (re: string): boolean => {
  try {
    new RegExp(re);
    return true;
  } catch {
    return false;
  }
};

/** What an answer over the OpenAI API must hold (protocol openai). */
export const openAiExpected = z.strictObject({
  /** text the answer contains */
  contains: z.string().min(1).max(4096).optional(),
  /** a regular expression the answer matches */
  matches: z.string().min(1).max(1024).refine(isRegExp, { error: 'must be a regular expression' }).optional(),
  /** a JSON Schema (inline) the answer, parsed as JSON, must fit; {} for any JSON */
  json: z.unknown().superRefine((schema, ctx) => {
    const error = schemaError(schema);
    if (error !== undefined) ctx.addIssue({ code: 'custom', input: schema, message: error });
  }).optional(),
  /** why the answer ended: stop (the model finished) or length (max tokens reached) */
  finishReason: z.enum(['stop', 'length']).optional(),
}).refine((e) => Object.keys(e).length > 0, { error: 'give at least one of contains, matches, json, finishReason' });

const modelVersion = z.string().max(63).regex(/^[A-Za-z0-9][-A-Za-z0-9_.]*$/, { error: 'must be a model version: letters, digits, "-", "_", "." (e.g. 2 or v1)' });

/** Metrics read on each pod's own page: a server's ready-made set (vllm, tgi, example) or metric names. */
const serverMetrics = (example: string) => z.union([
  z.enum(IN_FLIGHT_PRESETS, { error: `must be one of ${IN_FLIGHT_PRESETS.join(', ')}, or a list of metric names` }),
  z.array(z.string().regex(METRIC_NAME, { error: `must be a Prometheus metric name such as ${example}` })).min(1).max(10),
], { error: `must be one of ${IN_FLIGHT_PRESETS.join(', ')}, or a list of metric names` });

/** Where each pod serves its metrics: default the serving port, /metrics. */
const metricsPage = {
  port: z.number().int().min(1).max(65535).optional(),
  path: z.string().regex(/^\/[^\s]*$/, { error: 'must be an absolute path such as /metrics' }).default('/metrics'),
};

/** Largest raw body of a golden request, as base64: it is stored in the release's history. */
export const MAX_RAW_BODY_BASE64 = 128 * 1024;

/** Body fields of an OpenAI request that the golden request's own fields set. */
const OPENAI_SET = ['model', 'messages', 'prompt', 'stream', 'max_tokens'];

const goldenRequest = z.strictObject({
  name: z.string().min(1).max(100).optional(),
  /** protocol v2: the input tensors of POST /v2/models/{modelName}/infer */
  inputs: z.array(tensor).min(1).optional(),
  /** protocol v2: the request's parameters */
  parameters: z.record(z.string(), z.unknown()).optional(),
  /** protocol http: the JSON body posted to verify.path; openai: more fields of the request (response_format, stop, temperature) */
  body: z.unknown().optional(),
  /** protocol http: raw bytes instead of JSON (an image for TorchServe), base64; the CLI reads bodyFile into it */
  bodyBase64: z.base64({ error: 'must be base64' }).max(MAX_RAW_BODY_BASE64, { error: `must be at most ${MAX_RAW_BODY_BASE64 / 1024} KiB of base64 (${MAX_RAW_BODY_BASE64 * 3 / 4 / 1024} KiB of bytes): it is stored in the release's history` }).optional(),
  /** protocol http: a file (relative to the spec file) whose bytes the CLI sends as bodyBase64 */
  bodyFile: z.string().min(1).optional(),
  /** protocol http: the raw body's content type (default application/octet-stream) */
  contentType: z.string().max(256).regex(/^[\w.+-]+\/[\w.+-]+(\s*;.*)?$/, { error: 'must be a media type such as image/jpeg' }).optional(),
  /** protocol http: POST (the default) or PUT, as TorchServe's `curl -T` sends */
  method: z.enum(['POST', 'PUT']).optional(),
  /** protocol openai: a chat (POST /v1/chat/completions) */
  messages: z.array(chatMessage).min(1).max(100).optional(),
  /** protocol openai: a completion (POST /v1/completions) */
  prompt: z.string().max(64 * 1024).optional(),
  /** protocol openai: the answer's token limit */
  maxTokens: z.number().int().min(1).max(100_000).optional(),
  /** protocol openai: send it streamed, not, or (unset) both ways, each a check of its own */
  stream: z.boolean().optional(),
  /**
   * v2: output name -> expected data; http: the expected JSON; openai:
   * contains, matches, json, finishReason. Numbers compare within tolerance.
   */
  expected: z.unknown(),
  tolerance: z.number().nonnegative().max(1e6).default(1e-6),
});

/** A field left out of every comparison: a top-level name (id) or a dotted path into the answer (usage.total_tokens). */
const ignoredField = z.string().min(1).max(256).regex(/^[^.\s]+(\.[^.\s]+)*$/, { error: 'must be a field name or a dotted path such as usage.total_tokens' });

const verify = z.strictObject({
  endpoint: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  protocol: z.enum(['v2', 'http', 'openai']).default('v2'),
  /** protocol v2: the candidate's model version (/v2/models/{modelName}/versions/{modelVersion}); unset: the version the server picks */
  modelVersion: modelVersion.optional(),
  /** protocol v2: the live model's version, for the signature and shadow checks; unset: the version its server picks */
  liveModelVersion: modelVersion.optional(),
  // LLM servers list models by their hub id (meta-llama/Llama-3.1-8B-Instruct) or with a tag (llama3:8b).
  modelName: z.string().regex(/^[A-Za-z0-9][-A-Za-z0-9_.:/]*$/, { error: 'must be a model name as the server lists it: letters, digits, "-", "_", ".", ":", "/" (e.g. fraud or meta-llama/Llama-3.1-8B-Instruct)' }).max(253).optional(),
  path: z.string().regex(/^\/[^\s]*$/, { error: 'must be an absolute path such as /predict' }).default('/predict'),
  requests: z.array(goldenRequest).max(100).default([]),
  maxLatencyMs: z.number().int().positive().max(600_000).optional(),
  /** Where the live model answers, for the signature and shadow checks; default: the live Service. */
  liveEndpoint: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  /** Accept a candidate whose inputs or outputs would break the live model's callers (protocol v2). */
  allowSignatureChange: z.boolean().optional(),
  latency: latencySpec.optional(),
  shadow: shadowSpec.optional(),
  /** How long each request to a model server may take (10s when unset): an LLM's long answer needs more. */
  timeout: duration('10m', 600_000).refine((s) => (parseDuration(s) ?? 1_000) >= 100, { error: 'must be at least 100ms' }).optional(),
  /** Headers every request to the model servers carries: an API key, a gateway's token. */
  headers: requestHeaderList.optional(),
  /** Fields that differ in every answer (an id, a timestamp), left out of the golden and shadow comparisons. */
  ignore: z.array(ignoredField).max(50).optional(),
}).superRefine((v, ctx) => {
  v.requests.forEach((r, i) => {
    if (v.protocol === 'v2' && r.inputs === undefined) {
      ctx.addIssue({ code: 'custom', path: ['requests', i, 'inputs'], message: 'is required when protocol is v2' });
    }
    if (v.protocol === 'http' && r.body === undefined && r.bodyBase64 === undefined) {
      ctx.addIssue({ code: 'custom', path: ['requests', i, 'body'], message: 'is required when protocol is http (or raw bytes: bodyBase64, bodyFile)' });
    }
    if (v.protocol === 'http' && r.body !== undefined && r.bodyBase64 !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['requests', i], message: 'give either body (JSON) or bodyBase64 (raw bytes), not both' });
    }
    if (v.protocol !== 'v2' && r.parameters !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['requests', i, 'parameters'], message: `is for protocol v2 (protocol is ${v.protocol}); with openai, request fields go in body` });
    }
    const httpOnly = (['bodyBase64', 'contentType', 'method'] as const).filter((k) => r[k] !== undefined);
    if (v.protocol !== 'http' && httpOnly.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['requests', i, httpOnly[0]!], message: `is for protocol http (protocol is ${v.protocol})` });
    }
    if (r.bodyFile !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['requests', i, 'bodyFile'], message: 'is read by the CLI (bluegreen start -f): give bodyBase64 when starting a release another way' });
    }
    if (v.protocol === 'openai') {
      if ((r.messages === undefined) === (r.prompt === undefined)) {
        ctx.addIssue({ code: 'custom', path: ['requests', i], message: 'give exactly one of messages (a chat) or prompt (a completion) when protocol is openai' });
      }
      const at = ['requests', i, 'expected'];
      const known = Object.keys(openAiExpected.shape);
      const unknown = typeof r.expected === 'object' && r.expected !== null ? Object.keys(r.expected).filter((k) => !known.includes(k)) : [];
      for (const key of unknown) ctx.addIssue({ code: 'custom', path: [...at, key], message: `is not a known field (${known.join(', ')})` });
      const expected = unknown.length > 0 ? undefined : openAiExpected.safeParse(r.expected);
      for (const issue of expected?.error?.issues ?? []) {
        ctx.addIssue({ code: 'custom', path: [...at, ...issue.path.map(String)], message: issue.message });
      }
      const fields = r.body === undefined || (typeof r.body === 'object' && r.body !== null && !Array.isArray(r.body));
      if (!fields) ctx.addIssue({ code: 'custom', path: ['requests', i, 'body'], message: 'must be an object of request fields such as { response_format: { type: json_object } } when protocol is openai' });
      const set = fields ? Object.keys(r.body ?? {}).filter((k) => OPENAI_SET.includes(k)) : [];
      for (const key of set) ctx.addIssue({ code: 'custom', path: ['requests', i, 'body', key], message: 'is set from the request\'s own fields (messages or prompt, maxTokens, stream, verify.modelName)' });
    }
    const openAiOnly = (['messages', 'prompt', 'maxTokens', 'stream'] as const).filter((k) => r[k] !== undefined);
    if (v.protocol !== 'openai' && openAiOnly.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['requests', i, openAiOnly[0]!], message: `is for protocol openai (protocol is ${v.protocol})` });
    }
  });
  for (const field of ['modelVersion', 'liveModelVersion'] as const) {
    if (v[field] !== undefined && v.protocol !== 'v2') ctx.addIssue({ code: 'custom', path: [field], message: `is for protocol v2 (protocol is ${v.protocol})` });
  }
  if (v.latency !== undefined && streamedLatency(v.latency) && v.protocol !== 'openai') {
    ctx.addIssue({ code: 'custom', path: ['latency'], message: `time to first token and between tokens (ttftP50Ms, ttftP95Ms, itlP50Ms, itlP95Ms) are measured on streamed answers: protocol openai (protocol is ${v.protocol})` });
  }
  if (v.latency !== undefined && v.requests.length === 0) {
    ctx.addIssue({ code: 'custom', path: ['latency'], message: 'needs golden requests (verify.requests) to send' });
  }
  v.shadow?.inputs.forEach((r, i) => {
    const field = v.protocol === 'v2' ? 'inputs' : 'body';
    if (r[field] === undefined) ctx.addIssue({ code: 'custom', path: ['shadow', 'inputs', i, field], message: `is required when protocol is ${v.protocol}` });
  });
  if (v.shadow !== undefined && v.shadow.inputs.length === 0 && v.requests.length === 0 && v.shadow.inputsFile === undefined) {
    ctx.addIssue({ code: 'custom', path: ['shadow'], message: 'needs inputs: golden requests (verify.requests), shadow.inputs or shadow.inputsFile' });
  }
});

const labelMap = z.record(
  z.string().refine(isQualifiedName, { error: 'must be a label key such as app or example.com/tier' }),
  z.string().max(63, { error: 'must be at most 63 characters' }).regex(LABEL_VALUE, { error: 'must be a label value' }),
);

/** Largest pod template a release carries, as JSON: it is stored in the release's history. */
export const MAX_TEMPLATE_BYTES = 64 * 1024;

/**
 * A pod template as users write it in a Deployment. Only its outline is checked
 * here; the API server validates the rest in preflight (a dry-run apply).
 */
const podTemplate = z.strictObject({
  metadata: z.strictObject({
    labels: labelMap.optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  }).optional(),
  spec: z.looseObject({
    containers: z.array(z.looseObject({
      name: z.string().regex(DNS1123_LABEL, { error: 'must be a container name (DNS-1123 label)' }).max(63),
    })).min(1, { error: 'must list at least one container' }),
  }),
}).refine((t) => JSON.stringify(t).length <= MAX_TEMPLATE_BYTES, {
  error: `must be at most ${MAX_TEMPLATE_BYTES / 1024} KiB as JSON (it is stored in the release's history; mount large configuration from a ConfigMap)`,
});

/** Preview Service names are `<service>-preview`, and Service names have at most 63 characters. */
export const MAX_SERVICE_NAME = 63 - '-preview'.length;

export const ReleaseSpecSchema = z.strictObject({
  model: dns1035(63),
  /** The cluster the release targets, as its workers name it (BLUEGREEN_CLUSTER_NAME); a worker of another refuses it. */
  cluster: z.string().max(40, { error: 'must be at most 40 characters' }).regex(DNS1123_LABEL, { error: 'must be a DNS-1123 label: lower-case letters, digits and "-"' }).optional(),
  namespace: z.string().max(63, { error: 'must be at most 63 characters' }).regex(DNS1123_LABEL, {
    error: 'must be a DNS-1123 label: lower-case letters, digits and "-", starting and ending with a letter or digit',
  }).default('default'),
  /** The live Service's name; the preview Service is `<service>-preview`. Default: model. */
  service: dns1035(MAX_SERVICE_NAME).optional(),
  version: z.string().min(1, { error: 'is required' }).max(63, { error: 'must be at most 63 characters' }).regex(LABEL_VALUE, {
    error: 'must be a label value: letters, digits, "-", "_", ".", starting and ending with a letter or digit',
  }),
  /** The serving container's image; default: the template's (or the live Deployment's). */
  image: z.string().refine(isImageReference, { error: 'must be an image reference such as registry.example.com/team/model:1.2 (lower-case path, optional tag and digest)' }).optional(),
  /** The candidate's pod template; default: the template of the Deployment that serves live traffic. */
  template: podTemplate.optional(),
  /** A Deployment or pod-template manifest the CLI reads and inlines as `template` before starting. */
  templateFrom: z.strictObject({ file: z.string().min(1) }).optional(),
  /** The container that `image`, `env`, `resources`, `port` and `args` set; default: the first. */
  container: z.string().regex(DNS1123_LABEL, { error: 'must be a container name (DNS-1123 label)' }).max(63).optional(),
  args: z.array(z.string().max(4096)).max(200).optional(),
  /** Default: the live Deployment's replicas (an adopted setup keeps its size), else 1. */
  replicas: z.number().int({ error: 'must be a whole number' }).min(1).max(1000).optional(),
  /** Verify on fewer replicas, then scale up before the switch (spares GPUs). */
  previewReplicas: z.number().int({ error: 'must be a whole number' }).min(1).max(1000).optional(),
  /**
   * A stepped release, for a budget of `extraPods` pods beyond the live slot's
   * size (GPUs rarely exist twice): after verification the candidate grows and
   * the old slot shrinks by that many pods a step, the live Service selecting
   * both slots' ready pods (traffic shares by pod count), each step analysed
   * for `window` before the next.
   */
  stepped: z.strictObject({
    extraPods: z.number().int({ error: 'must be a whole number' }).min(1).max(1000),
    window: duration('1h', 3_600_000).default('30s'),
  }).optional(),
  /**
   * After promotion, the old slot keeps this many replicas until scaleDownDelay
   * ends (0 allowed) instead of all: a rollback then starts the rest first.
   */
  standbyReplicas: z.number().int({ error: 'must be a whole number' }).min(0).max(1000).optional(),
  /** The serving port; default: the serving container's first port, else 8080. */
  port: z.number().int().min(1).max(65535).optional(),
  env: z.array(envVar).max(200).default([]),
  resources: z.strictObject({ requests: resourceList.optional(), limits: resourceList.optional() }).optional(),
  slotLabel: z.string().refine(isQualifiedName, { error: 'must be a label key such as slot, env or example.com/color' })
    .refine((k) => !OWN_LABELS.includes(k), { error: `must not be one of Bluegreen's own labels (${OWN_LABELS.join(', ')})` }).default('slot'),
  readinessPath: z.string().regex(/^\/[^\s]*$/, { error: 'must be an absolute path such as /v2/health/ready' }).default('/v2/health/ready'),
  rolloutTimeout: duration('1h', 3_600_000).default('10m'),
  /** How long the live Service may take to hold the candidate's endpoints after the switch before it is switched back. */
  switchTimeout: duration('5m', 300_000).refine((s) => (parseDuration(s) ?? 1_000) >= 1_000, { error: 'must be at least 1s: the endpoints need time to follow the selector' }).default('30s'),
  /**
   * When the candidate does not fit the nodes now: `refuse` before anything
   * changes, or `wait` (a cluster autoscaler adds nodes for Pending pods): its
   * pods wait up to `timeout` for room instead of rolloutTimeout.
   */
  capacity: z.strictObject({
    whenShort: z.enum(['refuse', 'wait'], { error: 'must be refuse or wait' }).default('refuse'),
    timeout: duration('6h', 6 * 3_600_000).default('30m'),
  }).default({ whenShort: 'refuse', timeout: '30m' }),
  /**
   * Before the old slot is deleted (and a candidate that took traffic, on a
   * rollback): its pods are stopped (SIGTERM, so a good server finishes its
   * answers and closes its keep-alive connections) and Bluegreen waits up to
   * `timeout` for them to end, reading the requests still in flight from each
   * pod's metrics when `inFlight` names them (or from Prometheus); then it
   * stops what is left.
   */
  drain: z.strictObject({
    timeout: duration('6h', 6 * 3_600_000).default('2m'),
    /** Gauges summed on each pod's metrics page: a server's ready-made set (vllm, tgi, example) or metric names. */
    inFlight: serverMetrics('model_requests_in_flight or vllm:num_requests_running').optional(),
    ...metricsPage,
    /**
     * Read the requests in flight from Prometheus instead of each pod's page
     * (a worker that cannot reach pod IPs): `query` gives one value per `pod`
     * label; default, the `inFlight` gauges summed by pod over the slot's pods.
     */
    prometheus: z.strictObject({
      address: prometheusAddress,
      query: promQuery(DRAIN_PLACEHOLDERS).optional(),
      headers: requestHeaderList.optional(),
    }).optional(),
  }).refine((d) => d.prometheus === undefined || d.prometheus.query !== undefined || d.inFlight !== undefined, {
    path: ['prometheus', 'query'],
    error: 'give the query, or drain.inFlight for the ready-made one (the inFlight gauges summed by pod)',
  }).optional(),
  /** Owners a release goes on beside knowingly (each is recorded in the timeline); Helm is always a warning. */
  owners: z.strictObject({
    allow: z.array(z.enum(['argocd', 'flux', 'controller'], { error: 'must be argocd, flux or controller' })).max(3).default([]),
  }).default({ allow: [] }),
  switch: z.strictObject({
    /**
     * Ready candidate pods traffic may move to: a count, or a share of the
     * replicas such as "80%" (rounded up). Default: all of them. The switch
     * waits (up to rolloutTimeout) for that many, then proves it again.
     */
    minReady: z.union([
      z.number().int({ error: 'must be a whole number' }).min(1).max(1000),
      z.string().regex(/^([1-9][0-9]?|100)%$/, { error: 'must be a count such as 3 or a share such as 80%' }),
    ], { error: 'must be a count such as 3 or a share such as 80%' }).optional(),
  }).default({}),
  verify: verify.default({ protocol: 'v2', path: '/predict', requests: [] }),
  approval: z.strictObject({
    beforeSwitch: z.boolean().default(false),
    afterSwitch: z.enum(['auto', 'manual']).default('auto'),
    timeout: duration('7d', 7 * 86_400_000).default('1h'),
    onTimeout: z.enum(['rollback', 'promote']).default('rollback'),
    /** Four eyes: an approve from whoever started the release is refused. */
    notByStarter: z.boolean().default(false),
  }).default({ beforeSwitch: false, afterSwitch: 'auto', timeout: '1h', onTimeout: 'rollback', notByStarter: false }),
  monitor: z.strictObject({
    window: duration('7d', 7 * 86_400_000).default('5m'),
    interval: duration('1h', 3_600_000).refine((s) => (parseDuration(s) ?? 1_000) >= 1_000, { error: 'must be at least 1s' }).default('30s'),
    /**
     * Before the first analysis: EndpointSlices follow a switch at once, but each
     * node's proxy routes by them only after its next sync (kube-proxy: about a
     * second), so a probe right after the switch may still reach the old pods.
     */
    initialDelay: duration('1h', 3_600_000).default('5s'),
    /** Where analysis sends its requests; default: the live Service's cluster URL. */
    endpoint: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
    /**
     * Failed probes tolerated by the default analysis (Argo Rollouts' meaning, as
     * monitor.analysis[].failureLimit): the release rolls back when more fail.
     * Before 0.3 it counted the failures that roll back (1 = the first), so an
     * old value N is N - 1 now; releases started before keep the old meaning.
     */
    failureLimit: z.number().int().min(0).max(100).default(0),
    /**
     * Analysis metrics, as Argo Rollouts' analysis templates. When given, they
     * replace the default analysis (the golden requests every interval); add
     * `{ provider: { probe: {} } }` to keep it.
     */
    analysis: z.array(analysisMetric(duration('1h', 3_600_000))).max(20).optional(),
    /**
     * The candidate's share of the requests both slots answered in the window,
     * from each pod's request counters: keep-alive clients stay on the old pods
     * after the switch, so a candidate may be judged on a trickle. Below
     * minShare the analysis is inconclusive and a person decides.
     */
    traffic: z.strictObject({
      requests: serverMetrics('model_requests_total or vllm:request_success_total'),
      minShare: z.number().min(0).max(1).optional(),
      ...metricsPage,
    }).optional(),
  }).superRefine((m, ctx) => {
    const names = new Set<string>();
    m.analysis?.forEach((a, i) => {
      if (names.has(a.name)) ctx.addIssue({ code: 'custom', path: ['analysis', i, 'name'], input: a.name, message: 'is given twice' });
      names.add(a.name);
    });
  }).default({ window: '5m', interval: '30s', initialDelay: '5s', failureLimit: 0 }),
  scaleDownDelay: duration('1d', 86_400_000).default('30s'),
}).superRefine((s, ctx) => {
  if (s.service === undefined && s.model.length > MAX_SERVICE_NAME) {
    ctx.addIssue({ code: 'custom', path: ['model'], input: s.model, message: `must be at most ${MAX_SERVICE_NAME} characters when service is not set: the Services are named after it and "${s.model}-preview" would be longer than 63` });
  }
  if (s.template !== undefined && s.templateFrom !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['templateFrom'], message: 'give either template or templateFrom, not both' });
  }
  const labels = s.template?.metadata?.labels ?? {};
  if (labels[s.slotLabel] !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['template', 'metadata', 'labels', s.slotLabel], input: labels[s.slotLabel], message: `is the slot label, which Bluegreen sets (blue or green); remove it from the template` });
  }
  const containers = s.template?.spec.containers ?? [];
  if (s.container !== undefined && s.template !== undefined && !containers.some((c) => c.name === s.container)) {
    ctx.addIssue({ code: 'custom', path: ['container'], input: s.container, message: `must name a container of the template (${containers.map((c) => c.name).join(', ')})` });
  }
  const verification = verificationBoundMs(s);
  if (verification > MAX_VERIFICATION_MS) {
    ctx.addIssue({
      code: 'custom', path: ['verify'],
      message: `its checks may need up to ${Math.ceil(verification / 60_000)} minutes (each request may take ${modelRequestMs(s) / 1000}s), more than the ${MAX_VERIFICATION_MS / 60_000} minutes verification may take: send fewer requests, raise latency.concurrency, or lower verify.timeout`,
    });
  }
  if (typeof s.switch.minReady === 'number' && s.replicas !== undefined && s.switch.minReady > s.replicas) {
    ctx.addIssue({ code: 'custom', path: ['switch', 'minReady'], message: `must be at most replicas (${s.replicas})`, input: s.switch.minReady });
  }
  if (s.previewReplicas !== undefined && s.replicas !== undefined && s.previewReplicas > s.replicas) {
    ctx.addIssue({ code: 'custom', path: ['previewReplicas'], message: `must be between 1 and replicas (${s.replicas})`, input: s.previewReplicas });
  }
  if (s.stepped !== undefined && s.previewReplicas !== undefined && s.previewReplicas > s.stepped.extraPods) {
    ctx.addIssue({ code: 'custom', path: ['previewReplicas'], input: s.previewReplicas, message: `must be at most stepped.extraPods (${s.stepped.extraPods}): the candidate's pods beside the live slot's before the first step are the budget` });
  }
  if (s.stepped !== undefined && s.standbyReplicas !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['standbyReplicas'], input: s.standbyReplicas, message: 'is for a blue-green release: a stepped release leaves the old slot at 0 pods after its last step; leave it out' });
  }
  const names = new Set<string>();
  s.env.forEach((e, i) => {
    if (names.has(e.name)) ctx.addIssue({ code: 'custom', path: ['env', i, 'name'], message: 'is given twice', input: e.name });
    names.add(e.name);
  });
});

/** What a user writes (defaults optional). */
export type ReleaseSpecInput = z.input<typeof ReleaseSpecSchema>;
/** A validated spec with defaults filled in: what the workflow receives. */
export type ReleaseSpec = z.output<typeof ReleaseSpecSchema>;
