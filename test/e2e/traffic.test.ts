// Releases on the real node (test/cluster/node): real model-server processes in
// containers, real readiness probes, and requests through the live Service's
// ClusterIP all through each release, counting failed requests and which
// version answered. Verification and analysis reach the pods through the
// preview and live Services, not through processes beside the cluster.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readService } from '../../src/activities/cluster.js';
import type { ReleaseSpecInput } from '../../src/release/spec.js';
import { prometheusBinary, startPrometheus } from './prometheus.js';
import { watchTraffic, type TrafficReport } from './traffic-watcher.js';
import { World } from './world.js';
import { realNodeTemplate } from '../cluster/node/pod-template.mjs';

const realNode = inject('realNode');
const totals: TrafficReport = { sent: 0, failed: 0, versions: {}, sequence: [], examples: [] };
let w: World;

beforeAll(async () => {
  if (!realNode) return;
  w = await new World({ prefix: 'traffic', temporalAddress: inject('temporalAddress'), kubeconfig: inject('kubeconfig') }).start();
});
afterAll(async () => {
  if (!realNode) return;
  console.log(`traffic watcher (real node): ${totals.sent} requests, ${totals.failed} failed, answers ${JSON.stringify(totals.versions)}`);
  await w?.close();
});

const GOLDEN = { v1: [0.562177, 0.53743], v2: [0.731059, 0.562177] };
const modelFile = (version: 'v1' | 'v2') => `/app/models/fraud-${version}.json`;

/** A release of the example model server as a real pod on the real node. */
function spec(model: string, version: 'v1' | 'v2', more: Partial<ReleaseSpecInput> = {}): ReleaseSpecInput {
  return {
    model, namespace: w.namespace, version, replicas: 2,
    verify: { modelName: 'fraud', requests: [{ inputs: [{ name: 'features', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3, 0.5, 0, 1] }], expected: { probability: GOLDEN[version] }, tolerance: 1e-4 }] },
    monitor: { window: '3s', interval: '1s' }, scaleDownDelay: '2s', rolloutTimeout: '2m',
    ...more,
  };
}
const template = (version: 'v1' | 'v2', args?: string[]) => realNodeTemplate({ modelFile: modelFile(version), args });

async function start(input: ReleaseSpecInput, wait = true) {
  const { writeFileSync } = await import('node:fs');
  const file = w.specFile(input.model, input.version as 'v1' | 'v2', input);
  writeFileSync(file, JSON.stringify(input));
  return w.cli(['start', '-f', file, ...(wait ? ['--wait'] : [])]);
}

/** Watches the live Service, from its first answer on (a new Service routes once kube-proxy has synced). */
async function watchLive(model: string, serving: 'v1' | 'v2' = 'v1') {
  const service = await readService(w.kube, w.target(model), model);
  const ip = service?.spec?.clusterIP;
  expect(ip).toMatch(/^10\.0\.0\.\d+$/);
  const port = service!.spec!.ports![0]!.port;
  const probe = watchTraffic(ip!, port, 100);
  await probe.until(serving, 30_000);
  await probe.stop();
  return watchTraffic(ip!, port);
}

function add(r: TrafficReport): void {
  totals.sent += r.sent;
  totals.failed += r.failed;
  for (const [v, n] of Object.entries(r.versions)) totals.versions[v] = (totals.versions[v] ?? 0) + n;
}

describe.skipIf(!realNode)(`traffic through a real node${realNode ? '' : ` (skipped: ${inject('realNodeReason')})`}`, () => {
  it('a release and an abort in monitoring move the answers from v1 to v2 and back, then a release promotes v2, with no failed request', async () => {
    const first = await start({ ...spec('fraud', 'v1'), template: template('v1') });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const traffic = await watchLive('fraud');
    await traffic.until('v1');

    // v2 changes only the model file: the rest of the pod template is the live one.
    const v2 = spec('fraud', 'v2', { env: [{ name: 'MODEL_FILE', value: modelFile('v2') }], monitor: { window: '1h', interval: '2s' } });
    const started = await start(v2, false);
    expect(started.stderr).toBe('');
    const monitoring = await w.waitFor('fraud', (s) => s.phase === 'Monitoring' && s.version === 'v2', 'Monitoring');
    expect(monitoring.verification?.endpoint).toMatch(/^http:\/\/10\.0\.0\.\d+:8080$/); // the preview Service's ClusterIP
    await traffic.until('v2').catch(async (err) => { throw new Error(`${(err as Error).message}; release: ${JSON.stringify(await w.status('fraud'))}`); });
    await w.cli(['abort', 'fraud', '-n', w.namespace, '--reason', 'answers look off']);
    await w.waitForPhase('fraud', 'RolledBack');
    await traffic.until('v1');

    const again = await start(spec('fraud', 'v2', { env: [{ name: 'MODEL_FILE', value: modelFile('v2') }] }));
    expect(again.code).toBe(0);
    await traffic.until('v2');
    await new Promise((r) => setTimeout(r, 3_000)); // the old slot goes away: still no failure
    const report = await traffic.stop();
    add(report);
    if (report.failed > 0) console.log(JSON.stringify((await w.status('fraud'))?.timeline.map((e) => `${e.at} ${e.event} ${e.detail ?? ''}`), null, 1));
    expect(report.failed, report.examples.join('; ')).toBe(0);
    expect(report.sequence).toEqual(['v1', 'v2', 'v1', 'v2']);
    expect(report.sent).toBeGreaterThan(200);
  }, 240_000);

  it('an unslotted setup made by hand (Service and Deployment "llm", selecting app: llm) is released with no failed request, then released again from its slots', async () => {
    const labels = { app: 'llm' };
    const ports = template('v1').spec.containers[0].ports as { containerPort: number }[];
    await w.kube.apps.createNamespacedDeployment({
      namespace: w.namespace,
      body: { metadata: { name: 'llm', labels }, spec: { replicas: 2, selector: { matchLabels: labels }, template: realNodeTemplate({ labels, modelFile: modelFile('v1') }) } },
    });
    await w.kube.core.createNamespacedService({ namespace: w.namespace, body: { metadata: { name: 'llm' }, spec: { selector: labels, ports: [{ name: 'http', port: 8080, targetPort: ports[0]!.containerPort as never }] } } });
    await w.waitUntil(async () => (await w.kube.apps.readNamespacedDeployment({ name: 'llm', namespace: w.namespace })).status?.availableReplicas === 2, 'llm available', 120_000);
    const traffic = await watchLive('llm');
    await traffic.until('v1');

    const run = await start(spec('llm', 'v2', { replicas: undefined, env: [{ name: 'MODEL_FILE', value: modelFile('v2') }] }));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    await traffic.until('v2');
    expect((await readService(w.kube, w.target('llm'), 'llm'))?.spec?.selector).toEqual({ app: 'llm', slot: 'green' });
    const again = await start(spec('llm', 'v1', { replicas: undefined, env: [{ name: 'MODEL_FILE', value: modelFile('v1') }] }));
    expect(again.code).toBe(0);
    await traffic.until('v1');
    await new Promise((r) => setTimeout(r, 3_000));
    const report = await traffic.stop();
    add(report);
    expect(report.failed, report.examples.join('; ')).toBe(0);
    expect(report.sequence).toEqual(['v1', 'v2', 'v1']);
    expect((await readService(w.kube, w.target('llm'), 'llm'))?.spec?.selector).toEqual({ app: 'llm', slot: 'blue' });
  }, 240_000);

  it('a stepped release (4 pods, one extra) moves the answers from v1 to v2 a pod at a time with no failed request; a worker killed mid-step changes nothing', async () => {
    const steppedTemplate = (version: 'v1' | 'v2') => realNodeTemplate({ modelFile: modelFile(version), preStopSeconds: 2 });
    const first = await start({ ...spec('stepped', 'v1', { replicas: 4 }), template: steppedTemplate('v1') });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const traffic = await watchLive('stepped');
    await traffic.until('v1');
    const started = Date.now();
    await start({ ...spec('stepped', 'v2', { replicas: 4, stepped: { extraPods: 1, window: '3s' } }), template: steppedTemplate('v2') }, false);
    // A worker SIGKILLed in the middle of step 2: the step's activities run again on a new worker.
    await w.waitFor('stepped', (s) => s.version === 'v2' && s.steps?.done === 1, 'step 1', 180_000);
    await w.killWorker();
    await w.startWorker();
    const done = await w.waitForPhase('stepped', 'Succeeded', 240_000);
    const took = Date.now() - started;
    await new Promise((r) => setTimeout(r, 3_000)); // the old slot is gone: still no failure
    const report = await traffic.stop();
    add(report);
    console.log(`stepped release on the real node: ${took} ms, ${report.sent} requests, ${report.failed} failed, answers ${JSON.stringify(report.versions)}`);
    expect(report.failed, report.examples.join('; ')).toBe(0);
    expect(report.sequence[0]).toBe('v1');
    expect(report.sequence.at(-1)).toBe('v2');
    expect(done.timeline.filter((e) => e.event === 'step')).toHaveLength(4);
    expect((await readService(w.kube, w.target('stepped'), 'stepped'))?.spec?.selector?.slot).toBe('green');
  }, 360_000);

  it('a stepped release aborted mid-way returns to 4 pods of the old version with no failed request', async () => {
    // From where the test above left it: 4 pods of v2 in green, live.
    const t = w.target('stepped');
    const traffic = await watchLive('stepped', 'v2');
    await traffic.until('v2');
    await start({ ...spec('stepped', 'v1', { replicas: 4, stepped: { extraPods: 1, window: '30s' } }), template: realNodeTemplate({ modelFile: modelFile('v1'), preStopSeconds: 2 }) }, false);
    const mid = await w.waitFor('stepped', (s) => s.version === 'v1' && s.steps?.done === 2, 'step 2', 180_000);
    expect(mid.steps).toEqual({ done: 2, candidate: 2, old: 2 });
    await w.cli(['abort', 'stepped', '-n', w.namespace, '--reason', 'v1 again was a mistake']);
    const end = await w.waitForPhase('stepped', 'RolledBack', 180_000);
    await new Promise((r) => setTimeout(r, 3_000)); // the candidate's pods are gone: still no failure
    const report = await traffic.stop();
    add(report);
    console.log(`stepped abort on the real node: ${report.sent} requests, ${report.failed} failed, answers ${JSON.stringify(report.versions)}`);
    expect(report.failed, report.examples.join('; ')).toBe(0);
    expect(report.versions.v1).toBeGreaterThan(0);
    expect(report.sequence.at(-1)).toBe('v2');
    expect(end.liveSlot).toBe('green');
    expect((await readService(w.kube, t, 'stepped'))?.spec?.selector?.slot).toBe('green');
    const green = await w.kube.apps.readNamespacedDeployment({ name: 'stepped-green', namespace: w.namespace });
    expect(green.status?.readyReplicas).toBe(4);
    await w.waitUntil(async () => (await w.kube.apps.listNamespacedDeployment({ namespace: w.namespace, labelSelector: 'bluegreen.dev/service=stepped' })).items.length === 1, 'the candidate gone', 60_000);
  }, 360_000);

  it('a worker killed between the selector patch and the EndpointSlices settling: the release completes, and no request fails', async () => {
    const first = await start({ ...spec('killed', 'v1'), template: template('v1') });
    expect(first.code).toBe(0);
    const traffic = await watchLive('killed');
    await traffic.until('v1');
    await start(spec('killed', 'v2', { env: [{ name: 'MODEL_FILE', value: modelFile('v2') }] }), false);
    const t = w.target('killed');
    for (let i = 0; i < 600 && (await readService(w.kube, t, 'killed'))?.spec?.selector?.slot !== 'green'; i += 1) await new Promise((r) => setTimeout(r, 20));
    await w.killWorker();
    await w.startWorker();
    const done = await w.waitForPhase('killed', 'Succeeded', 150_000);
    expect(done.liveSlot).toBe('green');
    await traffic.until('v2');
    const report = await traffic.stop();
    add(report);
    expect(report.failed, report.examples.join('; ')).toBe(0);
    expect(report.sequence).toEqual(['v1', 'v2']);
  }, 240_000);

  it('a candidate whose readiness probe never passes is rolled back, and no request fails', async () => {
    const first = await start({ ...spec('unready', 'v1'), template: template('v1') });
    expect(first.code).toBe(0);
    const traffic = await watchLive('unready');
    await traffic.until('v1');
    const result = await start({ ...spec('unready', 'v2', { rolloutTimeout: '15s' }), template: template('v2', ['--not-ready']) });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/release RolledBack: waitForRollout failed \[RolloutTimeout\]: rollout of unready-green not done after 15s/);
    const report = await traffic.stop();
    add(report);
    expect(report.failed, report.examples.join('; ')).toBe(0);
    expect(report.sequence).toEqual(['v1']);
  }, 180_000);

  it('an error rate that rises after the switch is rolled back by the Prometheus analysis, and v1 answers again', async () => {
    const binary = prometheusBinary();
    if ('missing' in binary) throw new Error(binary.missing);
    const prom = await startPrometheus(binary.path);
    try {
      const first = await start({ ...spec('errors', 'v1'), template: template('v1') });
      expect(first.code).toBe(0);
      const traffic = await watchLive('errors');
      await traffic.until('v1');
      const query = 'sum(rate(model_requests_total{version="{{version}}",outcome="error"}[5s])) / sum(rate(model_requests_total{version="{{version}}"}[5s]))';
      await start(spec('errors', 'v2', {
        env: [{ name: 'MODEL_FILE', value: modelFile('v2') }],
        monitor: { window: '5m', interval: '1s', initialDelay: '2s', analysis: [{
          name: 'error-rate', provider: { prometheus: { address: prom.url, query } },
          successCondition: 'result < 0.05', failureCondition: 'result >= 0.2', interval: '1s', inconclusiveLimit: 60,
        }] },
      }), false);
      await w.waitFor('errors', (s) => s.phase === 'Monitoring' && s.liveSlot === 'green', 'monitoring on green');
      await traffic.until('v2');
      // Prometheus scrapes the candidate's pods; once v2 takes the traffic, it fails half its requests.
      const pods = await w.kube.core.listNamespacedPod({ namespace: w.namespace, labelSelector: 'bluegreen.dev/service=errors,slot=green' });
      const targets = pods.items.map((p) => `${p.status!.podIP!}:8080`);
      expect(targets).toHaveLength(2);
      await prom.scrape(targets);
      await Promise.all(targets.map((t) => fetch(`http://${t}/admin/faults`, { method: 'POST', body: JSON.stringify({ errorRate: 0.5 }) })));
      const rolledBack = await w.waitForPhase('errors', 'RolledBack', 90_000);
      console.log(`model checks (f) on the real node: ${rolledBack.reason}`);
      expect(rolledBack.reason).toMatch(/^analysis failed 1 of \d+ times: prometheus error-rate: failed: result 0\.\d+: failureCondition "result >= 0\.2" holds; query sum\(rate\(model_requests_total\{version="v2",outcome="error"\}/);
      await traffic.until('v1');
      // Not in the totals: these failures are the injected ones the analysis caught.
      const during = await traffic.stop();
      console.log(`traffic watcher (real node, injected errors): ${during.sent} requests, ${during.failed} failed while v2 erred, answers ${JSON.stringify(during.versions)}`);
      expect(during.failed).toBeGreaterThan(0);
      expect(during.sequence).toEqual(['v1', 'v2', 'v1']);
      // v1 serves again, every request answered.
      const after = await watchLive('errors');
      await new Promise((r) => setTimeout(r, 3_000));
      const report = await after.stop();
      add(report);
      expect(report.failed, report.examples.join('; ')).toBe(0);
      expect(Object.keys(report.versions)).toEqual(['v1']);
    } finally {
      await prom.stop();
    }
  }, 240_000);
});
