// Releases verified against model servers we did not write, installed from PyPI
// by scripts/model-servers.sh: MLServer 1.7.1 with its scikit-learn runtime,
// serving a model trained at test time on the iris data set scikit-learn ships,
// and KServe 0.21.0's Python model server with two small custom models
// (test/servers/kserve-model.py: numbers in FP32, and texts labelled as BYTES
// tensors). Their metadata lists no inputs or outputs
// unless the model declares them, as their own examples leave them; both ways
// must release.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ReleaseSpecInput } from '../../src/release/spec.js';
import { freePort, stop } from './processes.js';
import { World } from './world.js';

/** The first flower of each species (rows 0, 50 and 100 of the data set): setosa, versicolor, virginica. */
const FLOWERS = [{ name: 'flowers', shape: [3, 4], datatype: 'FP32' as const, data: [5.1, 3.5, 1.4, 0.2, 7.0, 3.2, 4.7, 1.4, 6.3, 3.3, 6.0, 2.5] }];

let w: World;
let mlserver: ChildProcess | undefined;
let url = '';
const kserve: ChildProcess[] = [];
/**
 * KServe's model `fraud` with the right weights, and with one weight of the wrong sign;
 * beside each, `triage` (BYTES texts in, BYTES labels out), the wrong one blind to "declined".
 */
const kserveUrl = { right: '', wrong: '' };

function installed(server: 'mlserver' | 'kserve'): string {
  const run = spawnSync('bash', ['scripts/model-servers.sh', server], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`scripts/model-servers.sh ${server} failed: ${run.stderr}`);
  return run.stdout.trim();
}

async function startKServe(bin: string, weights: string, triageWords: string): Promise<string> {
  const port = await freePort();
  const args = ['test/servers/kserve-model.py', '--model_name', 'fraud', '--weights', weights, '--triage_words', triageWords, '--http_port', String(port)];
  const child = spawn(join(bin, 'python'), args, { stdio: 'ignore' });
  kserve.push(child);
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  while (!(await fetch(`${base}/v2/models/fraud/ready`).then((r) => r.ok, () => false))) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`KServe's model server did not become ready at ${base}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return base;
}

beforeAll(async () => {
  const bin = installed('mlserver');
  const kserveBin = installed('kserve');
  const kserveStarted = Promise.all([startKServe(kserveBin, '0.5,-1,2', 'declined,stolen'), startKServe(kserveBin, '0.5,-1,-2', 'stolen')]);
  w = await new World({ prefix: 'third-party', temporalAddress: inject('temporalAddress'), kubeconfig: inject('kubeconfig') }).start();
  const dir = join(w.dir, 'mlserver');
  // One model file, served twice: without a signature (as MLServer's examples) and with one declared.
  for (const [name, declared] of [['iris', false], ['iris-declared', true]] as const) {
    mkdirSync(join(dir, name), { recursive: true });
    const trained = spawnSync(join(bin, 'python'), ['test/servers/train-iris.py', join(dir, name, 'model.joblib')], { encoding: 'utf8' });
    expect(trained.stdout.trim(), trained.stderr).toBe('[0, 1, 2]');
    const signature = declared
      ? { inputs: [{ name: 'flowers', datatype: 'FP32', shape: [-1, 4] }], outputs: [{ name: 'predict', datatype: 'INT64', shape: [-1, 1] }] }
      : {};
    writeFileSync(join(dir, name, 'model-settings.json'), JSON.stringify({ name, implementation: 'mlserver_sklearn.SKLearnModel', parameters: { uri: './model.joblib', version: 'v1' }, ...signature }));
  }
  const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(join(dir, 'settings.json'), JSON.stringify({ host: '127.0.0.1', http_port: http, grpc_port: grpc, metrics_port: metrics, parallel_workers: 0 }));
  mlserver = spawn(join(bin, 'mlserver'), ['start', '.'], { cwd: dir, stdio: 'ignore' });
  url = `http://127.0.0.1:${http}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    const ready = await Promise.all(['iris', 'iris-declared'].map((m) => fetch(`${url}/v2/models/${m}/ready`).then((r) => r.ok, () => false)));
    if (ready.every(Boolean)) break;
    if (Date.now() > deadline || mlserver.exitCode !== null) throw new Error(`MLServer did not become ready at ${url}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  [kserveUrl.right, kserveUrl.wrong] = await kserveStarted;
}, 300_000);
afterAll(async () => {
  if (mlserver !== undefined) await stop(mlserver);
  await Promise.all(kserve.map((k) => stop(k)));
  await w?.close();
});

/** A release whose checks go to MLServer's model `modelName`, expecting these classes. */
function spec(model: string, modelName: string, expected: number[]): Partial<ReleaseSpecInput> {
  return {
    readinessPath: '/v2/health/ready',
    verify: { endpoint: url, liveEndpoint: url, modelName, requests: [{ name: 'three-flowers', inputs: FLOWERS, expected: { predict: expected } }] },
    monitor: { window: '1s', interval: '1s', initialDelay: '0s', endpoint: url },
  };
}

describe('MLServer 1.7.1 with scikit-learn', () => {
  for (const modelName of ['iris', 'iris-declared']) {
    it(`a correct model passes verification (${modelName === 'iris' ? 'no signature declared' : 'a declared signature'})`, async () => {
      const model = `${modelName}-ok`;
      const { run, status } = await w.releaseOver(model, spec(model, modelName, [0, 1, 2]), spec(model, modelName, [0, 1, 2]));
      expect(run.code, status?.reason).toBe(0);
      expect(status?.phase).toBe('Succeeded');
      const signature = status?.verification?.checks.find((c) => c.name === 'signature');
      expect(signature?.ok).toBe(true);
      expect(signature?.detail).toBe(modelName === 'iris'
        ? 'compatible with the live model: inputs not declared; outputs not declared'
        : 'compatible with the live model: inputs flowers FP32[-1,4]; outputs predict INT64[-1,1]');
      expect(status?.verification?.checks.find((c) => c.name === 'request three-flowers')?.ok).toBe(true);
    });
  }

  it('a pinned model version (/versions/v1) with the request\'s and the tensor\'s parameters passes; a version the server does not serve is refused in its own words', async () => {
    const pinned = (version: string) => {
      const given = spec('iris-pinned', 'iris', [0, 1, 2]);
      return {
        ...given, verify: {
          ...given.verify, modelVersion: version, liveModelVersion: 'v1',
          requests: [{ name: 'three-flowers', inputs: [{ ...FLOWERS[0]!, parameters: { content_type: 'np' } }], parameters: { content_type: 'np' }, expected: { predict: [0, 1, 2] } }],
        },
      };
    };
    const { run, status } = await w.releaseOver('iris-pinned', pinned('v1'), pinned('v1'));
    expect(run.code, status?.reason).toBe(0);
    expect(status?.verification?.checks.find((c) => c.name === 'request three-flowers')?.ok).toBe(true);
    const missing = await w.cli(['start', '-f', w.specFile('iris-pinned', 'v2', pinned('v9')), '--wait']);
    expect(missing.code).not.toBe(0);
    const refused = await w.status('iris-pinned');
    expect(refused?.phase).toBe('RolledBack');
    expect(refused?.reason).toMatch(/^verification failed: signature: the candidate's model metadata could not be read: GET http:\S+\/v2\/models\/iris\/versions\/v9 answered HTTP 404: .*v9/);
  });

  it('a wrong expectation is refused, naming the output and the values', async () => {
    const { run, status } = await w.releaseOver('iris-wrong', spec('iris-wrong', 'iris', [0, 1, 2]), spec('iris-wrong', 'iris', [0, 2, 2]));
    expect(run.code).not.toBe(0);
    expect(status?.phase).toBe('RolledBack');
    expect(status?.reason).toMatch(/verification failed: request three-flowers: predict\[1\]: expected 2 ± [\d.e-]+, got 1/);
  });
});

describe('KServe 0.21.0\'s model server with a custom model', () => {
  /** Two rows of three features: sigmoid(0.5 - 2 + 6) and sigmoid(0). */
  const ROWS = [{ name: 'features', shape: [2, 3], datatype: 'FP32' as const, data: [1, 2, 3, 0, 0, 0] }];
  const kspec = (candidate: string): Partial<ReleaseSpecInput> => ({
    readinessPath: '/v2/health/ready',
    verify: {
      endpoint: candidate, liveEndpoint: kserveUrl.right, modelName: 'fraud',
      requests: [{ name: 'two-rows', inputs: ROWS, expected: { fraud: [0.989013, 0.5] }, tolerance: 1e-5 }],
    },
    monitor: { window: '1s', interval: '1s', initialDelay: '0s', endpoint: candidate },
  });

  it('a correct model passes verification with its signature undeclared', async () => {
    const { run, status } = await w.releaseOver('kserve-ok', kspec(kserveUrl.right), kspec(kserveUrl.right));
    expect(run.code, status?.reason).toBe(0);
    expect(status?.phase).toBe('Succeeded');
    const checks = Object.fromEntries(status!.verification!.checks.map((c) => [c.name, c]));
    expect(checks.signature).toMatchObject({ ok: true, detail: 'compatible with the live model: inputs not declared; outputs not declared' });
    expect(checks['request two-rows']?.ok).toBe(true);
  });

  it('a candidate that answers other values is refused, naming the output and the values', async () => {
    const { run, status } = await w.releaseOver('kserve-wrong', kspec(kserveUrl.right), kspec(kserveUrl.wrong));
    expect(run.code).not.toBe(0);
    expect(status?.phase).toBe('RolledBack');
    // sigmoid(0.5 - 2 - 6) with the wrong sign on the third weight.
    expect(status?.reason).toMatch(/^verification failed: request two-rows: fraud\[0\]: expected 0\.989013 ± [\d.e-]+, got 0\.000553/);
  });

  it('a model name the server does not serve is refused with the server\'s own words', async () => {
    const named = kspec(kserveUrl.right);
    const { run, status } = await w.releaseOver('kserve-name', named, { ...named, verify: { ...named.verify, modelName: 'fraud-v3' } });
    expect(run.code).not.toBe(0);
    expect(status?.phase).toBe('RolledBack');
    expect(status?.reason).toContain('Model with name fraud-v3 does not exist.');
  });

  describe('BYTES tensors: texts in, labels out', () => {
    const texts = (data: string[]) => [{ name: 'text', shape: [data.length], datatype: 'BYTES' as const, data }];
    const tspec = (candidate: string): Partial<ReleaseSpecInput> => ({
      readinessPath: '/v2/health/ready',
      verify: {
        endpoint: candidate, liveEndpoint: kserveUrl.right, modelName: 'triage',
        requests: [{ name: 'tickets', inputs: texts(['My card was DECLINED twice', 'Where is my parcel?']), expected: { label: ['fraud', 'other'] } }],
        // Recorded traffic, answered by the live model and the candidate alike.
        shadow: { inputs: [{ inputs: texts(['stolen card used abroad', 'card declined at the pump', 'thanks!']) }], minAgreement: 1 },
      },
      monitor: { window: '1s', interval: '1s', initialDelay: '0s', endpoint: candidate },
    });

    it('a text model whose labels match passes the golden request and the shadow comparison', async () => {
      const { run, status } = await w.releaseOver('kserve-text', tspec(kserveUrl.right), tspec(kserveUrl.right));
      expect(run.code, status?.reason).toBe(0);
      const checks = Object.fromEntries(status!.verification!.checks.map((c) => [c.name, c]));
      expect(checks['request tickets']?.ok).toBe(true);
      expect(checks['shadow agreement']).toMatchObject({ ok: true });
    });

    it('a candidate that labels a text otherwise is refused, naming the element and both labels', async () => {
      const { run, status } = await w.releaseOver('kserve-text-wrong', tspec(kserveUrl.right), tspec(kserveUrl.wrong));
      expect(run.code).not.toBe(0);
      console.log(`third-party (KServe, BYTES): ${status?.reason}`);
      expect(status?.phase).toBe('RolledBack');
      expect(status?.reason).toMatch(/^verification failed: request tickets: label\[0\]: expected "fraud", got "other"/);
      const shadow = status!.verification!.checks.find((c) => c.name === 'shadow agreement');
      expect(shadow).toMatchObject({ ok: false });
      expect(shadow?.detail).toMatch(/^\d+ of \d+ outputs agree/);
    });
  });
});
