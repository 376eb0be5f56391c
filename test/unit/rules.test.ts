// The rules (src/rules/) as tables of cases: what preflight refuses, when a rollout is done or failed,
// what EndpointSlices hold, and how answers compare.
import { describe, expect, it } from 'vitest';
import type { V1Deployment, V1EndpointSlice, V1Node, V1ObjectMeta, V1Pod, V1PodSpec, V1Service } from '@kubernetes/client-node';
import { excludedBy, podRequests, quantity, refuseNoRoom } from '../../src/rules/capacity.js';
import { candidateDeployment, imageRepository } from '../../src/rules/objects.js';
import type { Listed } from '../../src/rules/around.js';
import { candidateName, planRelease, type Observed } from '../../src/rules/plan.js';
import { RefusedError } from '../../src/rules/refused.js';
import { endpointsState, probeWarnings, rolloutState, startupBudgetSeconds } from '../../src/rules/rollout.js';
import { checkStepped, peakPods, podsBesideLive, sharedSelector, stepsOf } from '../../src/rules/steps.js';
import { servicesOnlyOn } from '../../src/rules/selectors.js';
import { decideSwitch, minReadyOf } from '../../src/rules/switch.js';
import { analysisWarnings, trafficShareCheck, verdictOf } from '../../src/rules/analysis.js';
import { latencyVerdict } from '../../src/rules/verdicts.js';
import { compareJson, textSimilarity, withoutFields } from '../../src/rules/compare.js';
import { judgeCompletion, tokenTimings } from '../../src/rules/completion.js';
import { drainDetail, drainWarnings, inFlightQuery, metricSum, valuesByPod } from '../../src/rules/drain.js';
import { inFlightMetrics } from '../../src/release/drain.js';
import type { Fetch } from '../../src/activities/http.js';
import type { AnalysisResult } from '../../src/release/status.js';
import { probeModel } from '../../src/activities/model-checks.js';
import { validateSpec } from '../../src/release/validate.js';
import { targetOf } from '../../src/release/target.js';

const spec = validateSpec({ model: 'fraud', namespace: 'ml', version: 'v2', image: 'fraud:2', replicas: 2 });
const t = targetOf(spec);

const svc = (name: string, selector: Record<string, string>, labels?: Record<string, string>): V1Service => ({ metadata: { name, labels }, spec: { selector } });
const dep = (name: string, labels: Record<string, string>, version = 'v1'): V1Deployment => ({
  metadata: { name, labels: { 'bluegreen.dev/version': version } },
  spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'server', image: 'fraud:1', ports: [{ name: 'web', containerPort: 9000 }] }] } } },
});
const observed = (o: Partial<Observed>): Observed => ({ deployments: [], services: [], ...o });

// An unslotted setup as the published vLLM one: Service `app: vllm` in front of Deployment `vllm`.
const unslottedDep: V1Deployment = { ...dep('vllm', { app: 'vllm' }), metadata: { name: 'vllm', uid: 'd1' } };
/** The pods and ReplicaSets the Service selects: one pod per hash listed, each through the ReplicaSet of its hash. */
function selectedOf(hashes: string[], strangers: V1Pod[] = []): NonNullable<Observed['selected']> {
  const sets = [...new Set(hashes)].map((h) => ({ metadata: { name: `vllm-${h}`, uid: `rs-${h}`, labels: { app: 'vllm', 'pod-template-hash': h }, ownerReferences: [{ kind: 'Deployment', name: 'vllm', uid: 'd1', controller: true, apiVersion: 'apps/v1' }] } }));
  const pods = hashes.map((h, i): V1Pod => ({ metadata: { name: `vllm-${h}-${i}`, labels: { app: 'vllm', 'pod-template-hash': h }, ownerReferences: [{ kind: 'ReplicaSet', name: `vllm-${h}`, uid: `rs-${h}`, controller: true, apiVersion: 'apps/v1' }] } }));
  return { pods: [...pods, ...strangers], sets };
}

describe('planRelease', () => {
  it('adopts an unslotted setup: the live Service narrowed to the live ReplicaSet\'s pods, the candidate with the slot label', () => {
    const s = validateSpec({ model: 'vllm', namespace: 'ml', version: 'v2', image: 'vllm/vllm-openai:v0.9.0' });
    const plan = planRelease(s, targetOf(s), observed({ service: svc('vllm', { app: 'vllm' }), deployments: [unslottedDep], selected: selectedOf(['abc', 'abc']) }));
    expect(plan).toMatchObject({
      oldSlot: 'blue', candidateSlot: 'green',
      live: { slot: 'blue', deployment: 'vllm', selector: { app: 'vllm', 'pod-template-hash': 'abc' }, unslotted: { app: 'vllm' }, adopted: true },
      candidate: { slot: 'green', deployment: 'vllm-green', selector: { app: 'vllm', slot: 'green' } },
    });
    expect(plan.object.spec?.selector.matchLabels).toEqual({ app: 'vllm', slot: 'green' });
    expect(plan.object.spec?.template.metadata?.labels).not.toHaveProperty('pod-template-hash');
  });


  it('bootstraps into blue when there is no Service, with its own selector and the container\'s ports', () => {
    const plan = planRelease(spec, t, observed({}));
    expect(plan).toMatchObject({
      oldSlot: undefined, candidateSlot: 'blue', previewBefore: null,
      candidate: { slot: 'blue', deployment: 'fraud-blue', selector: { 'bluegreen.dev/service': 'fraud', slot: 'blue' } },
      ports: [{ name: 'http', port: 8080, targetPort: 8080 }], port: 8080,
    });
    expect(plan.live).toBeUndefined();
  });

  it('adopts the one Deployment the live Service selects, whatever its name, and flips only the slot', () => {
    const live = svc('fraud', { app: 'model', env: 'blue' });
    live.spec!.ports = [{ name: 'http', port: 80, targetPort: 'web' as never }];
    const s = validateSpec({ model: 'fraud', namespace: 'ml', version: 'v2', image: 'fraud:2', slotLabel: 'env' });
    const plan = planRelease(s, targetOf(s), observed({ service: live, deployments: [dep('model-deploy-blue', { app: 'model', env: 'blue' }), dep('other', { app: 'other' })] }));
    expect(plan).toMatchObject({
      oldSlot: 'blue', candidateSlot: 'green',
      live: { slot: 'blue', deployment: 'model-deploy-blue', selector: { app: 'model', env: 'blue' }, adopted: true },
      candidate: { slot: 'green', deployment: 'model-deploy-green', selector: { app: 'model', env: 'green' } },
      ports: [{ name: 'http', port: 80, targetPort: 'web' }], port: 80,
    });
    const template = plan.object.spec?.template;
    expect(template?.metadata?.labels).toMatchObject({ app: 'model', env: 'green', 'bluegreen.dev/version': 'v2', 'bluegreen.dev/service': 'fraud' });
    expect(template?.spec?.containers[0]).toMatchObject({ name: 'server', image: 'fraud:2', ports: [{ name: 'web', containerPort: 9000 }] });
    expect(plan.object.spec?.selector.matchLabels).toEqual({ app: 'model', env: 'green' });
  });

  it('finds the live Deployment\'s HPA and ScaledObject (their bounds), refuses replicas outside them, and names a VPA in Auto mode', () => {
    const live = svc('fraud', { app: 'fraud', slot: 'blue' });
    const deployments = [dep('fraud-blue', { app: 'fraud', slot: 'blue' })];
    const autoscalers = [
      { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'fraud' }, spec: { scaleTargetRef: { kind: 'Deployment', name: 'fraud-blue' }, minReplicas: 2, maxReplicas: 6 } },
      { apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', metadata: { name: 'fraud-queue' }, spec: { scaleTargetRef: { name: 'fraud-blue' }, maxReplicaCount: 8 } },
      { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'other' }, spec: { scaleTargetRef: { kind: 'Deployment', name: 'other' }, maxReplicas: 3 } },
      { apiVersion: 'autoscaling.k8s.io/v1', kind: 'VerticalPodAutoscaler', metadata: { name: 'fraud-vpa' }, spec: { targetRef: { kind: 'Deployment', name: 'fraud-blue' } } },
    ];
    const plan = planRelease(validateSpec({ model: 'fraud', namespace: 'ml', version: 'v2', image: 'fraud:2' }), t, observed({ service: live, deployments, around: autoscalers }));
    expect(plan.autoscalers).toEqual([
      { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name: 'fraud', min: 2, max: 6 },
      { apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', name: 'fraud-queue', min: 0, max: 8 },
    ]);
    expect(plan.warnings).toEqual(['VerticalPodAutoscaler fraud-vpa (updateMode Auto) targets Deployment fraud-blue by name: it does not follow the release to fraud-green; point it there after the release']);
    expect(() => planRelease(validateSpec({ model: 'fraud', namespace: 'ml', version: 'v2', image: 'fraud:2', replicas: 7 }), t, observed({ service: live, deployments, around: autoscalers })))
      .toThrow("replicas (7) is outside HorizontalPodAutoscaler fraud's 2..6, which scales the live Deployment");
  });

  it('names a PodDisruptionBudget or NetworkPolicy that selects the live pods by the slot label; one on the app label covers both slots', () => {
    const live = svc('fraud', { app: 'fraud', slot: 'blue' });
    const around: Listed[] = [
      { kind: 'PodDisruptionBudget', metadata: { name: 'fraud-blue-pdb' }, spec: { selector: { matchLabels: { app: 'fraud', slot: 'blue' } } } },
      { kind: 'PodDisruptionBudget', metadata: { name: 'fraud-pdb' }, spec: { selector: { matchLabels: { app: 'fraud' } } } },
      { kind: 'NetworkPolicy', metadata: { name: 'fraud-ingress' }, spec: { podSelector: { matchLabels: { slot: 'blue', app: 'fraud' } } } },
      { kind: 'PodDisruptionBudget', metadata: { name: 'other' }, spec: { selector: { matchLabels: { app: 'other', slot: 'blue' } } } },
    ];
    const plan = planRelease(spec, t, observed({ service: live, deployments: [dep('fraud-blue', { app: 'fraud', slot: 'blue' })], around }));
    expect(plan.warnings).toEqual([
      'PodDisruptionBudget fraud-blue-pdb selects the live pods by slot=blue: it will not cover the candidate\'s pods after the switch; select them without slot (the candidate carries the live pods\' other labels)',
      'NetworkPolicy fraud-ingress selects the live pods by slot=blue: it will not cover the candidate\'s pods after the switch; select them without slot (the candidate carries the live pods\' other labels)',
    ]);
  });

  it('shared claims and host ports: a one-node claim or a host port both slots hold is refused; {{slot}} gives each slot its own claim', () => {
    const withVolumes = (claim: string, hostPort?: number): V1Deployment => {
      const d = dep('fraud-blue', { app: 'fraud', slot: 'blue' });
      d.spec!.template.spec!.volumes = [{ name: 'cache', persistentVolumeClaim: { claimName: claim } }];
      if (hostPort !== undefined) d.spec!.template.spec!.containers[0]!.ports = [{ name: 'web', containerPort: 9000, hostPort }];
      return d;
    };
    const claim = (name: string, mode: string) => ({ metadata: { name }, spec: { accessModes: [mode] } });
    const live = svc('fraud', { app: 'fraud', slot: 'blue' });
    const plan = (d: V1Deployment, claims: ReturnType<typeof claim>[], more: Record<string, unknown> = {}) =>
      planRelease(validateSpec({ model: 'fraud', namespace: 'ml', version: 'v2', image: 'fraud:2', ...more }), t, observed({ service: live, deployments: [d], claims }));
    expect(() => plan(withVolumes('model-cache'), [claim('model-cache', 'ReadWriteOnce')]))
      .toThrow('the candidate would mount PersistentVolumeClaim model-cache (ReadWriteOnce), which the live pods hold and which attaches to one node at a time');
    expect(plan(withVolumes('model-cache'), [claim('model-cache', 'ReadOnlyMany')]).object.spec?.template.spec?.volumes?.[0]?.persistentVolumeClaim?.claimName).toBe('model-cache');
    expect(() => plan(withVolumes('model-cache', 8000), [claim('model-cache', 'ReadWriteMany')]))
      .toThrow('the candidate\'s pods would hold host port 8000, which the live pods hold');
    const template = { metadata: { labels: { app: 'fraud' } }, spec: { containers: [{ name: 'server', image: 'fraud:2' }], volumes: [{ name: 'cache', persistentVolumeClaim: { claimName: 'model-cache-{{slot}}' } }] } };
    const perSlot = plan(withVolumes('model-cache-blue'), [claim('model-cache-blue', 'ReadWriteOnce'), claim('model-cache-green', 'ReadWriteOnce')], { image: undefined, template });
    expect(perSlot.object.spec?.template.spec?.volumes?.[0]?.persistentVolumeClaim?.claimName).toBe('model-cache-green');
  });

  it.each([
    ['a leftover candidate Deployment', observed({ service: svc('fraud', { slot: 'blue' }), deployments: [dep('fraud-blue', { slot: 'blue' }), dep('fraud-green', { slot: 'green' }, 'v0')] }), 'Deployment ml/fraud-green (version v0) exists beside the live blue slot'],
    ['a selector without the slot label that selects no Deployment', observed({ service: svc('fraud', { app: 'fraud' }) }), 'selects {"app":"fraud"} but no Deployment\'s pod template carries those labels'],
    ['an unslotted Service that also selects pods of something else',
      observed({ service: svc('vllm', { app: 'vllm' }), deployments: [unslottedDep], selected: selectedOf(['abc', 'abc'], [{ metadata: { name: 'debug', labels: { app: 'vllm' } } }]) }),
      'Service ml/fraud (selector {"app":"vllm"}, no "slot" label) also selects pods that are not Deployment vllm\'s: debug (no owner)'],
    ['an unslotted Service in front of a Deployment in the middle of a rollout',
      observed({ service: svc('vllm', { app: 'vllm' }), deployments: [unslottedDep], selected: selectedOf(['abc', 'def']) }),
      'Deployment vllm is in the middle of a rollout (pods of 2 ReplicaSets); start the release once it is done'],
    ['a selector on an unknown slot', observed({ service: svc('fraud', { slot: 'red' }) }), 'its selector has slot=red; expected blue or green'],
    ['a live Service whose selector matches no Deployment', observed({ service: svc('fraud', { slot: 'green' }), deployments: [dep('x', { app: 'x' })] }), 'selects {"slot":"green"} but no Deployment\'s pod template carries those labels (Deployments here: x)'],
    ['a live Service whose selector matches two Deployments', observed({ service: svc('fraud', { slot: 'blue' }), deployments: [dep('a', { slot: 'blue', v: '1' }), dep('b', { slot: 'blue', v: '2' })] }), 'matches the pods of several Deployments (a, b)'],
    ['a first release with neither image nor template', observed({}), 'a first release of ml/fraud needs an image or a template', { image: undefined }],
    ['slots but no Service', observed({ deployments: [dep('fraud-green', { slot: 'green' })] }), 'does not exist but Deployment ml/fraud-green does'],
    ['a preview Service Bluegreen did not create', observed({ preview: svc('fraud-preview', { app: 'x' }) }), 'Service ml/fraud-preview exists and is not Bluegreen\'s preview for fraud'],
    ['another Service that would select the candidate only', observed({ services: [svc('fraud-eu', { 'bluegreen.dev/service': 'fraud' })] }), 'would also be selected by Service fraud-eu'],
    ['a second Service on the live slot (it would be left on the old slot, then emptied)',
      observed({ service: svc('fraud', { app: 'fraud', slot: 'blue' }), deployments: [dep('fraud-blue', { app: 'fraud', slot: 'blue' })], services: [svc('fraud', { app: 'fraud', slot: 'blue' }), svc('fraud-grpc', { app: 'fraud', slot: 'blue' })] }),
      'Service fraud-grpc {"app":"fraud","slot":"blue"} in ml also selects the live slot\'s pods (slot=blue) but not the candidate\'s: after the switch it would keep serving blue, and deleting fraud-blue would leave it with no endpoints'],
    ['switch.minReady above the replicas', observed({}), 'switch.minReady (3) is more than the 2 replicas', { switch: { minReady: 3 } }],
  ] as [string, Observed, string, Record<string, unknown>?][])('refuses %s', (_name, o, message, more) => {
    const s = more === undefined ? spec : { ...spec, ...more } as typeof spec;
    expect(() => planRelease(s, t, o)).toThrow(RefusedError);
    expect(() => planRelease(s, t, o)).toThrow(message);
  });

  it('serves with the live Deployment\'s replicas unless the spec sets them, and refuses a larger previewReplicas', () => {
    const o = observed({ service: svc('fraud', { slot: 'blue' }), deployments: [{ ...dep('fraud-blue', { slot: 'blue' }), spec: { ...dep('fraud-blue', { slot: 'blue' }).spec!, replicas: 5 } }] });
    const unsized = validateSpec({ model: 'fraud', namespace: 'ml', version: 'v2', image: 'fraud:2' });
    const plan = planRelease(unsized, t, o);
    expect(plan.replicas).toBe(5);
    expect(plan.object.spec?.replicas).toBe(5);
    expect(planRelease(unsized, t, observed({})).replicas).toBe(1);
    expect(planRelease({ ...unsized, replicas: 3 }, t, o).replicas).toBe(3);
    expect(planRelease({ ...unsized, previewReplicas: 2 }, t, o).object.spec?.replicas).toBe(2);
    expect(() => planRelease({ ...unsized, previewReplicas: 6 }, t, o)).toThrow("previewReplicas (6) is more than the 5 replicas the candidate serves with (the live Deployment's)");
  });

  it('lets a Service that already selects the live pods (metrics) keep selecting the candidate too', () => {
    const o = observed({ service: svc('fraud', { app: 'model', slot: 'blue' }), deployments: [dep('m-blue', { app: 'model', slot: 'blue' })], services: [svc('metrics', { app: 'model' })] });
    expect(planRelease(spec, t, o).candidate.deployment).toBe('m-green');
  });

  it('derives candidate names from the live name, else from the service', () => {
    expect(candidateName(t, 'model-deploy-blue', 'blue')).toBe('model-deploy-green');
    expect(candidateName(t, 'blue-model', 'blue')).toBe('green-model');
    expect(candidateName(t, 'model-v1', 'green')).toBe('fraud-blue');
    expect(candidateName(t, undefined, undefined)).toBe('fraud-blue');
  });

  it('takes a preview Service as Bluegreen 0.1 left it (no service label) for its own', () => {
    const v01 = { 'app.kubernetes.io/managed-by': 'bluegreen', 'app.kubernetes.io/name': 'fraud' };
    const o = observed({ preview: svc('fraud-preview', { 'app.kubernetes.io/name': 'fraud', slot: 'green' }, v01) });
    expect(planRelease(spec, t, o).previewBefore).toEqual({ 'app.kubernetes.io/name': 'fraud', slot: 'green' });
    // Another model's 0.1 preview under this name is not taken.
    const other = observed({ preview: svc('fraud-preview', { x: 'y' }, { ...v01, 'app.kubernetes.io/name': 'search' }) });
    expect(() => planRelease(spec, t, other)).toThrow("is not Bluegreen's preview for fraud");
  });

  it('points a known preview Service back at exactly what it selected', () => {
    const own = { 'app.kubernetes.io/managed-by': 'bluegreen', 'bluegreen.dev/service': 'fraud' };
    expect(planRelease(spec, t, observed({ preview: svc('fraud-preview', { custom: 'x' }, own) })).previewBefore).toEqual({ custom: 'x' });
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
  it.each(['ImagePullBackOff', 'CrashLoopBackOff', 'InvalidImageName'])('fails at once on %s, naming the pod', (reason) => {
    expect(rolloutState(d({}), [pod(reason)]).failure).toBe(`pod fraud-green-abc container model-server: ${reason} (back-off)`);
  });
  it.each(['ErrImagePull', 'CreateContainerConfigError'])('keeps waiting on %s, which the kubelet retries', (reason) => {
    expect(rolloutState(d({}), [pod(reason)]).failure).toBeUndefined();
  });
  it('does not fail on a container that is merely starting', () => {
    expect(rolloutState(d({}), [pod('ContainerCreating')]).failure).toBeUndefined();
  });
  it('carries the scheduler\'s message for a pod it cannot place', () => {
    const pending: V1Pod = { metadata: { name: 'fraud-green-abc' }, status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/12 nodes are available: 3 Insufficient nvidia.com/gpu, 9 node(s) didn\'t match Pod\'s node affinity/selector.' }] } };
    expect(rolloutState(d({ observedGeneration: 2, replicas: 2, availableReplicas: 1 }), [pending])).toEqual({
      done: false, ready: 1, total: 2, unschedulable: '0/12 nodes are available: 3 Insufficient nvidia.com/gpu, 9 node(s) didn\'t match Pod\'s node affinity/selector.',
    });
  });
  it('fails on ProgressDeadlineExceeded', () => {
    const stalled = d({ conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet has timed out progressing.' }] });
    expect(rolloutState(stalled, []).failure).toBe('fraud-green: ProgressDeadlineExceeded (ReplicaSet has timed out progressing.)');
  });
});

describe('endpointsState', () => {
  const green = new Set(['g1', 'g2']);
  const slice = (...eps: [string, boolean][]): V1EndpointSlice => ({ addressType: 'IPv4', ports: [{ port: 8080 }], endpoints: eps.map(([name, ready]) => ({ addresses: ['10.0.0.1'], conditions: { ready }, targetRef: { kind: 'Pod', name } })) });
  it('counts ready pods of the Deployment and names every other endpoint', () => {
    expect(endpointsState([slice(['g1', true], ['g2', false])], green)).toEqual({ ready: 1, strangers: [] });
    expect(endpointsState([slice(['g1', true]), slice(['b1', true])], green)).toEqual({ ready: 1, strangers: ['b1'] });
    expect(endpointsState([slice(['unknown', true])], green).strangers).toEqual(['unknown']);
  });
  it('does not count endpoints of a slice without ports: they receive no traffic', () => {
    expect(endpointsState([{ ...slice(['g1', true]), ports: [] }], green)).toEqual({ ready: 0, strangers: [] });
  });
  it('takes the latest change time the EndpointSlice controller wrote on any slice', () => {
    const at = (time: string): V1EndpointSlice => ({ ...slice(['g1', true]), metadata: { annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': time } } });
    expect(endpointsState([at('2026-12-04T02:00:00Z'), at('2026-12-04T02:00:07Z'), slice(['g2', true])], green).changedAt).toBe(Date.parse('2026-12-04T02:00:07Z'));
    expect(endpointsState([at('not a time')], green).changedAt).toBeUndefined();
  });
});

describe('candidateDeployment', () => {
  it('owns name, replicas, selector and labels; keeps the rest of the template as given', () => {
    const s = validateSpec({
      model: 'llm', namespace: 'ml', version: 'v2', image: 'vllm/vllm-openai:v0.6.0', args: ['--model', '/models/llama'], rolloutTimeout: '20m',
      template: {
        metadata: { labels: { team: 'search' }, annotations: { 'prometheus.io/scrape': 'true' } },
        spec: {
          containers: [{ name: 'vllm', image: 'vllm/vllm-openai:v0.5.0', ports: [{ name: 'http', containerPort: 8000 }, { name: 'metrics', containerPort: 9090 }], volumeMounts: [{ name: 'shm', mountPath: '/dev/shm' }] }],
          volumes: [{ name: 'shm', emptyDir: { medium: 'Memory' } }],
          tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
        },
      },
    });
    const d = candidateDeployment(s, targetOf(s), { name: 'llm-green', slot: 'green', selector: { app: 'llm', slot: 'green' } }, 1);
    expect(d.spec?.selector.matchLabels).toEqual({ app: 'llm', slot: 'green' });
    expect(d.spec?.replicas).toBe(1);
    expect(d.spec?.progressDeadlineSeconds).toBe(20 * 60 + 60);
    expect(d.spec?.template.metadata).toEqual({
      labels: { team: 'search', app: 'llm', slot: 'green', 'bluegreen.dev/version': 'v2', 'bluegreen.dev/service': 'llm', 'app.kubernetes.io/managed-by': 'bluegreen' },
      annotations: { 'prometheus.io/scrape': 'true' },
    });
    const [c] = d.spec?.template.spec?.containers ?? [];
    expect(c).toMatchObject({ image: 'vllm/vllm-openai:v0.6.0', args: ['--model', '/models/llama'], volumeMounts: [{ name: 'shm', mountPath: '/dev/shm' }] });
    expect(c?.ports).toHaveLength(2);
    expect(c?.readinessProbe?.httpGet).toEqual({ path: '/v2/health/ready', port: 8000 });
    expect(d.spec?.template.spec?.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
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

describe('probing a model server reflects little', () => {
  const spec2 = validateSpec({
    model: 'fraud', version: 'v2', image: 'fraud:2',
    verify: { requests: [{ name: 'row', inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }], expected: { y: [0.5] } }] },
  });
  const answering = (body: string, status = 200): Fetch => async () => new Response(body, { status, headers: { 'content-type': 'application/json' } });

  it('refuses an answer over 1 MiB without holding it', async () => {
    const checks = await probeModel(spec2, { fetch: answering(JSON.stringify({ outputs: [{ name: 'y', data: Array(300_000).fill(0.5) }] })), endpoint: 'http://m' });
    expect(checks[1]).toMatchObject({ name: 'request row', ok: false });
    expect(checks[1]?.detail).toMatch(/answer (of \d+ bytes; at most 1048576 are read|longer than 1048576 bytes)/);
  });

  it('caps the text of a wrong or failed answer at 200 characters', async () => {
    const wrong = await probeModel(spec2, { fetch: answering(JSON.stringify({ outputs: [{ name: 'y', data: 'x'.repeat(5_000) }] })), endpoint: 'http://m' });
    expect(wrong[1]?.ok).toBe(false);
    expect(wrong[1]?.detail.length).toBeLessThanOrEqual(200);
    const failed = await probeModel(spec2, { fetch: async (url) => (String(url).endsWith('/infer') ? new Response('e'.repeat(5_000), { status: 500 }) : new Response('ok')), endpoint: 'http://m' });
    expect(failed[1]?.detail.length).toBeLessThanOrEqual(200);
    expect(failed[1]?.detail).toMatch(/answered HTTP 500: e+\.\.\.$/);
  });
});

describe('long probes heartbeat', () => {
  it('the monitor heartbeats while a slow answer is awaited, so a live worker is not taken for a dead one', async () => {
    const { MockActivityEnvironment } = await import('@temporalio/testing');
    const { createActivities } = await import('../../src/activities/index.js');
    const slow: Fetch = async (url) => {
      if (String(url).endsWith('/infer')) await new Promise((r) => setTimeout(r, 5_000));
      return new Response(JSON.stringify({ outputs: [{ name: 'y', data: [0.5] }] }), { status: 200 });
    };
    const s = validateSpec({
      model: 'slow', version: 'v2', image: 'x:1', monitor: { window: '1s', interval: '1s', initialDelay: '0s', endpoint: 'http://slow.default.svc.cluster.local:8080' },
      verify: { requests: [{ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }], expected: { y: [0.5] } }] },
    });
    const acts = createActivities({ kube: {} as never, fetch: slow });
    const env = new MockActivityEnvironment();
    const beats: number[] = [];
    const details: unknown[] = [];
    const started = Date.now();
    env.on('heartbeat', (d: unknown) => { beats.push(Date.now() - started); details.push(d); });
    const result = await env.run(acts.monitor, { spec: s, port: 8080 }) as { ok: boolean };
    expect(result.ok).toBe(true);
    // A beat every HEARTBEAT_STEP_MS (2 s) during the 5 s answer, besides the one after it.
    expect(beats.filter((ms) => ms < 5_000).length).toBeGreaterThanOrEqual(2);
    // Every beat carries the window's progress, which a new worker resumes from.
    expect(details.every((d) => typeof (d as { startedAt?: number })?.startedAt === 'number')).toBe(true);
  }, 30_000);
});

describe('the switch', () => {
  it('needs the planned size: all replicas, a count or a share (rounded up) of switch.minReady', () => {
    expect(minReadyOf({ switch: {} }, 10)).toBe(10);
    expect(minReadyOf({} as never, 4)).toBe(4); // a spec recorded before the field
    expect(minReadyOf({ switch: { minReady: 3 } }, 10)).toBe(3);
    expect(minReadyOf({ switch: { minReady: '80%' } }, 10)).toBe(8);
    expect(minReadyOf({ switch: { minReady: '50%' } }, 3)).toBe(2);
    expect(minReadyOf({ switch: { minReady: '1%' } }, 3)).toBe(1);
  });

  const pod = (name: string, ready: boolean) => ({
    metadata: { name, ownerReferences: [{ controller: true, uid: 'rs-1', kind: 'ReplicaSet', name: 'rs', apiVersion: 'apps/v1' }] },
    status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  });
  const seen = (ready: number, total: number, more: { back?: boolean; minReady?: number } = {}) => decideSwitch({
    target: t, from: { slot: 'blue', deployment: 'fraud-blue', selector: { slot: 'blue' } }, to: { slot: 'green', deployment: 'fraud-green', selector: { slot: 'green' } },
    service: svc('fraud', { slot: 'blue' }), toDeployment: { metadata: { name: 'fraud-green', uid: 'd-1' } },
    matching: {
      pods: Array.from({ length: total }, (_, i) => pod(`p${i}`, i < ready)) as V1Pod[],
      sets: [{ metadata: { uid: 'rs-1', ownerReferences: [{ controller: true, uid: 'd-1', kind: 'Deployment', name: 'fraud-green', apiVersion: 'apps/v1' }] } }],
    },
    ...more,
  });

  it('refuses to move traffic forward onto fewer ready pods than it needs, naming the numbers; a switch back needs one', () => {
    expect(seen(2, 10, { minReady: 10 })).toEqual({ action: 'refuse', type: 'SwitchRefused', message: 'not switched: 2 pods of Deployment fraud-green are ready, and the switch needs 10 (switch.minReady; default all replicas)' });
    expect(seen(10, 10, { minReady: 10 })).toEqual({ action: 'patch' });
    expect(seen(1, 10, { minReady: 10, back: true })).toEqual({ action: 'patch' });
    expect(seen(0, 3)).toMatchObject({ action: 'refuse', message: expect.stringContaining('matches no ready pod') });
  });

  it('finds the Services a deletion would leave with no endpoints', () => {
    const blue = dep('fraud-blue', { app: 'fraud', slot: 'blue' });
    const green = dep('fraud-green', { app: 'fraud', slot: 'green' });
    const services = [svc('fraud', { app: 'fraud', slot: 'green' }), svc('fraud-grpc', { app: 'fraud', slot: 'blue' }), svc('metrics', { app: 'fraud' })];
    expect(servicesOnlyOn(blue, [blue, green], services).map((s) => s.metadata?.name)).toEqual(['fraud-grpc']);
    expect(servicesOnlyOn(green, [blue, green], services).map((s) => s.metadata?.name)).toEqual(['fraud']);
    expect(servicesOnlyOn(green, [green], services).map((s) => s.metadata?.name)).toEqual(['fraud', 'metrics']);
  });
});

describe('a monitor window judged at its end', () => {
  const probeAnswers: Fetch = async (url) => new Response(JSON.stringify(String(url).endsWith('/infer') ? { outputs: [{ name: 'y', data: [0.5] }] } : {}), { status: 200 });
  const monitorOf = async (monitor: Record<string, unknown>) => {
    const { MockActivityEnvironment } = await import('@temporalio/testing');
    const { createActivities } = await import('../../src/activities/index.js');
    const s = validateSpec({
      model: 'late', version: 'v2', image: 'x:1', monitor: { window: '1s', interval: '1s', endpoint: 'http://late.default.svc.cluster.local:8080', ...monitor },
      verify: { requests: [{ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }], expected: { y: [0.5] } }] },
    });
    const acts = createActivities({ kube: {} as never, fetch: probeAnswers });
    const result = await new MockActivityEnvironment().run(acts.monitor, { spec: s, port: 8080, argoFailureLimit: true }) as AnalysisResult;
    return { spec: s, result };
  };

  it('a metric first due after the window is inconclusive, never a pass, and validate says so before', async () => {
    const { spec: s, result } = await monitorOf({ analysis: [{ name: 'late', provider: { probe: {} }, initialDelay: '10s' }] });
    expect(result).toMatchObject({ ok: true, inconclusive: true, runs: 0 });
    expect(result.checks[0]?.detail).toMatch(/^inconclusive: measured 0 of the 1 times it needs within the window/);
    expect(analysisWarnings(s)).toEqual(['monitor.analysis[0] (late): its first measurement would end 10s into a monitor window of 1s: it is inconclusive and the release waits for a person; lengthen monitor.window or shorten initialDelay, interval or count']);
  }, 15_000);

  it('validate warns of a metric a stepped release\'s step window cannot measure, though the monitor window can', () => {
    const s = validateSpec({
      model: 'm', version: 'v2', image: 'r/m:2', stepped: { extraPods: 1, window: '20s' },
      monitor: { window: '5m', analysis: [{ name: 'errors', provider: { probe: {} }, interval: '15s', count: 3 }] },
    });
    expect(analysisWarnings(s)).toEqual(['monitor.analysis[0] (errors): its 3 measurements (count) would end 35s into a step\'s window of 20s: it is inconclusive and the release waits for a person; lengthen stepped.window or shorten initialDelay, interval or count']);
  });

  it('the default probe is measured once even in a window shorter than its initial delay', async () => {
    const { spec: s, result } = await monitorOf({ initialDelay: '5s' });
    expect(result).toMatchObject({ ok: true, runs: 1 });
    expect(result.inconclusive).toBeUndefined();
    expect(analysisWarnings(s)).toEqual([]);
  }, 15_000);

  it('a metric with a count it cannot reach in the window is inconclusive', () => {
    const metric = { name: 'm', provider: { probe: {} }, failureLimit: 0, inconclusiveLimit: 0, count: 3 } as const;
    const p = { name: 'm', provider: 'probe' as const, measurements: 2, failures: 0, inconclusives: 0, nextAt: 0 };
    expect(verdictOf(metric, p)).toBe('Running');
    expect(verdictOf(metric, p, true)).toBe('Inconclusive');
    expect(verdictOf(metric, { ...p, measurements: 3 }, true)).toBe('Successful');
  });
});

describe('the serving container', () => {
  // A Deployment whose first container is a log shipper, as people run them.
  const sidecarFirst = (image = 'registry.example.com/ml/fraud:v1'): V1Deployment => ({
    metadata: { name: 'fraud-blue' },
    spec: {
      selector: { matchLabels: { app: 'fraud', slot: 'blue' } },
      template: {
        metadata: { labels: { app: 'fraud', slot: 'blue' } },
        spec: { containers: [{ name: 'log-shipper', image: 'fluent/fluent-bit:3.1' }, { name: 'model', image, ports: [{ name: 'http', containerPort: 8080 }] }] },
      },
    },
  });
  const live = (d: V1Deployment) => observed({ service: svc('fraud', { app: 'fraud', slot: 'blue' }), deployments: [d] });
  const withImage = (image: string, more: Record<string, unknown> = {}) => validateSpec({ model: 'fraud', namespace: 'ml', version: 'v2', image, ...more });

  it('is the container whose image repository is the new image\'s, not the first one', () => {
    const plan = planRelease(withImage('registry.example.com/ml/fraud:v2'), t, live(sidecarFirst()));
    expect(plan.object.spec?.template.spec?.containers.map((c) => [c.name, c.image])).toEqual([['log-shipper', 'fluent/fluent-bit:3.1'], ['model', 'registry.example.com/ml/fraud:v2']]);
    expect(plan.port).toBe(8080);
  });

  it('is refused, listing the containers, when no container or several run the new image\'s repository', () => {
    expect(() => planRelease(withImage('registry.example.com/ml/other:v2'), t, live(sidecarFirst()))).toThrow(
      'image registry.example.com/ml/other:v2: no container of the pod template run registry.example.com/ml/other (containers: log-shipper (fluent/fluent-bit:3.1), model (registry.example.com/ml/fraud:v1)): name the serving container with container:');
    expect(() => planRelease(withImage('fluent/fluent-bit:3.2', {}), t, live(sidecarFirst('fluent/fluent-bit:3.1')))).toThrow('2 containers of the pod template run docker.io/fluent/fluent-bit');
    expect(() => planRelease(validateSpec({ model: 'fraud', namespace: 'ml', version: 'v2', args: ['--x'] }), t, live(sidecarFirst()))).toThrow(
      'args set the serving container, and the pod template has 2 (log-shipper (fluent/fluent-bit:3.1), model (registry.example.com/ml/fraud:v1)): name it with container:');
    expect(planRelease(withImage('fluent/fluent-bit:3.2', { container: 'model' }), t, live(sidecarFirst())).object.spec?.template.spec?.containers[1]?.image).toBe('fluent/fluent-bit:3.2');
  });

  it('compares repositories as registries name them', () => {
    expect(imageRepository('fraud')).toBe('docker.io/library/fraud');
    expect(imageRepository('fluent/fluent-bit:3.1')).toBe('docker.io/fluent/fluent-bit');
    expect(imageRepository('localhost:5000/ml/fraud:v2@sha256:abc')).toBe('localhost:5000/ml/fraud');
    expect(imageRepository('registry.example.com/ml/fraud@sha256:abc')).toBe('registry.example.com/ml/fraud');
  });
});

describe('owners', () => {
  const liveDep = (meta: V1ObjectMeta): V1Deployment => {
    const d = dep('fraud-blue', { app: 'fraud', slot: 'blue' });
    return { ...d, metadata: { ...d.metadata, namespace: 'ml', ...meta } };
  };
  const setup = (meta: V1ObjectMeta) => observed({ service: svc('fraud', { app: 'fraud', slot: 'blue' }), deployments: [liveDep(meta)] });

  it.each([
    ['an Argo CD tracking annotation', { annotations: { 'argocd.argoproj.io/tracking-id': 'fraud-prod:apps/Deployment:ml/fraud-blue' } }, 'Deployment ml/fraud-blue is managed by Argo CD application fraud-prod: its self-heal would put back the selector', 'argocd'],
    ['Flux\'s kustomize labels', { labels: { 'kustomize.toolkit.fluxcd.io/name': 'apps', 'kustomize.toolkit.fluxcd.io/namespace': 'flux-system' } }, 'is managed by Flux Kustomization flux-system/apps', 'flux'],
    ['a controller owner reference', { ownerReferences: [{ apiVersion: 'serving.example.com/v1', kind: 'ModelServer', name: 'fraud', uid: 'u1', controller: true }] }, 'is managed by ModelServer fraud: it reconciles the object back', 'controller'],
  ] as [string, V1ObjectMeta, string, 'argocd' | 'flux' | 'controller'][])('refuse %s, saying what to do, unless owners.allow names it', (_name, meta, message, kind) => {
    expect(() => planRelease(spec, t, setup(meta))).toThrow(message);
    expect(() => planRelease(spec, t, setup(meta))).toThrow(`then set owners.allow: [${kind}] to release knowingly`);
    const allowed = validateSpec({ model: 'fraud', namespace: 'ml', version: 'v2', image: 'fraud:2', owners: { allow: [kind] } });
    expect(planRelease(allowed, t, setup(meta)).warnings).toEqual([expect.stringContaining('going on as owners.allow says')]);
  });

  it('warn of Helm, which acts only at its next upgrade', () => {
    const plan = planRelease(spec, t, setup({ labels: { 'app.kubernetes.io/managed-by': 'Helm' }, annotations: { 'meta.helm.sh/release-name': 'fraud' } }));
    expect(plan.warnings).toEqual(['Deployment ml/fraud-blue is managed by Helm release fraud: the next helm upgrade puts back what the chart says (the selector, the old slot); keep the chart in step with the release']);
    expect(planRelease(spec, t, setup({})).warnings).toBeUndefined();
  });
});

describe('capacity', () => {
  const node = (name: string, gpus: string, more: Partial<V1Node['spec']> = {}, labels: Record<string, string> = { accelerator: 'a100' }): V1Node => ({
    metadata: { name, labels }, spec: { taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }], ...more },
    status: { allocatable: { cpu: '8', memory: '32Gi', 'nvidia.com/gpu': gpus } },
  });
  const gpuPod: V1PodSpec = {
    nodeSelector: { accelerator: 'a100' }, tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
    containers: [{ name: 'server', resources: { requests: { cpu: '500m', memory: '4Gi' }, limits: { 'nvidia.com/gpu': '1' } } }],
  };
  const running = (on: string, gpus: string): V1Pod => ({ spec: { nodeName: on, containers: [{ name: 'x', resources: { limits: { 'nvidia.com/gpu': gpus } } }] }, status: { phase: 'Running' } });

  it('reads quantities as the API server writes them', () => {
    expect([quantity('500m'), quantity('2Gi'), quantity('1e3'), quantity('4'), quantity('1.5k')]).toEqual([0.5, 2 ** 31, 1000, 4, 1500]);
    expect(podRequests(gpuPod)).toEqual({ cpu: 0.5, memory: 4 * 2 ** 30, 'nvidia.com/gpu': 1 });
  });

  it('fits pods on the nodes they may land on, against what is free there', () => {
    const nodes = [node('g1', '4'), node('g2', '4'), node('cpu', '0', {}, {}), node('cordoned', '8', { unschedulable: true })];
    expect(() => refuseNoRoom(gpuPod, 4, nodes, [running('g1', '2'), running('g2', '2')], 'llm-green')).not.toThrow();
    expect(() => refuseNoRoom(gpuPod, 5, nodes, [running('g1', '2'), running('g2', '2'), running('g2', '1')], 'llm-green'))
      .toThrow('not enough nvidia.com/gpu for llm-green: 5 pods × 1 = 5 needed beside the live slot, free on the nodes it can run on: g1 2 of 4, g2 1 of 4; nodes it cannot run on: cpu (nodeSelector accelerator=a100), cordoned (unschedulable); 3 would fit now (a stepped release with stepped.extraPods: 3 needs only that many beside the live slot; previewReplicas alone verifies with fewer, but the switch needs all 5)');
    // Without the toleration no GPU node is open to it; a pod that requests nothing is not checked.
    expect(() => refuseNoRoom({ ...gpuPod, tolerations: [] }, 1, nodes, [], 'llm-green')).toThrow(/g1 \(taint nvidia.com\/gpu=present:NoSchedule\).*no pod of it fits now/);
    expect(() => refuseNoRoom({ containers: [{ name: 'x' }] }, 100, nodes, [], 'llm-green')).not.toThrow();
  });

  it('honours required node affinity and ignores pods that have ended', () => {
    const affinity: V1PodSpec['affinity'] = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['b'] }] }] } } };
    expect(excludedBy({ ...gpuPod, affinity }, node('g1', '1', {}, { accelerator: 'a100', zone: 'a' }))).toBe('required node affinity');
    expect(excludedBy({ ...gpuPod, affinity }, node('g1', '1', {}, { accelerator: 'a100', zone: 'b' }))).toBeUndefined();
    const ended: V1Pod = { ...running('g1', '1'), status: { phase: 'Succeeded' } };
    expect(() => refuseNoRoom(gpuPod, 1, [node('g1', '1')], [ended], 'llm-green')).not.toThrow();
  });
});

describe('a stepped release', () => {
  it('grows the candidate and shrinks the old slot step by step, never past the budget', () => {
    const steps = stepsOf({ live: 4, replicas: 4, preview: 1, extra: 1 });
    expect(steps).toEqual([{ candidate: 1, old: 3 }, { candidate: 2, old: 2 }, { candidate: 3, old: 1 }, { candidate: 4, old: 0 }]);
    expect(stepsOf({ live: 4, replicas: 4, preview: 1, extra: 2 })).toEqual([{ candidate: 2, old: 2 }, { candidate: 4, old: 0 }]);
    // A candidate larger or smaller than the live slot: the budget is the larger slot plus the extra pods.
    expect(stepsOf({ live: 2, replicas: 4, preview: 1, extra: 1 })).toEqual([{ candidate: 2, old: 1 }, { candidate: 3, old: 0 }, { candidate: 4, old: 0 }]);
    expect(stepsOf({ live: 6, replicas: 3, preview: 1, extra: 1 })).toEqual([
      { candidate: 1, old: 5 }, { candidate: 2, old: 4 }, { candidate: 3, old: 3 }, { candidate: 3, old: 2 }, { candidate: 3, old: 1 }, { candidate: 3, old: 0 },
    ]);
    for (const budget of [{ live: 4, replicas: 4, preview: 1, extra: 1 }, { live: 2, replicas: 5, preview: 2, extra: 2 }, { live: 7, replicas: 3, preview: 3, extra: 3 }]) {
      let before = { candidate: budget.preview, old: budget.live };
      for (const step of stepsOf(budget)) {
        // The peak of a step is the grown candidate beside the old slot not yet shrunk; its undo passes the same state.
        expect(step.candidate + before.old).toBeLessThanOrEqual(peakPods(budget));
        before = step;
      }
      expect(before).toEqual({ candidate: budget.replicas, old: 0 });
    }
  });

  it('is refused with an autoscaler or a selector of the slot label alone, and warns without a preStop hook', () => {
    const spec = { stepped: { extraPods: 1, window: '30s' }, slotLabel: 'slot' };
    const live = { slot: 'blue' as const, deployment: 'llm', selector: { app: 'llm', slot: 'blue' }, replicas: 4, adopted: true };
    const hpa = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name: 'llm', min: 2, max: 6 };
    expect(() => checkStepped(spec, live, 4, [hpa], undefined)).toThrow('stepped: HorizontalPodAutoscaler llm scales the live Deployment llm, and the steps scale it too');
    expect(() => checkStepped(spec, { ...live, selector: { slot: 'blue' } }, 4, [], undefined)).toThrow(/has no label but "slot"/);
    expect(checkStepped(spec, live, 4, [], { containers: [{ name: 'server' }] })).toEqual([
      'stepped: 4 steps of 1 pods, at most 5 pods of both slots at once (4 live + 1 extra)', expect.stringContaining('no preStop hook'),
    ]);
    expect(checkStepped(spec, live, 4, [], { containers: [{ name: 'server', lifecycle: { preStop: { sleep: { seconds: 5 } } } }] })).toHaveLength(1);
    expect(sharedSelector(live, 'slot')).toEqual({ app: 'llm' });
    expect(sharedSelector({ ...live, unslotted: { app: 'llm' }, selector: { app: 'llm', 'pod-template-hash': 'abc' } }, 'slot')).toEqual({ app: 'llm' });
    // What must fit beside the live slot: the extra pods, not the whole candidate.
    expect(podsBesideLive({ stepped: spec.stepped }, 4, 4)).toBe(1);
    expect(podsBesideLive({ stepped: spec.stepped }, 6, 4)).toBe(3);
    expect(podsBesideLive({}, 4, 4)).toBe(4);
  });

  it('says what a rollback from a standby waits for, by the probes\' bounds', () => {
    expect(startupBudgetSeconds({ containers: [{ name: 'a', startupProbe: { failureThreshold: 30, periodSeconds: 10 }, readinessProbe: { periodSeconds: 5 } }, { name: 'b' }] })).toBe(305);
    expect(startupBudgetSeconds({ containers: [{ name: 'a' }] })).toBe(0);
  });

  it('flags probes that restart a model before it could load in the time rolloutTimeout gives', () => {
    const http = { httpGet: { path: '/health', port: 8000 } };
    const warn = (containers: V1PodSpec['containers'], timeout = '30m') => probeWarnings({ containers }, timeout, 'template');
    // A liveness probe alone, Kubernetes' defaults: restarted after 30s.
    expect(warn([{ name: 'vllm', livenessProbe: http }])).toEqual([
      'template: container vllm is restarted 30s after it starts if its model is still loading (livenessProbe, and no startupProbe: initialDelaySeconds 0 + failureThreshold 3 x periodSeconds 10), while rolloutTimeout (30m) gives a pod 1800s: a longer load restarts over and over; add a startupProbe so that failureThreshold x periodSeconds covers the load',
    ]);
    // A startup probe shorter than the timeout (it restarts the container too), named with its numbers.
    expect(warn([{ name: 'tgi', startupProbe: { ...http, periodSeconds: 10, failureThreshold: 90 }, livenessProbe: http }])[0])
      .toMatch(/^template: container tgi is restarted 900s after .*\(startupProbe: initialDelaySeconds 0 \+ failureThreshold 90 x periodSeconds 10\).*raise its failureThreshold/);
    // Covered, or no probe that restarts: nothing to say.
    expect(warn([{ name: 'tgi', startupProbe: { ...http, periodSeconds: 10, failureThreshold: 180 }, livenessProbe: http }])).toEqual([]);
    expect(warn([{ name: 'fraud', readinessProbe: http }])).toEqual([]);
    expect(warn([{ name: 'fraud', livenessProbe: { ...http, initialDelaySeconds: 600 } }], '10m')).toEqual([]);
    expect(probeWarnings(undefined, '10m', 'template')).toEqual([]);
  });
});

describe('fields left out of comparisons', () => {
  const answer = { id: 'a1', created: 7, choices: [{ index: 0, text: 'ok', logprobs: [0.1] }, { index: 1, text: 'no', logprobs: [0.2] }], usage: { total_tokens: 9, prompt_tokens: 3 } };
  it.each([
    [['id', 'created'], { choices: answer.choices, usage: answer.usage }],
    [['usage.total_tokens'], { ...answer, usage: { prompt_tokens: 3 } }],
    [['choices.*.logprobs'], { ...answer, choices: [{ index: 0, text: 'ok' }, { index: 1, text: 'no' }] }],
    [['choices.1'], { ...answer, choices: [answer.choices[0]] }],
    [['absent', 'id.deeper', 'usage.total_tokens.x'], answer],
  ])('without %j', (paths, expected) => {
    expect(withoutFields(answer, paths)).toEqual(expected);
  });
  it('leaves the value it was given as it was, and passes non-objects through', () => {
    const copy = structuredClone(answer);
    withoutFields(answer, ['id', 'usage.total_tokens', 'choices.*.text']);
    expect(answer).toEqual(copy);
    expect(withoutFields([1, 2], ['0'])).toEqual([2]);
    expect(withoutFields('text', ['id'])).toBe('text');
  });
});

describe('draining a slot', () => {
  const page = [
    '# HELP vllm:num_requests_running Number of requests in model execution batches.',
    '# TYPE vllm:num_requests_running gauge',
    'vllm:num_requests_running{engine="0",model_name="llama {3}"} 2.0',
    'vllm:num_requests_running{engine="1",model_name="llama {3}"} 1.0',
    'vllm:num_requests_waiting{engine="0",model_name="llama {3}"} 4.0 1733300000000',
    'vllm:num_requests_swapped 9',
  ].join('\n');

  it('sums the in-flight gauges of every label set, and knows a page without them', () => {
    expect(metricSum(page, inFlightMetrics('vllm'))).toBe(7);
    expect(metricSum(page, ['vllm:num_requests_running'])).toBe(3);
    expect(metricSum('model_requests_in_flight{model="fraud",version="v1"} 0\n', inFlightMetrics('example'))).toBe(0);
    expect(metricSum(page, inFlightMetrics('tgi'))).toBeUndefined();
    expect(inFlightMetrics(['a_b', 'c:d'])).toEqual(['a_b', 'c:d']);
    expect(inFlightMetrics(undefined)).toEqual([]);
  });

  it('asks Prometheus for the in-flight gauges by pod, and reads its answer pod by pod', () => {
    expect(inFlightQuery(inFlightMetrics('vllm'))).toBe(
      'sum by (pod) ({__name__=~"vllm:num_requests_running|vllm:num_requests_waiting", namespace="{{namespace}}", pod=~"{{deployment}}-[a-z0-9]+-[a-z0-9]+"})');
    const vector = (result: unknown[]) => ({ status: 'success', data: { resultType: 'vector', result } });
    expect(valuesByPod(vector([
      { metric: { pod: 'chat-blue-7d9-abcde' }, value: [1733300000, '2'] },
      { metric: { pod: 'chat-blue-7d9-fghij' }, value: [1733300000, '0'] },
    ]))).toEqual(new Map([['chat-blue-7d9-abcde', 2], ['chat-blue-7d9-fghij', 0]]));
    expect(valuesByPod(vector([]))).toEqual(new Map());
    expect(valuesByPod(vector([{ metric: {}, value: [1, '3'] }]))).toBe('a series of the query has no pod label; group it by pod (sum by (pod) (...))');
    expect(valuesByPod({ status: 'success', data: { resultType: 'scalar', result: [1, '3'] } }))
      .toBe('the query returned a scalar; it must give a value per pod (sum by (pod) (...))');
    expect(valuesByPod({ status: 'error', error: 'parse error at char 5' })).toBe('Prometheus refused the query: parse error at char 5');
  });

  it('says how a drain ended: the time the pods took and the most in flight, or the pods cut with theirs', () => {
    expect(drainDetail('old slot chat-blue', { drained: true, tookMs: 18_440, pods: 2, cut: [], mostInFlight: 3 }, '45s'))
      .toBe('old slot chat-blue: its 2 pods ended by themselves in 18.4s; at most 3 requests in flight');
    expect(drainDetail('candidate chat-green', { drained: true, tookMs: 0, pods: 0, cut: [] }, '45s')).toBe('candidate chat-green: no pods were left');
    expect(drainDetail('candidate chat-blue', { drained: true, tookMs: 2_100, pods: 2, cut: [], mostInFlight: 0 }, '45s'))
      .toBe('candidate chat-blue: its 2 pods ended by themselves in 2.1s; no request in flight');
    expect(drainDetail('old slot a', { drained: true, tookMs: 2_000, pods: 1, cut: [], unread: 'no answer from Prometheus: connect ECONNREFUSED' }, '1m'))
      .toBe('old slot a: its pod ended by itself in 2s; requests in flight not read: no answer from Prometheus: connect ECONNREFUSED');
    expect(drainDetail('old slot a', { drained: false, tookMs: 3_100, pods: 2, cut: [{ pod: 'a-1-x', inFlight: 1 }, { pod: 'a-1-y' }] }, '3s'))
      .toBe('old slot a: drain.timeout 3s ended with 2 pods still running, 1 request in flight; told to stop at once: a-1-x (1 in flight), a-1-y (requests in flight unknown)');
  });

  const pod = (more: Partial<V1PodSpec> = {}, preStop?: object): V1PodSpec => ({ containers: [{ name: 'server', ...(preStop ? { lifecycle: { preStop } } : {}) }], ...more });

  it('warns when the kubelet would kill the pods before drain.timeout ends, once for slots alike', () => {
    expect(drainWarnings({ timeout: '2m' }, [{ deployment: 'fraud-blue', spec: pod() }, { deployment: 'fraud-green', spec: pod() }])).toEqual([
      'drain: the pods of Deployments fraud-blue and fraud-green have terminationGracePeriodSeconds 30 (the default): the kubelet kills them 30s after they are told to stop, before drain.timeout (2m) ends, so an answer longer than that is cut; set it to at least 120',
    ]);
    expect(drainWarnings({ timeout: '2m' }, [{ deployment: 'fraud-blue', spec: pod({ terminationGracePeriodSeconds: 130 }) }])).toEqual([]);
    expect(drainWarnings(undefined, [{ deployment: 'fraud-blue', spec: pod({ terminationGracePeriodSeconds: 5 }) }])).toEqual([]);
    // With or without a drain: a request the spec expects to take longer than the pods' grace is cut when they stop.
    expect(drainWarnings(undefined, [{ deployment: 'llm-blue', spec: pod({ terminationGracePeriodSeconds: 30 }, { sleep: { seconds: 10 } }) }], 120)).toEqual([
      'the pods of Deployment llm-blue have 20s to finish their answers once told to stop (terminationGracePeriodSeconds 30, less the preStop hook\'s 10s sleep), less than a request may take (verify.timeout, 120s): an answer that long is cut when they stop; set terminationGracePeriodSeconds to at least 130',
    ]);
    expect(drainWarnings(undefined, [{ deployment: 'fraud-blue', spec: pod() }], 10)).toEqual([]);
    expect(drainWarnings({ timeout: '2m' }, [{ deployment: 'llm-blue', spec: pod({ terminationGracePeriodSeconds: 150 }) }], 180)[0]).toMatch(/^the pods of Deployment llm-blue have 150s/);
  });

  it('warns when a preStop hook sleeps away the grace period, as a sleep action or a command', () => {
    const sleeping = pod({ terminationGracePeriodSeconds: 10 }, { sleep: { seconds: 10 } });
    const command = pod({ terminationGracePeriodSeconds: 10 }, { exec: { command: ['/bin/sh', '-c', 'sleep 15'] } });
    expect(drainWarnings({ timeout: '10s' }, [{ deployment: 'a', spec: sleeping }])).toEqual([
      'drain: the preStop hook of Deployment a sleeps 10s of its 10s grace period: the server is killed before it is told to stop, with no time to finish its answers',
    ]);
    expect(drainWarnings({ timeout: '10s' }, [{ deployment: 'b', spec: command }])[0]).toMatch(/^drain: the preStop hook of Deployment b sleeps 15s of its 10s grace period/);
  });

  it('is in the plan for the live slot and the candidate', () => {
    const live = dep('fraud-blue', { app: 'fraud', slot: 'blue' });
    live.spec!.replicas = 2;
    const plan = planRelease(validateSpec({ ...spec, drain: { timeout: '1m' } }), t, observed({ service: svc('fraud', { app: 'fraud', slot: 'blue' }), deployments: [live] }));
    expect(plan.warnings).toEqual([expect.stringMatching(/^drain: the pods of Deployments fraud-blue and fraud-green have terminationGracePeriodSeconds 30 \(the default\)/)]);
  });

  it('reads the metrics where the serving container answers, past a sidecar listed first', () => {
    const live = dep('fraud-blue', { app: 'fraud', slot: 'blue' });
    const containers = live.spec!.template!.spec!.containers;
    live.spec!.template!.spec!.containers = [{ name: 'log-shipper', image: 'fluent-bit:3' }, ...containers];
    const plan = planRelease(validateSpec({ ...spec, image: undefined, drain: { timeout: '1m' } }), t, observed({ service: svc('fraud', { app: 'fraud', slot: 'blue' }), deployments: [live] }));
    expect(plan.servingPort).toBe(9000);
  });
});

describe('latency of streamed answers', () => {
  const latency = { requests: 4, concurrency: 1, ttftP95Ms: 500, itlP95Ms: 40 };
  it('judges the time to the first token and between tokens, each against its bound, naming the one that failed', () => {
    expect(latencyVerdict(latency, [900, 950, 1000, 1100], [], [100, 120, 130, 150], [20, 22, 25, 30])).toEqual({
      name: 'latency', ok: true, value: 30, bound: 'itl p95 <= 40 ms',
      detail: 'ttft p95 150 ms <= 500, itl p95 30 ms <= 40 over 4 requests at concurrency 1',
    });
    expect(latencyVerdict(latency, [900, 950, 1000, 1100], [], [100, 120, 130, 150], [20, 22, 25, 80.5])).toMatchObject({
      ok: false, value: 80.5, bound: 'itl p95 <= 40 ms', detail: 'ttft p95 150 ms <= 500, itl p95 80.5 ms > 40 over 4 requests at concurrency 1',
    });
    // Answers of one event each have no time between tokens: that fails its bound.
    expect(latencyVerdict(latency, [900], [], [100], [])).toMatchObject({ ok: false, detail: expect.stringContaining('itl p95 none (no event streamed) > 40') });
  });
});

describe('the candidate\'s share of the traffic in the monitor window', () => {
  const at = 'http://POD:8080/metrics';
  it.each([
    ['a fair share', { candidate: 300, old: 100 }, 0.5, { ok: true, value: 0.75, detail: 'the candidate answered 300 of the 400 requests both slots answered in the window (75.0%) >= 50.0%' }],
    ['a trickle', { candidate: 1, old: 303 }, 0.5, { ok: false, value: 0.0033, detail: 'the candidate answered 1 of the 304 requests both slots answered in the window (0.3%) < monitor.traffic.minShare 50.0%: judged on a trickle' }],
    ['no requests at all', { candidate: 0, old: 0 }, 0, { ok: false, value: 0 }],
    ['no bound: said, never failed', { candidate: 1, old: 303 }, undefined, { ok: true, detail: 'the candidate answered 1 of the 304 requests both slots answered in the window (0.3%)' }],
    ['counters unread', { candidate: 5 }, 0.5, { ok: false, detail: 'unknown: none of the old slot\'s pods\' request counters could be read at http://POD:8080/metrics' }],
  ] as const)('%s', (_name, served, minShare, want) => {
    expect(trafficShareCheck(served, minShare, at)).toMatchObject({ name: 'traffic share', ...want });
  });
});

describe('when a streamed answer\'s tokens came', () => {
  const chunk = (delta: object, finish: string | null = null) => ({ choices: [{ index: 0, delta, finish_reason: finish }] });
  it('times the events that carry text: not the role sent before any work, nor the finish', () => {
    const events = [chunk({ role: 'assistant' }), chunk({ content: 'Pa' }), chunk({ content: 'ris' }), chunk({ content: '.' }), chunk({}, 'stop')];
    expect(tokenTimings(events, [3, 120, 150, 190, 191, 192])).toEqual({ firstEventMs: 120, interEventMs: 35 });
    // Completions stream text; one token has no time between tokens.
    expect(tokenTimings([{ choices: [{ text: 'ok' }] }], [40.4])).toEqual({ firstEventMs: 40 });
    // A stream of other events is timed by its events.
    expect(tokenTimings([{ progress: 1 }, { progress: 2 }], [10, 30])).toEqual({ firstEventMs: 10, interEventMs: 20 });
    expect(tokenTimings([], [])).toEqual({});
  });
});

describe('how alike two texts are, word by word', () => {
  it.each([
    ['the same words', 'the refund is allowed', 'the  refund is\nallowed', 1],
    ['one word of four changed', 'the refund is allowed', 'the refund is refused', 0.75],
    ['one word missing', 'the refund is allowed', 'the refund allowed', 0.75],
    ['nothing shared', 'yes', 'no', 0],
    ['both empty', '', '  ', 1],
    ['one empty', 'yes', '', 0],
  ])('%s', (_name, a, b, similarity) => {
    expect(textSimilarity(a, b)).toBe(similarity);
    expect(textSimilarity(b, a)).toBe(similarity);
  });
});

describe('an LLM answer against its expectations (protocol openai)', () => {
  const answer = (content: string, finish = 'stop') => ({ choices: [{ message: { content }, finish_reason: finish }] });
  const streamed = (...parts: string[]) => ({ events: [...parts.map((p) => ({ choices: [{ delta: { content: p } }] })), { choices: [{ delta: {}, finish_reason: 'stop' }] }] });
  const label = { type: 'object', properties: { label: { enum: ['spam', 'ham'] } }, required: ['label'] };
  it.each([
    ['any JSON, given', { json: {} }, answer('[1, 2]'), undefined],
    ['fits the schema', { json: label }, answer('{"label": "ham"}'), undefined],
    ['fits the schema, streamed in pieces', { json: label }, streamed('{"la', 'bel": "sp', 'am"}'), undefined],
    ['a value the schema does not allow', { json: label }, answer('{"label": "unsure"}'),
      'the answer does not fit the JSON Schema: /label must be equal to one of the allowed values ("spam", "ham"): "{\\"label\\": \\"unsure\\"}"'],
    ['a missing property', { json: label }, answer('{}'), 'the answer does not fit the JSON Schema: the answer must have required property \'label\': "{}"'],
    ['not JSON at all', { json: label }, answer('.6ZxmJ test'), /^the answer is not JSON \(.*\): "\.6ZxmJ test"$/],
    ['cut off by the token limit', { json: label, finishReason: 'stop' }, answer('{"label": "sp', 'length'), /^the answer is not JSON/],
    ['JSON, and the finish reason judged after it', { json: {}, finishReason: 'length' }, answer('{}'), 'finish reason stop, expected length: "{}"'],
  ] as const)('%s', (_name, expected, got, verdict) => {
    const said = judgeCompletion(expected, got);
    if (verdict instanceof RegExp) expect(said).toMatch(verdict);
    else expect(said).toBe(verdict);
  });
});
