// The spec schema: defaults, and bad input refused with the field, the value and what is allowed.
import { describe, expect, it } from 'vitest';
import { InvalidSpecError, formatFieldError, validateSpec } from '../../src/release/validate.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSpecFile, parseSpecText } from '../../src/release/spec-file.js';
import { parseDuration } from '../../src/release/duration.js';

const base = { model: 'fraud', version: 'v2', image: 'registry.example.com/ml/fraud:2.0' };

function errorsOf(input: unknown): string[] {
  try {
    validateSpec(input);
  } catch (err) {
    if (err instanceof InvalidSpecError) return err.errors.map(formatFieldError);
    throw err;
  }
  throw new Error('expected the spec to be refused');
}

describe('a valid spec', () => {
  it('fills defaults a user would expect', () => {
    const spec = validateSpec(base);
    expect(spec).toMatchObject({
      namespace: 'default', slotLabel: 'slot', switchTimeout: '30s', readinessPath: '/v2/health/ready',
      approval: { beforeSwitch: false, afterSwitch: 'auto', timeout: '1h', onTimeout: 'rollback' },
      monitor: { window: '5m', interval: '30s', failureLimit: 0 }, scaleDownDelay: '30s', rolloutTimeout: '10m',
      verify: { protocol: 'v2', requests: [] },
    });
    expect(spec.service).toBeUndefined();
    expect(spec.port).toBeUndefined();
    expect(spec.replicas).toBeUndefined(); // the live Deployment's, else 1: decided in preflight
  });

  it('accepts GPUs, secret references, a custom slot label and golden requests', () => {
    const spec = validateSpec({
      ...base, namespace: 'ml-prod', replicas: 4, previewReplicas: 1, slotLabel: 'example.com/color',
      resources: { limits: { 'nvidia.com/gpu': 1, memory: '16Gi' }, requests: { cpu: '500m' } },
      env: [{ name: 'MODEL_TOKEN', secretKeyRef: { name: 'fraud-secrets', key: 'token' } }, { name: 'LOG_LEVEL', value: 'info' }],
      verify: { requests: [{ name: 'row', inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2] }], expected: { y: [0.5] }, tolerance: 0.01 }], maxLatencyMs: 200 },
    });
    expect(spec.resources?.limits?.['nvidia.com/gpu']).toBe('1');
    expect(spec.verify.requests[0]?.tolerance).toBe(0.01);
  });

  it('accepts request headers (literal or from a Secret), a request timeout and ignored fields', () => {
    const spec = validateSpec({
      ...base, verify: {
        timeout: '2m', ignore: ['id', 'created', 'usage.total_tokens', 'choices.*.logprobs'],
        headers: [{ name: 'Authorization', secretKeyRef: { name: 'model-api-key', key: 'header' } }, { name: 'X-Team', value: 'fraud' }],
      },
    });
    expect(spec.verify).toMatchObject({ timeout: '2m', headers: [{ name: 'Authorization' }, { name: 'X-Team', value: 'fraud' }] });
  });

  it('accepts an LLM as its server lists it, a structured-output body and a JSON Schema expectation', () => {
    for (const modelName of ['meta-llama/Llama-3.1-8B-Instruct', 'llama3:8b', 'fraud']) {
      const spec = validateSpec({
        ...base, verify: {
          protocol: 'openai', modelName,
          requests: [{ messages: [{ role: 'user', content: 'label it' }], body: { response_format: { type: 'json_object' }, temperature: 0.2 }, expected: { json: { type: 'object', required: ['label'] } } }],
        },
      });
      expect(spec.verify.modelName).toBe(modelName);
    }
  });

  it('reads YAML and JSON alike', () => {
    expect(parseSpecText('model: fraud\nversion: v2\nimage: fraud:2\n').model).toBe('fraud');
    expect(parseSpecText(JSON.stringify(base)).image).toBe(base.image);
  });
});

const bad: [string, unknown, string][] = [
  ['model missing', { version: 'v2', image: 'x:1' }, 'model: is required'],
  ['model upper case', { ...base, model: 'Fraud' }, 'model: must be a DNS-1035 label'],
  ['model starts with a digit', { ...base, model: '1fraud' }, 'model: must be a DNS-1035 label'],
  ['model too long', { ...base, model: 'a'.repeat(64) }, 'model: must be at most 63 characters'],
  ['namespace with dots', { ...base, namespace: 'ml.prod' }, 'namespace: must be a DNS-1123 label'],
  ['version missing', { model: 'fraud', image: 'x:1' }, 'version: is required'],
  ['version with a space', { ...base, version: 'v 2' }, 'version: must be a label value'],
  ['image with upper case path', { ...base, image: 'Registry/Fraud:1' }, 'image: must be an image reference'],
  ['image with a space', { ...base, image: 'fraud :1' }, 'image: must be an image reference'],
  ['replicas zero', { ...base, replicas: 0 }, 'replicas: Too small'],
  ['replicas negative', { ...base, replicas: -3 }, 'replicas: Too small'],
  ['replicas fractional', { ...base, replicas: 1.5 }, 'replicas: must be a whole number'],
  ['replicas absurd', { ...base, replicas: 1e9 }, 'replicas: Too big'],
  ['replicas a string', { ...base, replicas: 'three' }, 'replicas: Invalid input: expected number, received string'],
  ['previewReplicas above replicas', { ...base, replicas: 2, previewReplicas: 3 }, 'previewReplicas: must be between 1 and replicas (2) (got 3)'],
  ['previewReplicas above a stepped budget', { ...base, replicas: 4, previewReplicas: 2, stepped: { extraPods: 1 } }, "previewReplicas: must be at most stepped.extraPods (1): the candidate's pods beside the live slot's before the first step are the budget (got 2)"],
  ['stepped without extra pods', { ...base, stepped: { extraPods: 0 } }, 'stepped.extraPods: '],
  ['a negative standby', { ...base, standbyReplicas: -1 }, 'standbyReplicas: '],
  ['a standby with stepped', { ...base, standbyReplicas: 1, stepped: { extraPods: 1 } }, 'standbyReplicas: is for a blue-green release: a stepped release leaves the old slot at 0 pods after its last step; leave it out (got 1)'],
  ['a step window in an unknown unit', { ...base, stepped: { extraPods: 1, window: '30 secs' } }, 'stepped.window: '],
  ['port out of range', { ...base, port: 70000 }, 'port: Too big'],
  ['unknown top-level field', { ...base, replica: 3 }, 'replica: is not a known field (check its spelling)'],
  ['unknown nested field', { ...base, approval: { beforeSwich: true } }, 'approval.beforeSwich: is not a known field'],
  ['a zero switchTimeout', { ...base, switchTimeout: '0s' }, 'switchTimeout: must be at least 1s: the endpoints need time to follow the selector'],
  ['a slot label that is one of Bluegreen\'s own', { ...base, slotLabel: 'bluegreen.dev/version' }, "slotLabel: must not be one of Bluegreen's own labels (app.kubernetes.io/managed-by, bluegreen.dev/service, bluegreen.dev/version)"],
  ['a switch.minReady share of 0%', { ...base, switch: { minReady: '0%' } }, 'switch.minReady: must be a count such as 3 or a share such as 80%'],
  ['duration without unit', { ...base, monitor: { window: '10' } }, 'monitor.window: must be a duration such as 30s'],
  ['negative duration', { ...base, scaleDownDelay: '-5m' }, 'scaleDownDelay: must be a duration'],
  ['duration too long', { ...base, rolloutTimeout: '2h' }, 'rolloutTimeout: must be at most 1h'],
  ['interval under a second', { ...base, monitor: { interval: '10ms' } }, 'monitor.interval: must be at least 1s'],
  ['afterSwitch unknown', { ...base, approval: { afterSwitch: 'sometimes' } }, 'approval.afterSwitch: Invalid option: expected one of "auto"|"manual"'],
  ['onTimeout unknown', { ...base, approval: { onTimeout: 'panic' } }, 'approval.onTimeout: Invalid option'],
  ['beforeSwitch not a boolean', { ...base, approval: { beforeSwitch: 'yes' } }, 'approval.beforeSwitch: Invalid input: expected boolean'],
  ['env name invalid', { ...base, env: [{ name: '1X', value: 'a' }] }, 'env[0].name: must be a variable name'],
  ['env with both value and secret', { ...base, env: [{ name: 'X', value: 'a', secretKeyRef: { name: 's', key: 'k' } }] }, 'env[0]: give exactly one of value or secretKeyRef'],
  ['env given twice', { ...base, env: [{ name: 'X', value: 'a' }, { name: 'X', value: 'b' }] }, 'env[1].name: is given twice'],
  ['resource quantity invalid', { ...base, resources: { limits: { memory: 'lots' } } }, 'resources.limits.memory: must be a Kubernetes quantity'],
  ['slotLabel invalid', { ...base, slotLabel: 'my slot' }, 'slotLabel: must be a label key'],
  ['v2 request without inputs', { ...base, verify: { requests: [{ expected: {} }] } }, 'verify.requests[0].inputs: is required when protocol is v2'],
  ['http request without body', { ...base, verify: { protocol: 'http', requests: [{ expected: {} }] } }, 'verify.requests[0].body: is required when protocol is http (or raw bytes: bodyBase64, bodyFile)'],
  ['verify endpoint not a URL', { ...base, verify: { endpoint: 'preview:8080' } }, 'verify.endpoint: must be an http(s) URL'],
  ['negative tolerance', { ...base, verify: { requests: [{ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }], expected: {}, tolerance: -1 }] } }, 'verify.requests[0].tolerance: Too small'],
  ['not a mapping', ['model', 'fraud'], 'spec: must be a mapping of fields'],
  ['an empty document', null, 'spec: must be a mapping of fields'],
  ['model with non-ASCII letters', { ...base, model: 'frаud' }, 'model: must be a DNS-1035 label'],
  ['model with a shell metacharacter', { ...base, model: 'fraud;rm' }, 'model: must be a DNS-1035 label'],
  ['version too long', { ...base, version: 'v'.repeat(64) }, 'version: must be at most 63 characters'],
  ['port as a string', { ...base, port: '8080' }, 'port: Invalid input: expected number, received string'],
  ['replicas NaN', { ...base, replicas: Number.NaN }, 'replicas: Invalid input: expected number, received NaN'],
  ['fractional duration', { ...base, approval: { timeout: '0.5h' } }, 'approval.timeout: must be a duration'],
  ['unknown resources section', { ...base, resources: { limit: { cpu: '1' } } }, 'resources.limit: is not a known field'],
  ['secret name invalid', { ...base, env: [{ name: 'TOKEN', secretKeyRef: { name: 'Bad_Name', key: 'k' } }] }, 'env[0].secretKeyRef.name: must be a Secret name'],
  ['a 60-character model without a service name', { ...base, model: `m${'a'.repeat(59)}` }, 'model: must be at most 55 characters when service is not set: the Services are named after it'],
  ['a service name too long for its preview', { ...base, service: `s${'a'.repeat(55)}` }, 'service: must be at most 55 characters'],
  ['a template that sets the slot label', { ...base, template: { metadata: { labels: { slot: 'blue' } }, spec: { containers: [{ name: 'a' }] } } }, 'template.metadata.labels.slot: is the slot label, which Bluegreen sets'],
  ['a template without containers', { ...base, template: { spec: { containers: [] } } }, 'template.spec.containers: must list at least one container'],
  ['a template with an unknown top-level field', { ...base, template: { spec: { containers: [{ name: 'a' }] }, status: {} } }, 'template.status: is not a known field'],
  ['a template of more than 64 KiB', { ...base, template: { spec: { containers: [{ name: 'a', args: ['x'.repeat(70_000)] }] } } }, 'template: must be at most 64 KiB as JSON'],
  ['a container that is not in the template', { ...base, container: 'sidecar', template: { spec: { containers: [{ name: 'a' }] } } }, 'container: must name a container of the template (a)'],
  ['template and templateFrom both', { ...base, template: { spec: { containers: [{ name: 'a' }] } }, templateFrom: { file: 'd.yaml' } }, 'templateFrom: give either template or templateFrom, not both'],
  ['a switchTimeout over 5m', { ...base, switchTimeout: '10m' }, 'switchTimeout: must be at most 5m'],
  ['unknown protocol', { ...base, verify: { protocol: 'grpc' } }, 'verify.protocol: Invalid option: expected one of "v2"|"http"'],
  ['an openai request with neither messages nor prompt', { ...base, verify: { protocol: 'openai', requests: [{ expected: { contains: 'x' } }] } }, 'verify.requests[0]: give exactly one of messages (a chat) or prompt (a completion) when protocol is openai'],
  ['an openai expectation of JSON data', { ...base, verify: { protocol: 'openai', requests: [{ prompt: 'hi', expected: { y: [0.5] } }] } }, 'verify.requests[0].expected.y: is not a known field'],
  ['an openai expectation that is not a regular expression', { ...base, verify: { protocol: 'openai', requests: [{ prompt: 'hi', expected: { matches: '(' } }] } }, 'verify.requests[0].expected.matches: must be a regular expression'],
  ['an openai expectation of nothing', { ...base, verify: { protocol: 'openai', requests: [{ prompt: 'hi', expected: {} }] } }, 'verify.requests[0].expected: give at least one of contains, matches, json, finishReason'],
  ['an openai expectation whose JSON Schema is not one', { ...base, verify: { protocol: 'openai', requests: [{ prompt: 'hi', expected: { json: { type: 'objekt' } } }] } }, 'verify.requests[0].expected.json: is not a JSON Schema: data/type must be equal to one of the allowed values'],
  ['an openai expectation whose JSON Schema is a string', { ...base, verify: { protocol: 'openai', requests: [{ prompt: 'hi', expected: { json: 'object' } }] } }, 'verify.requests[0].expected.json: must be a JSON Schema (an object)'],
  ['an openai body that sets the prompt', { ...base, verify: { protocol: 'openai', requests: [{ prompt: 'hi', body: { prompt: 'bye' }, expected: { contains: 'x' } }] } }, 'verify.requests[0].body.prompt: is set from the request\'s own fields (messages or prompt, maxTokens, stream, verify.modelName)'],
  ['a raw body that is not base64', { ...base, verify: { protocol: 'http', requests: [{ bodyBase64: 'not base64!', expected: {} }] } }, 'verify.requests[0].bodyBase64: must be base64'],
  ['a raw body and a JSON body', { ...base, verify: { protocol: 'http', requests: [{ body: {}, bodyBase64: 'AAEC', expected: {} }] } }, 'verify.requests[0]: give either body (JSON) or bodyBase64 (raw bytes), not both'],
  ['a raw body over 128 KiB', { ...base, verify: { protocol: 'http', requests: [{ bodyBase64: 'A'.repeat(140_000), expected: {} }] } }, 'verify.requests[0].bodyBase64: must be at most 128 KiB of base64 (96 KiB of bytes): it is stored in the release\'s history'],
  ['a raw body with protocol v2', { ...base, verify: { requests: [{ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }], bodyBase64: 'AAEC', expected: {} }] } }, 'verify.requests[0].bodyBase64: is for protocol http (protocol is v2)'],
  ['a content type that is not one', { ...base, verify: { protocol: 'http', requests: [{ bodyBase64: 'AAEC', contentType: 'jpeg', expected: {} }] } }, 'verify.requests[0].contentType: must be a media type such as image/jpeg'],
  ['a body file outside the CLI', { ...base, verify: { protocol: 'http', requests: [{ bodyFile: 'kitten.jpg', expected: {} }] } }, 'verify.requests[0].bodyFile: is read by the CLI (bluegreen start -f): give bodyBase64 when starting a release another way'],
  ['a model version with protocol openai', { ...base, verify: { protocol: 'openai', modelVersion: '2' } }, 'verify.modelVersion: is for protocol v2 (protocol is openai)'],
  ['a model version with a slash', { ...base, verify: { liveModelVersion: '1/infer' } }, 'verify.liveModelVersion: must be a model version: letters, digits, "-", "_", "." (e.g. 2 or v1)'],
  ['request parameters with protocol http', { ...base, verify: { protocol: 'http', requests: [{ body: {}, parameters: { x: 1 }, expected: {} }] } }, 'verify.requests[0].parameters: is for protocol v2 (protocol is http); with openai, request fields go in body'],
  ['a traffic share over 1', { ...base, monitor: { traffic: { requests: 'example', minShare: 1.5 } } }, 'monitor.traffic.minShare: Too big'],
  ['traffic counted by an unknown server', { ...base, monitor: { traffic: { requests: 'triton' } } }, 'monitor.traffic.requests: must be one of vllm, tgi, example, or a list of metric names'],
  ['a model name with a space', { ...base, verify: { modelName: 'fraud model' } }, 'verify.modelName: must be a model name as the server lists it: letters, digits, "-", "_", ".", ":", "/" (e.g. fraud or meta-llama/Llama-3.1-8B-Instruct)'],
  ['an openai body that is a list', { ...base, verify: { protocol: 'openai', requests: [{ prompt: 'hi', body: ['x'], expected: { contains: 'x' } }] } }, 'verify.requests[0].body: must be an object of request fields such as { response_format: { type: json_object } } when protocol is openai'],
  ['a chat sent with protocol v2', { ...base, verify: { requests: [{ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }], messages: [{ role: 'user', content: 'hi' }], expected: {} }] } }, 'verify.requests[0].messages: is for protocol openai (protocol is v2)'],
  ['a time-to-first-token bound without streaming', { ...base, verify: { protocol: 'http', requests: [{ body: {}, expected: {} }], latency: { ttftP95Ms: 100 } } }, 'verify.latency: time to first token and between tokens (ttftP50Ms, ttftP95Ms, itlP50Ms, itlP95Ms) are measured on streamed answers: protocol openai (protocol is http)'],
  ['an inter-token bound with protocol v2', { ...base, verify: { requests: [{ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }], expected: {} }], latency: { itlP95Ms: 50 } } }, 'verify.latency: time to first token and between tokens (ttftP50Ms, ttftP95Ms, itlP50Ms, itlP95Ms) are measured on streamed answers: protocol openai (protocol is v2)'],
  ['a request timeout over 10m', { ...base, verify: { timeout: '1h' } }, 'verify.timeout: must be at most 10m'],
  ['a request timeout under 100ms', { ...base, verify: { timeout: '10ms' } }, 'verify.timeout: must be at least 100ms'],
  ['a request timeout with no unit', { ...base, verify: { timeout: '30' } }, 'verify.timeout: must be a duration such as 30s'],
  ['a header name with a space', { ...base, verify: { headers: [{ name: 'Api Key', value: 'x' }] } }, 'verify.headers[0].name: must be an HTTP header name such as Authorization or X-Api-Key'],
  ['a header the request sets itself', { ...base, verify: { headers: [{ name: 'Content-Type', value: 'text/plain' }] } }, 'verify.headers[0].name: must not be one the request sets itself (host, content-length, content-type, connection, transfer-encoding)'],
  ['a header with both a value and a Secret', { ...base, verify: { headers: [{ name: 'Authorization', value: 'x', secretKeyRef: { name: 'k', key: 'token' } }] } }, 'verify.headers[0]: give exactly one of value or secretKeyRef'],
  ['a header value on two lines', { ...base, verify: { headers: [{ name: 'X-Team', value: 'a\r\nHost: evil' }] } }, 'verify.headers[0].value: must be one line'],
  ['a header given twice', { ...base, verify: { headers: [{ name: 'X-Team', value: 'a' }, { name: 'x-team', value: 'b' }] } }, 'verify.headers: names a header twice'],
  ['an ignored field with an empty segment', { ...base, verify: { ignore: ['usage..total'] } }, 'verify.ignore[0]: must be a field name or a dotted path such as usage.total_tokens'],
  ['a drain preset that is not one', { ...base, drain: { inFlight: 'triton' } }, 'drain.inFlight: must be one of vllm, tgi, example, or a list of metric names'],
  ['a drain metric with a dash', { ...base, drain: { inFlight: ['requests-in-flight'] } }, 'drain.inFlight[0]: must be a Prometheus metric name'],
  ['a drain timeout over 6h', { ...base, drain: { timeout: '1d' } }, 'drain.timeout: must be at most 6h'],
  ['a drain metrics path that is not a path', { ...base, drain: { path: 'metrics' } }, 'drain.path: must be an absolute path such as /metrics'],
  ['an unknown drain field', { ...base, drain: { timout: '1m' } }, 'drain.timout: is not a known field'],
  ['a drain Prometheus with neither a query nor inFlight', { ...base, drain: { prometheus: { address: 'http://prometheus.monitoring:9090' } } },
    'drain.prometheus.query: give the query, or drain.inFlight for the ready-made one (the inFlight gauges summed by pod)'],
  ['a drain query naming the release\'s version', { ...base, drain: { prometheus: { address: 'http://p:9090', query: 'sum by (pod) (x{version="{{version}}"})' } } },
    'drain.prometheus.query: names an unknown placeholder; use {{model}}, {{namespace}}, {{service}}, {{slot}}, {{deployment}}'],
  ['a drain Prometheus that is not a URL', { ...base, drain: { inFlight: 'vllm', prometheus: { address: 'prometheus:9090' } } },
    'drain.prometheus.address: must be an http(s) URL such as http://prometheus.monitoring:9090'],
  ['a request timeout that makes verification too long', { ...base, verify: { timeout: '10m', requests: Array.from({ length: 6 }, () => ({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }], expected: {} })) } },
    'verify: its checks may need up to 85 minutes (each request may take 600s), more than the 60 minutes verification may take: send fewer requests, raise latency.concurrency, or lower verify.timeout'],
];

describe('a bad spec is refused with the field, the value and what is allowed', () => {
  it.each(bad)('%s', (_name, input, message) => {
    expect(errorsOf(input).join('\n')).toContain(message);
  });

  it('reports every error at once', () => {
    const errors = errorsOf({ model: 'Bad_Name', replicas: 0, image: '', colour: 'blue' });
    expect(errors).toHaveLength(5);
    expect(errors.map((e) => e.split(':')[0]).sort()).toEqual(['colour', 'image', 'model', 'replicas', 'version']);
  });

  it('refuses YAML alias bombs, oversized files and broken YAML before validation', () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`)].join('\n');
    expect(() => parseSpecText(bomb)).toThrow(/Excessive alias count/);
    expect(() => parseSpecText(`model: fraud\n#${'x'.repeat(300_000)}\n`)).toThrow(/bytes; at most 262144 are allowed/);
    expect(() => parseSpecText('model: [fraud\n')).toThrow(/is not valid YAML or JSON/);
    expect(() => parseSpecText('model: a\nmodel: b\n')).toThrow(/is not valid YAML or JSON/);
  });
});

describe('spec files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bluegreen-spec-'));
  it('inlines templateFrom: the template of a Deployment manifest, without the slot label', () => {
    writeFileSync(join(dir, 'deployment.yaml'), [
      'apiVersion: v1', 'kind: ConfigMap', 'metadata: {name: unrelated}', '---',
      'apiVersion: apps/v1', 'kind: Deployment', 'metadata: {name: model-deploy-blue}',
      'spec:', '  selector: {matchLabels: {app: model, env: blue}}', '  template:',
      '    metadata: {creationTimestamp: null, labels: {app: model, env: blue}}',
      '    spec: {containers: [{name: server, image: "triton:24.01", args: ["--model-repository=/models"]}]}',
    ].join('\n'));
    writeFileSync(join(dir, 'release.yaml'), 'model: triton\nversion: v2\nslotLabel: env\ntemplateFrom: {file: deployment.yaml}\n');
    const spec = loadSpecFile(join(dir, 'release.yaml'));
    expect(spec.templateFrom).toBeUndefined();
    expect(spec.template).toEqual({ metadata: { labels: { app: 'model' } }, spec: { containers: [{ name: 'server', image: 'triton:24.01', args: ['--model-repository=/models'] }] } });
  });

  it('refuses templateFrom a StatefulSet with volumeClaimTemplates, never dropping them', () => {
    writeFileSync(join(dir, 'sts.yaml'), [
      'apiVersion: apps/v1', 'kind: StatefulSet', 'metadata: {name: tgi}',
      'spec:', '  selector: {matchLabels: {app: tgi}}', '  template:',
      '    metadata: {labels: {app: tgi}}',
      '    spec: {containers: [{name: tgi, image: "ghcr.io/huggingface/text-generation-inference:2.4", volumeMounts: [{name: data, mountPath: /data}]}]}',
      '  volumeClaimTemplates: [{metadata: {name: data}, spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 50Gi}}}}]',
    ].join('\n'));
    writeFileSync(join(dir, 'release-sts.yaml'), 'model: tgi\nversion: v2\ntemplateFrom: {file: sts.yaml}\n');
    expect(() => loadSpecFile(join(dir, 'release-sts.yaml'))).toThrow(/templateFrom.file: .*sts.yaml holds StatefulSet tgi with volumeClaimTemplates \(data\), which a Deployment cannot have: create a claim per slot \(name it with \{\{slot\}\}, e.g. data-\{\{slot\}\}\)/);
  });

  it('inlines a golden request\'s bodyFile as its bytes in base64, relative to the spec file', () => {
    const image = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46]);
    writeFileSync(join(dir, 'kitten.jpg'), image);
    writeFileSync(join(dir, 'release-torchserve.yaml'), [
      'model: resnet', 'version: v2', 'image: pytorch/torchserve:0.12.0-cpu',
      'verify:', '  protocol: http', '  path: /predictions/resnet-18',
      '  requests: [{name: kitten, method: PUT, bodyFile: kitten.jpg, contentType: image/jpeg, expected: {tabby: 0.41}, tolerance: 0.01}]',
    ].join('\n'));
    const [request] = loadSpecFile(join(dir, 'release-torchserve.yaml')).verify.requests;
    expect(request).toMatchObject({ method: 'PUT', contentType: 'image/jpeg', bodyBase64: image.toString('base64') });
    expect(request?.bodyFile).toBeUndefined();
    writeFileSync(join(dir, 'release-nofile.yaml'), 'model: resnet\nversion: v2\nverify: {protocol: http, requests: [{bodyFile: gone.jpg, expected: {}}]}\n');
    expect(() => loadSpecFile(join(dir, 'release-nofile.yaml'))).toThrow(/verify.requests\[0\].bodyFile: cannot read .*gone.jpg: ENOENT/);
  });

  it('refuses a file that is not a regular file, or too big, before reading it', () => {
    expect(() => loadSpecFile('/dev/zero')).toThrow(/\/dev\/zero is not a regular file/);
    writeFileSync(join(dir, 'big.yaml'), 'x'.repeat(300_000));
    expect(() => loadSpecFile(join(dir, 'big.yaml'))).toThrow(/is 300000 bytes; at most 262144 are allowed/);
    expect(() => loadSpecFile(join(dir, 'missing.yaml'))).toThrow(/cannot read .*missing.yaml: ENOENT/);
  });

  it('parses every duration form the docs promise', () => {
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('2d12h')).toBe(216_000_000);
    expect(parseDuration('1s500ms')).toBe(1_500);
    expect(parseDuration('90')).toBeUndefined();
  });
});
