// The rules behind the model-aware checks: analysis conditions, the verdict of a
// measurement, breaking signature changes, outputs against a signature,
// percentiles, and the spec's refusals of bad checks.
import { describe, expect, it } from 'vitest';
import { conditionError, parseCondition } from '../../src/release/condition.js';
import { judge } from '../../src/rules/analysis.js';
import { breakingChanges, outputsAgainstSignature, signatureOf, type Signature } from '../../src/rules/signature.js';
import { percentile } from '../../src/rules/compare.js';
import { renderQuery } from '../../src/release/model-checks.js';
import { InvalidSpecError, validateSpec } from '../../src/release/validate.js';

describe('analysis conditions', () => {
  it.each([
    ['result < 0.01', 0.005, true], ['result < 0.01', 0.01, false], ['result <= 0.01', 0.01, true],
    ['result >= 0.95 && result < 2', 1, true], ['result >= 0.95 && result < 2', 2, false],
    ['result < 0.1 || result > 10', 11, true], ['!(result == 0)', 0, false], ['not (result == 0)', 3, true],
    ['result * 100 > 5', 0.06, true], ['result - 1 >= -0.5', 0.5, true], ['result / 2 == 0.25', 0.5, true],
    ['result > 1e-3', 0.01, true], ['result > .5 and result < 1', 0.7, true], ['result == 1 or false', 1, true],
  ])('%s with result %s is %s', (source, result, expected) => {
    expect(parseCondition(source).holds(result)).toBe(expected);
  });

  it.each([
    ['', 'is empty'], ['result <', 'ends too early'], ['result < 0.01 extra', 'unexpected "extra"'],
    ['0.5 < 1', 'never looks at result'], ['result + 1', 'must be a boolean'], ['(result < 1', 'not closed'],
    ['result < 1 && 2', 'must be a boolean'], ['len(result) > 0', 'unexpected "len"'], ['result < 0.01; rm', 'unexpected ";'],
    ['result == true', 'compares a number with a boolean'],
  ])('refuses %j: %s', (source, message) => {
    expect(conditionError(source)).toContain(message);
  });
});

describe('a measurement, judged as Argo Rollouts does', () => {
  it('fails when the failure condition holds, even if the success condition holds too', () => {
    expect(judge({ successCondition: 'result < 1', failureCondition: 'result > 0.05' }, 0.5)).toMatchObject({ phase: 'Failed', value: 0.5 });
  });
  it('with only a success condition, a value that misses it fails', () => {
    expect(judge({ successCondition: 'result < 0.01' }, 0.2).phase).toBe('Failed');
    expect(judge({ successCondition: 'result < 0.01' }, 0).phase).toBe('Successful');
  });
  it('with only a failure condition, a value that misses it passes', () => {
    expect(judge({ failureCondition: 'result > 0.05' }, 0.01).phase).toBe('Successful');
  });
  it('with both and neither holding, or without data, is inconclusive', () => {
    expect(judge({ successCondition: 'result < 0.01', failureCondition: 'result > 0.05' }, 0.03)).toMatchObject({
      phase: 'Inconclusive', detail: expect.stringContaining('neither successCondition'),
    });
    expect(judge({ successCondition: 'result < 0.01' }, 'no data: the query matched no series')).toMatchObject({ phase: 'Inconclusive', detail: 'no data: the query matched no series' });
  });
  it('a probe without conditions passes only when every check does', () => {
    expect(judge({}, 1).phase).toBe('Successful');
    expect(judge({}, 0.5).phase).toBe('Failed');
  });
});

describe('signatures', () => {
  const live: Signature = {
    inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 3] }],
    outputs: [{ name: 'probability', datatype: 'FP32', shape: [-1, 1] }],
  };
  const changed = (patch: Partial<Signature>): Signature => ({ ...live, ...patch });

  it('the same signature, a widened dimension or a new output break nobody', () => {
    expect(breakingChanges(live, live)).toEqual([]);
    expect(breakingChanges(changed({ inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 3] }] }), changed({ inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, -1] }] }))).toEqual([]);
    expect(breakingChanges(live, changed({ outputs: [...live.outputs, { name: 'label', datatype: 'BYTES', shape: [-1] }] }))).toEqual([]);
  });

  it('names each change that breaks callers', () => {
    expect(breakingChanges(live, changed({ inputs: [{ name: 'feats', datatype: 'FP32', shape: [-1, 3] }] }))).toEqual([
      'input features removed', 'input feats added (callers do not send it)',
    ]);
    expect(breakingChanges(live, changed({ inputs: [{ name: 'features', datatype: 'FP64', shape: [-1, 3] }] }))).toEqual(['input features datatype FP32 -> FP64']);
    expect(breakingChanges(live, changed({ inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 4] }] }))).toEqual(['input features shape [-1,3] -> [-1,4]']);
    expect(breakingChanges(live, changed({ inputs: [{ name: 'features', datatype: 'FP32', shape: [3] }] }))).toEqual(['input features shape [-1,3] -> [3]']);
    expect(breakingChanges(live, changed({ outputs: [] }))).toEqual(['output probability removed']);
    expect(breakingChanges(live, changed({ outputs: [{ name: 'probability', datatype: 'FP32', shape: [-1, 2] }] }))).toEqual(['output probability shape [-1,1] -> [-1,2]']);
  });

  it('reads model metadata, and says what is wrong with metadata that is not a signature', () => {
    expect(signatureOf({ name: 'fraud', ...live, platform: 'x' })).toEqual(live);
    expect(signatureOf({ inputs: [{ name: 'x' }], outputs: [] })).toMatch(/inputs include .* not \{ name, datatype, shape \}/);
    expect(signatureOf({ error: 'no model' })).toBe('model metadata is an error: no model');
  });

  it('reads a side the metadata leaves out or lists empty as not declared, as MLServer and KServe answer, and compares nothing against it', () => {
    // MLServer 1.7's answer for a scikit-learn model whose model-settings.json declares no tensors.
    const mlserver = signatureOf({ name: 'iris', versions: [], platform: '', inputs: [], outputs: [], parameters: { content_type: 'np' } });
    expect(mlserver).toEqual({ inputs: [], outputs: [], undeclared: { inputs: true, outputs: true } });
    const undeclared = mlserver as Signature;
    expect(signatureOf({ name: 'iris' })).toEqual(undeclared);
    const predict = { outputs: [{ name: 'predict', datatype: 'INT64', shape: [3, 1], data: [0, 1, 2] }] };
    expect(outputsAgainstSignature(predict, undeclared)).toBeUndefined();
    // Nothing declared live: nothing to break. Declared live, not any more: callers cannot be shown safe.
    expect(breakingChanges(undeclared, live)).toEqual([]);
    expect(breakingChanges(undeclared, undeclared)).toEqual([]);
    expect(breakingChanges(live, { ...live, outputs: [], undeclared: { outputs: true } })).toEqual(['outputs no longer declared (the live model declares probability FP32[-1,1])']);
    expect(signatureOf({ inputs: {}, outputs: [] })).toMatch(/inputs is \{\}, not a list/);
  });

  it('checks an answer\'s outputs against the signature', () => {
    const answer = (o: object) => ({ outputs: [{ name: 'probability', datatype: 'FP32', shape: [2, 1], data: [0.1, 0.2], ...o }] });
    expect(outputsAgainstSignature(answer({}), live)).toBeUndefined();
    expect(outputsAgainstSignature(answer({ name: 'score' }), live)).toContain('output score is not in the model\'s signature');
    expect(outputsAgainstSignature(answer({ datatype: 'FP64' }), live)).toBe('output probability: datatype FP64, the signature says FP32');
    expect(outputsAgainstSignature(answer({ shape: [2] }), live)).toBe('output probability: shape [2] does not fit the signature\'s [-1,1]');
    expect(outputsAgainstSignature(answer({ data: [0.1] }), live)).toBe('output probability: shape [2,1] holds 2 values, the answer has 1');
  });
});

describe('figures and queries', () => {
  it('percentiles by nearest rank', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(sorted, 50), percentile(sorted, 95), percentile(sorted, 99), percentile(sorted, 100)]).toEqual([50, 95, 99, 100]);
    expect(percentile([7], 95)).toBe(7);
  });

  it('fills the placeholders of a query', () => {
    expect(renderQuery('sum(rate(x{version="{{version}}",slot="{{ slot }}"}[1m]))', { model: 'm', namespace: 'n', service: 's', version: 'v2', slot: 'green', deployment: 'd' }))
      .toBe('sum(rate(x{version="v2",slot="green"}[1m]))');
  });
});

describe('the spec of the checks', () => {
  const base = { model: 'fraud', version: 'v2', image: 'x:1' };
  const errors = (spec: object): string[] => {
    try {
      validateSpec({ ...base, ...spec });
      return [];
    } catch (err) {
      return (err as InvalidSpecError).errors.map((e) => `${e.field}: ${e.message}`);
    }
  };

  it('accepts every check at once', () => {
    expect(errors({
      verify: {
        requests: [{ inputs: [{ name: 'features', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }], expected: { probability: [0.5] } }],
        latency: { requests: 50, concurrency: 4, p50Ms: 50, p95Ms: 200 }, shadow: { minAgreement: 0.95 }, allowSignatureChange: false,
      },
      monitor: {
        analysis: [
          { name: 'error-rate', provider: { prometheus: { address: 'http://127.0.0.1:9090', query: 'sum(rate(model_requests_total{version="{{version}}",outcome="error"}[30s]))' } }, successCondition: 'result < 0.01', failureCondition: 'result > 0.05', interval: '10s', count: 6, failureLimit: 1, inconclusiveLimit: 1, initialDelay: '1m30s' },
          { name: 'golden', provider: { probe: {} } },
        ],
      },
    })).toEqual([]);
  });

  it('names each bad field', () => {
    expect(errors({
      verify: { requests: [{ inputs: [{ name: 'f', shape: [1], datatype: 'FP32', data: [1] }], expected: {} }], latency: { requests: 10 }, shadow: { minAgreement: 1.5 } },
      monitor: {
        analysis: [
          { name: 'Error Rate', provider: { prometheus: { address: 'prometheus:9090', query: 'x{v="{{ver}}"}' } }, successCondition: 'result <' },
          { name: 'p', provider: { datadog: {} } },
          { name: 'q', provider: { prometheus: { address: 'http://p:9090', query: 'up' } } },
          { name: 'q', provider: { probe: {} }, interval: 'soon' },
        ],
      },
    })).toEqual(expect.arrayContaining([
      'verify.latency: give at least one bound: p50Ms, p95Ms, p99Ms, ttftP50Ms, ttftP95Ms, itlP50Ms or itlP95Ms',
      'verify.shadow.minAgreement: Too big: expected number to be <=1',
      'monitor.analysis[0].name: must be a DNS-1123 label such as error-rate',
      'monitor.analysis[0].provider.prometheus.address: must be an http(s) URL such as http://prometheus.monitoring:9090',
      expect.stringMatching(/^monitor\.analysis\[0\]\.provider\.prometheus\.query: names an unknown placeholder; use \{\{model\}\}/),
      'monitor.analysis[0].successCondition: is not a condition: ends too early (e.g. "result < 0.01")',
      'monitor.analysis[1].provider: must be { prometheus: { address, query } } or { probe: {} }',
      'monitor.analysis[2].successCondition: give successCondition, failureCondition or both for a prometheus metric',
      expect.stringMatching(/^monitor\.analysis\[3\]\.interval: must be a duration/),
    ]));
  });

  it('refuses two metrics of one name', () => {
    const metric = { name: 'golden', provider: { probe: {} } };
    expect(errors({ monitor: { analysis: [metric, metric] } })).toEqual(['monitor.analysis[1].name: is given twice']);
  });

  it('asks for inputs to send', () => {
    expect(errors({ verify: { latency: { p95Ms: 100 }, shadow: { minAgreement: 0.9 } } })).toEqual([
      'verify.latency: needs golden requests (verify.requests) to send',
      'verify.shadow: needs inputs: golden requests (verify.requests), shadow.inputs or shadow.inputsFile',
    ]);
  });
});
