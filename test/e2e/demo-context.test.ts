// `bluegreen demo --context`: the demo on the current kube context instead of a
// local cluster, as a user with a cluster of their own runs it. Here the test
// cluster is that context. It must say what is missing where it cannot run
// (no API, no rights) before it starts anything, and otherwise run both releases
// and delete its namespace at the end.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { temporalCli } from '../helpers/binaries.js';
import { freePort } from './processes.js';
import { writeKubeconfig } from './world.js';

const config = new KubeConfig();
config.loadFromFile(inject('kubeconfig'));
const core = config.makeApiClient(CoreV1Api);
const cluster = config.getCurrentCluster()!;
const stranger = `demo-stranger-${randomBytes(3).toString('hex')}`;
afterAll(async () => {
  await core.deleteNamespace({ name: stranger }).catch(() => undefined);
});

/** Runs the demo as `npm run demo -- --context --once` would, with `kubeconfig` as the user's. */
async function demo(kubeconfig: string): Promise<{ code: number | null; out: string }> {
  // Its own Temporal port: the one a user's machine would have free.
  const address = `127.0.0.1:${await freePort()}`;
  const child = spawn('bash', ['examples/demo.sh', '--context', '--once'], {
    env: { ...process.env, KUBECONFIG: kubeconfig, TEMPORAL_ADDRESS: address, BLUEGREEN_DEMO_BUILT: '1', TEMPORAL_CLI_PATH: temporalCli()?.path ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out })));
}

describe('the demo on the current kube context', () => {
  it('says the API does not answer, and starts nothing', async () => {
    const port = await freePort();
    const nowhere = writeKubeconfig({ name: 'nowhere', server: `https://127.0.0.1:${port}`, skipTLSVerify: true }, { name: 'someone', token: 'x' });
    const { code, out } = await demo(nowhere);
    expect(code).toBe(1);
    expect(out).toContain(`bluegreen demo --context: cannot reach the Kubernetes API of context worker at https://127.0.0.1:${port}: fetch failed: ECONNREFUSED\n`);
    expect(out).not.toContain('== starting Temporal');
  });

  it('says which rights the current user lacks, and creates nothing', async () => {
    await core.createNamespace({ body: { metadata: { name: stranger } } });
    await core.createNamespacedServiceAccount({ namespace: stranger, body: { metadata: { name: 'nobody' } } });
    const token = await core.createNamespacedServiceAccountToken({ namespace: stranger, name: 'nobody', body: { spec: { audiences: [], expirationSeconds: 600 } } });
    const { code, out } = await demo(writeKubeconfig(cluster, { name: 'nobody', token: token.status!.token }));
    expect(code).toBe(1);
    expect(out).toMatch(/^bluegreen demo --context: the current user of worker may not: create namespaces, create configmaps in bluegreen-demo, create apps\/deployments in bluegreen-demo, .*; use a context that may, or run the demo on the local cluster \(without --context\)$/m);
    await expect(core.readNamespace({ name: 'bluegreen-demo' })).rejects.toThrow();
  });

  it('neither uses nor deletes a namespace bluegreen-demo that it did not create', async () => {
    await core.createNamespace({ body: { metadata: { name: 'bluegreen-demo' } } });
    try {
      const { code, out } = await demo(inject('kubeconfig'));
      expect(code).toBe(1);
      expect(out).toMatch(/^bluegreen demo --context: namespace bluegreen-demo exists on \S+ and the demo did not create it \(no app\.kubernetes\.io\/part-of=bluegreen-demo label\): the demo neither uses nor deletes it/m);
      expect(out).not.toContain('== starting Temporal');
      expect((await core.readNamespace({ name: 'bluegreen-demo' })).status?.phase).toBe('Active');
    } finally {
      await core.deleteNamespace({ name: 'bluegreen-demo' });
      // The next test creates it again: wait until this one is gone.
      for (let i = 0; i < 120 && await core.readNamespace({ name: 'bluegreen-demo' }).then(() => true, () => false); i += 1) await new Promise((r) => setTimeout(r, 500));
    }
  }, 120_000);

  it('runs both releases there, then deletes its namespace', async () => {
    const { code, out } = await demo(inject('kubeconfig'));
    expect(code, out).toBe(0);
    expect(out).toMatch(/^== the current kube context: \S+ at https:\/\/\S+ \(Kubernetes v1\.\d+/m);
    expect(out).toContain('release Succeeded: v1 is live in blue');
    expect(out).toContain('release Succeeded: v2 is live in green');
    expect(out).toContain('deleted namespace bluegreen-demo');
    const left = await core.readNamespace({ name: 'bluegreen-demo' }).catch(() => undefined);
    expect(left === undefined || left.status?.phase === 'Terminating').toBe(true);
  }, 180_000);
});
