// Whole releases with everything real: the Temporal dev server, the worker as its
// own process, the Kubernetes test cluster, model servers, and the CLI.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { kubeFromConfig, readDeployment, readService, serviceEndpoints, type Kube } from '../../src/activities/cluster.js';
import { readStatus } from '../../src/client/releases.js';
import type { ReleaseSpecInput } from '../../src/release/spec.js';
import type { Phase, ReleaseStatus } from '../../src/release/status.js';
import { targetOf } from '../../src/release/target.js';
import { validateSpec } from '../../src/release/validate.js';
import { cli, startModelServer, startWorker, stop, type Started } from './processes.js';

const namespace = `e2e-${randomBytes(3).toString('hex')}`;
const taskQueue = `bluegreen-${namespace}`;
const dir = mkdtempSync(join(tmpdir(), 'bluegreen-e2e-'));
let kube: Kube;
let client: Client;
let worker: Started;
let v1: { url: string; stop: () => void };
let v2: { url: string; stop: () => void };
const env = () => ({ TEMPORAL_ADDRESS: inject('temporalAddress'), BLUEGREEN_TASK_QUEUE: taskQueue, BLUEGREEN_USER: 'e2e' });
const workerEnv = () => ({ temporalAddress: inject('temporalAddress'), kubeconfig: inject('kubeconfig'), taskQueue, namespaces: namespace });

beforeAll(async () => {
  const config = new KubeConfig();
  config.loadFromFile(inject('kubeconfig'));
  kube = kubeFromConfig(config);
  await config.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  client = new Client({ connection: await Connection.connect({ address: inject('temporalAddress') }) });
  [v1, v2, worker] = await Promise.all([
    startModelServer('examples/model-server/models/fraud-v1.json'),
    startModelServer('examples/model-server/models/fraud-v2.json'),
    startWorker(workerEnv()),
  ]);
});
afterAll(async () => {
  v1?.stop();
  v2?.stop();
  if (worker) await stop(worker.child);
  await client?.connection.close();
  await kube?.core.deleteNamespace({ name: namespace }).catch(() => undefined);
});

const golden = {
  v1: [0.562177, 0.53743],
  v2: [0.731059, 0.562177],
};

/** A spec file whose checks hit the model server of its version. */
function specFile(model: string, version: 'v1' | 'v2', more: Partial<ReleaseSpecInput> = {}): string {
  const server = version === 'v1' ? v1 : v2;
  const spec: ReleaseSpecInput = {
    model, namespace, version, image: `registry.example.com/ml/fraud:${version}`, replicas: 2,
    verify: {
      endpoint: server.url, modelName: 'fraud', maxLatencyMs: 2_000,
      requests: [{ name: 'two-rows', inputs: [{ name: 'features', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3, 0.5, 0, 1] }], expected: { probability: golden[version] }, tolerance: 1e-4 }],
    },
    monitor: { window: '3s', interval: '1s', endpoint: server.url },
    scaleDownDelay: '1s',
    ...more,
  };
  const file = join(dir, `${model}-${version}-${randomBytes(2).toString('hex')}.json`);
  writeFileSync(file, JSON.stringify(spec, null, 2));
  return file;
}

async function waitForStatus(model: string, pred: (s: ReleaseStatus) => boolean, what: string, timeoutMs = 90_000): Promise<ReleaseStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: ReleaseStatus | undefined;
  while (Date.now() < deadline) {
    last = await readStatus(client, { namespace, service: model }).catch(() => undefined);
    if (last !== undefined && pred(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`release of ${model} never got to ${what}; last phase ${last?.phase}: ${JSON.stringify(last?.timeline.slice(-3))}`);
}
const inPhase = (phase: Phase) => (s: ReleaseStatus) => s.phase === phase;

/** Everything a rollback must restore, as the API server holds it. */
async function snapshot(model: string) {
  const t = targetOf(validateSpec({ model, namespace, version: 'x', image: 'x:1' }));
  const [service, preview, blue, green] = await Promise.all([
    readService(kube, t, model), readService(kube, t, `${model}-preview`), readDeployment(kube, t, 'blue'), readDeployment(kube, t, 'green'),
  ]);
  return {
    selector: service?.spec?.selector,
    preview: preview?.spec,
    blue: blue && { spec: blue.spec, labels: blue.metadata?.labels, generation: blue.metadata?.generation },
    green: green && { spec: green.spec, labels: green.metadata?.labels, generation: green.metadata?.generation },
  };
}

async function bootstrap(model: string): Promise<void> {
  const first = await cli(['start', '-f', specFile(model, 'v1'), '--wait'], env());
  expect(first.stderr).toBe('');
  expect(first.code).toBe(0);
  expect(first.stdout).toContain(`release Succeeded: v1 is live in blue`);
}

describe('end-to-end releases', () => {
  it('bootstraps v1, then releases v2 with a manual approval from the CLI', async () => {
    await bootstrap('fraud-approve');
    expect((await snapshot('fraud-approve')).selector).toEqual({ 'app.kubernetes.io/name': 'fraud-approve', slot: 'blue' });

    const started = await cli(['start', '-f', specFile('fraud-approve', 'v2', { approval: { afterSwitch: 'manual' } })], env());
    expect(started.code).toBe(0);
    await waitForStatus('fraud-approve', (s) => s.waitingFor === 'afterSwitch' && s.analysis?.ok === true, 'waiting for approval after analysis');
    // Live traffic is on the candidate while it waits; the old slot is still there for instant rollback.
    const waiting = await snapshot('fraud-approve');
    expect(waiting.selector?.slot).toBe('green');
    expect(waiting.blue?.labels?.['bluegreen.dev/version']).toBe('v1');

    const approved = await cli(['approve', 'fraud-approve', '-n', namespace, '--comment', 'looks good'], env());
    expect(approved.stderr).toBe('');
    expect(approved).toMatchObject({ code: 0, stdout: `approved: the release of ${namespace}/fraud-approve goes on from Monitoring\n` });

    const done = await waitForStatus('fraud-approve', inPhase('Succeeded'), 'Succeeded');
    expect(done.approvedBy).toBe('e2e');
    const after = await snapshot('fraud-approve');
    expect(after.selector).toEqual({ 'app.kubernetes.io/name': 'fraud-approve', slot: 'green' });
    expect(after.preview?.selector).toEqual({ 'app.kubernetes.io/name': 'fraud-approve', slot: 'green' });
    expect(after.blue).toBeUndefined();
    expect(after.green?.labels?.['bluegreen.dev/version']).toBe('v2');
    expect(await serviceEndpoints(kube, targetOf(validateSpec({ model: 'fraud-approve', namespace, version: 'v2', image: 'x:1' })), 'fraud-approve', 'green')).toEqual({ ready: 2, strangers: [] });

    const status = await cli(['status', 'fraud-approve', '-n', namespace], env());
    expect(status.stdout).toMatch(/phase\s+Succeeded/);
    expect(status.stdout).toContain('approve by e2e: looks good');
  });

  it('abort during monitoring restores the Service, the old Deployment and the preview exactly', async () => {
    await bootstrap('fraud-abort');
    const before = await snapshot('fraud-abort');
    await cli(['start', '-f', specFile('fraud-abort', 'v2', { monitor: { window: '10m', interval: '2s', endpoint: v2.url } })], env());
    await waitForStatus('fraud-abort', inPhase('Monitoring'), 'Monitoring');
    expect((await snapshot('fraud-abort')).selector?.slot).toBe('green');

    const aborted = await cli(['abort', 'fraud-abort', '-n', namespace, '--reason', 'p99 latency regressed'], env());
    expect(aborted.stderr).toBe('');
    expect(aborted.code).toBe(0);
    expect(aborted.stdout).toContain('aborted: the release of');

    const end = await waitForStatus('fraud-abort', inPhase('RolledBack'), 'RolledBack');
    expect(end.reason).toBe('aborted by e2e: p99 latency regressed');
    const after = await snapshot('fraud-abort');
    expect(after).toEqual({ ...before, green: undefined });
    expect(after.blue).toEqual(before.blue);
    expect(after.preview).toEqual(before.preview);
  });

  it('a release whose image cannot be pulled rolls back by itself and says why', async () => {
    await bootstrap('fraud-badimage');
    const before = await snapshot('fraud-badimage');
    const result = await cli(['start', '-f', specFile('fraud-badimage', 'v2', { image: 'fail.invalid/model:image-pull-backoff' }), '--wait'], env());
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^bluegreen: release RolledBack: waitForRollout failed \[RolloutFailed\]: pod fraud-badimage-green-\S+ container model-server: ImagePullBackOff/);
    expect(await snapshot('fraud-badimage')).toEqual({ ...before, green: undefined });
  });

  it('refuses a second start for the same model while the first runs', async () => {
    await bootstrap('fraud-twice');
    await cli(['start', '-f', specFile('fraud-twice', 'v2', { approval: { beforeSwitch: true } })], env());
    await waitForStatus('fraud-twice', inPhase('AwaitingApproval'), 'AwaitingApproval');
    const second = await cli(['start', '-f', specFile('fraud-twice', 'v2')], env());
    expect(second.code).toBe(1);
    expect(second.stderr).toBe(`bluegreen: a release of ${namespace}/fraud-twice is already running (version v2, phase AwaitingApproval): bluegreen/${namespace}/fraud-twice; wait for it to end or abort it\n`);
    const early = await cli(['approve', 'fraud-nothing', '-n', namespace], env());
    expect(early).toMatchObject({ code: 1, stderr: `bluegreen: no release of ${namespace}/fraud-nothing found (workflow bluegreen/${namespace}/fraud-nothing)\n` });
    await cli(['abort', 'fraud-twice', '-n', namespace, '--reason', 'test over'], env());
    await waitForStatus('fraud-twice', inPhase('RolledBack'), 'RolledBack');
  });

  it('survives SIGKILL of the worker mid-rollout: a new worker completes the release', async () => {
    await bootstrap('fraud-crash');
    await cli(['start', '-f', specFile('fraud-crash', 'v2', { image: 'slow.invalid/model:slow-start' })], env());
    const t = targetOf(validateSpec({ model: 'fraud-crash', namespace, version: 'v2', image: 'x:1' }));
    await waitForStatus('fraud-crash', inPhase('Deploying'), 'Deploying');
    for (let i = 0; i < 50 && (await readDeployment(kube, t, 'green')) === undefined; i += 1) await new Promise((r) => setTimeout(r, 100));
    expect((await readDeployment(kube, t, 'green'))?.status?.availableReplicas ?? 0).toBe(0);

    expect(await stop(worker.child, 'SIGKILL')).toBe(null);
    worker = await startWorker(workerEnv());

    const done = await waitForStatus('fraud-crash', inPhase('Succeeded'), 'Succeeded', 120_000);
    expect(done.liveSlot).toBe('green');
    const after = await snapshot('fraud-crash');
    expect(after.selector?.slot).toBe('green');
    expect(after.blue).toBeUndefined();
    expect(after.green?.generation).toBe(1);
  }, 180_000);
});
