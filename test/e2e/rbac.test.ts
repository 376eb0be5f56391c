// The worker authenticated as the ServiceAccount of deploy/ (the kustomize base,
// rendered by kubectl kustomize and applied to the test cluster): the ClusterRole
// must grant every verb a release uses, and nothing outside the namespaces it is
// bound in.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { KubeConfig, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities } from '../../src/activities/index.js';
import { kubeFromConfig, readDeployment } from '../../src/activities/cluster.js';
import { validateSpec } from '../../src/release/validate.js';
import { startModelServer } from './processes.js';
import { World, writeKubeconfig } from './world.js';

// kubectl is built beside the control plane (test/cluster/build.sh).
const kubectl = execFileSync('bash', ['-c', '. test/cluster/versions.sh && echo "$K8S_BIN_DIR/kubectl"'], { encoding: 'utf8' }).trim();
const rendered = execFileSync(kubectl, ['kustomize', 'deploy'], { encoding: 'utf8' });
const manifests = parseAllDocuments(rendered).map((d) => d.toJS() as KubernetesObject);
let w: World;
let saKubeconfig: string;

/** Applies deploy/ as kustomize renders it, binding the role in the world's namespace, and writes a kubeconfig with the ServiceAccount's token. */
async function asServiceAccount(world: World): Promise<void> {
  const admin = new KubeConfig();
  admin.loadFromFile(inject('kubeconfig'));
  const objects = KubernetesObjectApi.makeApiClient(admin);
  for (const m of manifests) {
    const object = m.kind === 'RoleBinding' || m.kind === 'Role' ? { ...m, metadata: { ...m.metadata, namespace: world.namespace } } : m;
    await objects.create(object).catch((err: { code?: number }) => { if (err.code !== 409) throw err; });
  }
  const token = await world.kube.core.createNamespacedServiceAccountToken({
    name: 'bluegreen-worker', namespace: 'bluegreen-system', body: { spec: { expirationSeconds: 3600, audiences: [] } },
  });
  const cluster = admin.getCurrentCluster();
  if (!cluster || !token.status?.token) throw new Error('no cluster or token');
  saKubeconfig = writeKubeconfig(cluster, { name: 'bluegreen-worker', token: token.status.token });
  world.options = { ...world.options, workerKubeconfig: saKubeconfig };
}

beforeAll(async () => {
  w = await new World({ prefix: 'rbac', temporalAddress: inject('temporalAddress'), kubeconfig: inject('kubeconfig'), prepare: asServiceAccount }).start();
});
afterAll(async () => {
  if (w) console.log(w.report('rbac'));
  await w?.close();
});

describe('the worker as the ServiceAccount of deploy/', () => {
  it('the kustomize base renders the worker, its ServiceAccount, role and egress policy, and the API server takes them', async () => {
    expect(manifests.map((m) => `${m.kind}/${m.metadata?.name}`)).toEqual([
      'Namespace/bluegreen-system', 'ServiceAccount/bluegreen-worker', 'Role/bluegreen-request-headers', 'ClusterRole/bluegreen-capacity', 'ClusterRole/bluegreen-release',
      'RoleBinding/bluegreen-request-headers', 'RoleBinding/bluegreen-worker', 'ClusterRoleBinding/bluegreen-capacity',
      'Deployment/bluegreen-worker', 'NetworkPolicy/bluegreen-worker-egress',
    ]);
    // The egress policy lets the worker reach the Prometheus the docs' analysis examples name.
    const policy = manifests.find((m) => m.kind === 'NetworkPolicy') as unknown as { spec: { egress: { to?: unknown[]; ports?: unknown[] }[] } };
    expect(policy.spec.egress).toContainEqual({
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ protocol: 'TCP', port: 9090 }],
    });
    const worker = await w.kube.apps.readNamespacedDeployment({ name: 'bluegreen-worker', namespace: 'bluegreen-system' });
    const pod = worker.spec?.template.spec;
    expect(pod?.serviceAccountName).toBe('bluegreen-worker');
    expect(pod?.securityContext?.runAsNonRoot).toBe(true);
    expect(pod?.containers[0]?.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(pod?.containers[0]?.env?.map((e) => e.name)).toEqual(expect.arrayContaining(['BLUEGREEN_NAMESPACES', 'BLUEGREEN_METRICS_ADDRESS', 'NODE_OPTIONS', 'BLUEGREEN_NOTIFY']));
  });

  it('deploy/ui.yaml: the page behind oauth2-proxy, on loopback only, without the cluster\'s credentials; the API server takes it', async () => {
    const ui = parseAllDocuments(readFileSync('deploy/ui.yaml', 'utf8')).map((d) => d.toJS() as KubernetesObject);
    expect(ui.map((m) => `${m.kind}/${m.metadata?.name}`)).toEqual(['Deployment/bluegreen-ui', 'Service/bluegreen-ui', 'NetworkPolicy/bluegreen-ui-egress']);
    const admin = new KubeConfig();
    admin.loadFromFile(inject('kubeconfig'));
    const objects = KubernetesObjectApi.makeApiClient(admin);
    for (const m of ui) await objects.create(m, undefined, 'All');
    const pod = (ui[0] as unknown as { spec: { template: { spec: { automountServiceAccountToken: boolean; containers: { name: string; command?: string[]; args?: string[] }[] } } } }).spec.template.spec;
    expect(pod.automountServiceAccountToken).toBe(false);
    const page = pod.containers.find((c) => c.name === 'ui')!;
    expect(page.command).toEqual(['node', 'dist/client/cli.js', 'ui', '--address', '127.0.0.1', '--port', '8080', '--user-header', 'X-Forwarded-User']);
    expect(pod.containers.find((c) => c.name === 'oauth2-proxy')!.args).toEqual(expect.arrayContaining(['--upstream=http://127.0.0.1:8080/', '--pass-user-headers=true']));
  });

  it('runs a first release, a blue-green release and an abort', async () => {
    const watch = await w.bootstrap('rbac-model');
    const v2 = await w.cli(['start', '-f', w.specFile('rbac-model', 'v2', { previewReplicas: 1 }), '--wait']);
    expect(v2.stderr).toBe('');
    expect(v2.code).toBe(0);
    const before = await w.snapshot('rbac-model');
    await w.cli(['start', '-f', w.specFile('rbac-model', 'v1', { monitor: { window: '10m', interval: '1s', endpoint: w.url('v1') } })]);
    await w.waitForPhase('rbac-model', 'Monitoring');
    await w.cli(['abort', 'rbac-model', '-n', w.namespace, '--reason', 'rbac test']);
    await w.waitForPhase('rbac-model', 'RolledBack');
    expect(await w.snapshot('rbac-model')).toEqual({ ...before, blue: undefined });
    await watch.done();
  }, 180_000);

  it('reads a request header from the Secret its role names: refused in preflight while the Secret is missing, passed once it is there, the key never in the history', async () => {
    const key = `k3y-${w.namespace}`;
    const keyed = (v: string) => startModelServer(`examples/model-server/models/fraud-${v}.json`, 0, ['--api-key', key]);
    const [v1, v2] = await Promise.all([keyed('v1'), keyed('v2')]);
    try {
      const watch = await w.bootstrap('rbac-key');
      const spec = w.specFile('rbac-key', 'v2', {
        verify: { ...w.verify('v2', v2.url), liveEndpoint: v1.url, headers: [{ name: 'Authorization', secretKeyRef: { name: 'model-api-key', key: 'header' } }] },
        monitor: { window: '3s', interval: '1s', initialDelay: '0s', endpoint: v2.url },
      });
      const refused = await w.cli(['start', '-f', spec, '--wait']);
      expect(refused.code).not.toBe(0);
      const status = await w.status('rbac-key');
      expect(status?.phase, status?.reason).toBe('RolledBack');
      expect(status?.reason).toBe(`inspect failed [PreflightRefused]: verify.headers[0] (Authorization): Secret ${w.namespace}/model-api-key has no key "header" (or does not exist)`);
      expect(await readDeployment(w.kube, w.target('rbac-key'), 'rbac-key-green')).toBeUndefined();

      await w.kube.core.createNamespacedSecret({ namespace: w.namespace, body: { metadata: { name: 'model-api-key' }, stringData: { header: `Bearer ${key}` } } });
      const released = await w.cli(['start', '-f', spec, '--wait']);
      expect(released.code, released.stderr).toBe(0);
      const done = await w.waitFor('rbac-key', (s) => s.phase === 'Succeeded' && s.verification !== undefined, 'Succeeded');
      expect(done.verification?.checks.map((c) => [c.name, c.ok])).toEqual([['preview endpoints', true], ['health', true], ['signature', true], ['request two-rows', true]]);
      expect(done.analysis?.ok).toBe(true);
      const history = await w.client.workflow.getHandle(`bluegreen/${w.namespace}/rbac-key`).fetchHistory();
      expect(JSON.stringify(history)).not.toContain(key);
      await watch.done();
    } finally {
      v1.stop();
      v2.stop();
    }
  }, 180_000);

  it('is refused outside the namespaces its role is bound in, with a reason no retry changes', async () => {
    const config = new KubeConfig();
    config.loadFromFile(saKubeconfig);
    const acts = createActivities({ kube: kubeFromConfig(config) });
    const spec = validateSpec({ model: 'elsewhere', namespace: 'default', version: 'v1', image: 'x:1' });
    const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
    await expect(env.run(acts.inspect, spec)).rejects.toMatchObject({ type: 'KubernetesRejected', nonRetryable: true, message: expect.stringContaining('HTTP 403') });
  });
});
