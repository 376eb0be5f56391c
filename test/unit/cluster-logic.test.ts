// Pure cluster decisions: what preflight refuses, when a rollout is done or failed,
// what EndpointSlices hold, and how answers compare.
import { describe, expect, it } from 'vitest';
import type { V1Deployment, V1EndpointSlice, V1Pod, V1Service } from '@kubernetes/client-node';
import { RefusedError, candidateDeployment, endpointsState, planRelease, rolloutState } from '../../src/activities/cluster-logic.js';
import { compareJson } from '../../src/activities/verify.js';
import { validateSpec } from '../../src/release/validate.js';
import { targetOf } from '../../src/release/target.js';

const spec = validateSpec({ model: 'fraud', namespace: 'ml', version: 'v2', image: 'fraud:2', replicas: 2 });
const t = targetOf(spec);
const service = (selector: Record<string, string>): V1Service => ({ spec: { selector } });
const deployment = (version: string): V1Deployment => ({ metadata: { labels: { 'bluegreen.dev/version': version } } });

describe('planRelease', () => {
  it('puts the candidate into the slot the Service does not select', () => {
    expect(planRelease(t, { service: service({ slot: 'blue' }), preview: service({ slot: 'blue' }), slots: { blue: deployment('v1') } }))
      .toEqual({ oldSlot: 'blue', candidateSlot: 'green', previewBefore: 'blue' });
  });
  it('bootstraps into blue when there is no Service', () => {
    expect(planRelease(t, { slots: {} })).toEqual({ oldSlot: undefined, candidateSlot: 'blue', previewBefore: null });
  });
  it.each([
    ['a leftover candidate slot', { service: service({ slot: 'blue' }), slots: { blue: deployment('v1'), green: deployment('v0') } }, 'Deployment ml/fraud-green (version v0) exists beside the live blue slot'],
    ['a selector without the slot label', { service: service({ app: 'fraud' }), slots: {} }, 'has no "slot" label (is slotLabel right?'],
    ['a selector on an unknown slot', { service: service({ slot: 'red' }), slots: {} }, 'its selector has slot=red; expected blue or green'],
    ['a live slot without its Deployment', { service: service({ slot: 'green' }), slots: {} }, 'selects green but Deployment ml/fraud-green does not exist'],
    ['slots but no Service', { slots: { green: deployment('v1') } }, 'does not exist but Deployment ml/fraud-green does'],
  ])('refuses %s', (_name, observed, message) => {
    expect(() => planRelease(t, observed)).toThrow(RefusedError);
    expect(() => planRelease(t, observed)).toThrow(message);
  });
});

describe('rolloutState', () => {
  const d = (status: V1Deployment['status'], generation = 2): V1Deployment => ({ metadata: { name: 'fraud-green', generation }, spec: { replicas: 2, selector: {}, template: {} }, status });
  const pod = (reason: string): V1Pod => ({ metadata: { name: 'fraud-green-abc' }, status: { containerStatuses: [{ name: 'model-server', image: 'x', imageID: '', ready: false, restartCount: 3, state: { waiting: { reason, message: 'back-off' } } }] } });
  it('is done when every replica of the observed generation is available', () => {
    expect(rolloutState(d({ observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2 }), [])).toEqual({ done: true, ready: 2, total: 2 });
    expect(rolloutState(d({ observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 }), []).done).toBe(false);
    expect(rolloutState(d({ observedGeneration: 2, replicas: 3, updatedReplicas: 2, availableReplicas: 2 }), []).done).toBe(false);
  });
  it.each(['ImagePullBackOff', 'ErrImagePull', 'CrashLoopBackOff', 'InvalidImageName', 'CreateContainerConfigError'])('fails at once on %s, naming the pod', (reason) => {
    expect(rolloutState(d({}), [pod(reason)]).failure).toBe(`pod fraud-green-abc container model-server: ${reason} (back-off)`);
  });
  it('does not fail on a container that is merely starting', () => {
    expect(rolloutState(d({}), [pod('ContainerCreating')]).failure).toBeUndefined();
  });
  it('fails on ProgressDeadlineExceeded', () => {
    const stalled = d({ conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet has timed out progressing.' }] });
    expect(rolloutState(stalled, []).failure).toBe('fraud-green: ProgressDeadlineExceeded (ReplicaSet has timed out progressing.)');
  });
});

describe('endpointsState', () => {
  const pods: V1Pod[] = [
    { metadata: { name: 'b1', labels: { slot: 'blue' } } },
    { metadata: { name: 'g1', labels: { slot: 'green' } } },
    { metadata: { name: 'g2', labels: { slot: 'green' } } },
  ];
  const slice = (...eps: [string, boolean][]): V1EndpointSlice => ({ addressType: 'IPv4', endpoints: eps.map(([name, ready]) => ({ addresses: ['10.0.0.1'], conditions: { ready }, targetRef: { kind: 'Pod', name } })) });
  it('counts ready pods of the slot and names pods of others', () => {
    expect(endpointsState([slice(['g1', true], ['g2', false])], pods, 'slot', 'green')).toEqual({ ready: 1, strangers: [] });
    expect(endpointsState([slice(['g1', true]), slice(['b1', true])], pods, 'slot', 'green')).toEqual({ ready: 1, strangers: ['b1'] });
    expect(endpointsState([slice(['unknown', true])], pods, 'slot', 'green').strangers).toEqual(['unknown']);
  });
});

describe('candidateDeployment', () => {
  it('labels pods with the slot and version and selects on slot only', () => {
    const d = candidateDeployment(spec, t, 'green', 'bluegreen/ml/fraud/run-1', 1);
    expect(d.spec?.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'fraud', slot: 'green' });
    expect(d.spec?.template.metadata?.labels).toMatchObject({ slot: 'green', 'bluegreen.dev/version': 'v2', 'app.kubernetes.io/managed-by': 'bluegreen' });
    expect(d.metadata?.annotations?.['bluegreen.dev/release']).toBe('bluegreen/ml/fraud/run-1');
    expect(d.spec?.replicas).toBe(1);
  });
});

describe('compareJson', () => {
  it('compares numbers within tolerance, deeply', () => {
    expect(compareJson({ y: [0.5, 1] }, { y: [0.5004, 1], extra: true }, 0.001, '')).toBeUndefined();
    expect(compareJson({ y: [0.5] }, { y: [0.6] }, 0.001, '')).toBe('y[0]: expected 0.5 ± 0.001, got 0.6');
    expect(compareJson(['a'], ['a', 'b'], 0, '')).toBe('the answer: expected 1 items, got 2');
    expect(compareJson({ label: 'cat' }, { label: 'dog' }, 0, '')).toBe('label: expected "cat", got "dog"');
  });
});
