// Releases verified against a model server we did not write: MLServer 1.7.1 with
// its scikit-learn runtime (installed from PyPI by scripts/model-servers.sh),
// serving a model trained at test time on the iris data set scikit-learn ships.
// Its metadata lists no inputs or outputs unless model-settings.json declares
// them, as MLServer's own examples leave them; both ways must release.
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

beforeAll(async () => {
  const installed = spawnSync('bash', ['scripts/model-servers.sh'], { encoding: 'utf8' });
  if (installed.status !== 0) throw new Error(`scripts/model-servers.sh failed: ${installed.stderr}`);
  const bin = installed.stdout.trim();
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
}, 300_000);
afterAll(async () => {
  if (mlserver !== undefined) await stop(mlserver);
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
      await w.cli(['start', '-f', w.specFile(model, 'v1', spec(model, modelName, [0, 1, 2])), '--wait']);
      const run = await w.cli(['start', '-f', w.specFile(model, 'v2', spec(model, modelName, [0, 1, 2])), '--wait']);
      const status = await w.status(model);
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

  it('a wrong expectation is refused, naming the output and the values', async () => {
    await w.cli(['start', '-f', w.specFile('iris-wrong', 'v1', spec('iris-wrong', 'iris', [0, 1, 2])), '--wait']);
    const run = await w.cli(['start', '-f', w.specFile('iris-wrong', 'v2', spec('iris-wrong', 'iris', [0, 2, 2])), '--wait']);
    expect(run.code).not.toBe(0);
    const status = await w.status('iris-wrong');
    expect(status?.phase).toBe('RolledBack');
    expect(status?.reason).toMatch(/verification failed: request three-flowers: predict\[1\]: expected 2 ± [\d.e-]+, got 1/);
  });
});
