// Every example spec validates, passes preflight with the API server's dry run,
// and a template with args, volumes, an init container, tolerations and three
// ports is applied exactly as given.
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CoreV1Api, KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities } from '../../src/activities/index.js';
import { kubeFromConfig, readDeployment, type Kube } from '../../src/activities/cluster.js';
import { allowedEndpointHosts } from '../../src/config.js';
import { loadSpecFile } from '../../src/release/spec-file.js';
import { targetOf } from '../../src/release/target.js';

/** The environment deploy/worker.yaml gives the worker (literal values). */
function deployedWorkerEnv(): Record<string, string> {
  const docs = parseAllDocuments(readFileSync(new URL('../../deploy/worker.yaml', import.meta.url), 'utf8')).map((d) => d.toJS() as V1Deployment);
  const deployment = docs.find((d) => d.kind === 'Deployment')!;
  const env = deployment.spec?.template.spec?.containers[0]?.env ?? [];
  return Object.fromEntries(env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
}

const namespace = `examples-${randomBytes(3).toString('hex')}`;
const dir = new URL('../../examples/', import.meta.url).pathname;
const specs = readdirSync(dir).filter((f) => f.endsWith('.yaml') && !f.endsWith('-deployment.yaml')).sort();
const gpuNodes = ['a', 'b'].map((n) => `examples-gpu-${n}-${process.pid}`);
let kube: Kube;
let acts: ReturnType<typeof createActivities>;
const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> =>
  new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') }).run(fn, ...args);

beforeAll(async () => {
  const config = new KubeConfig();
  config.loadFromFile(inject('kubeconfig'));
  kube = kubeFromConfig(config);
  await config.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  // The GPU examples need GPUs: a node pool as a GPU cluster labels and taints it (kwok nodes take any capacity).
  const kwokNode = (await kube.core.listNode()).items.find((n) => n.metadata?.annotations?.['kwok.x-k8s.io/node'] !== undefined);
  for (const name of gpuNodes) {
    const gpus = { cpu: '32', memory: '256Gi', pods: '110', 'nvidia.com/gpu': '8' };
    await kube.core.createNode({
      body: {
        metadata: { name, labels: { 'nvidia.com/gpu.present': 'true', 'kubernetes.io/hostname': name }, annotations: kwokNode?.metadata?.annotations ?? { 'kwok.x-k8s.io/node': 'fake' } },
        spec: { taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }] },
        status: { allocatable: gpus, capacity: gpus },
      },
    });
  }
  // fraud-v1/v2 verify against example model servers on loopback, as the demo runs them; the
  // others' analysis queries Prometheus where the worker deploy/ installs allows it.
  acts = createActivities({ kube, allowedEndpointHosts: ['127.0.0.1', ...allowedEndpointHosts(deployedWorkerEnv())] });
});
afterAll(async () => {
  for (const name of gpuNodes) await kube?.core.deleteNode({ name }).catch(() => undefined);
  await kube?.core.deleteNamespace({ name: namespace }).catch(() => undefined);
});

describe('the examples', () => {
  it('include LLM servers (vLLM, TGI), a Triton server and a templateFrom spec', () => {
    expect(specs).toEqual(expect.arrayContaining(['llm-vllm.yaml', 'llm-tgi.yaml', 'triton.yaml', 'mlserver.yaml', 'fraud-v2.yaml']));
  });

  it.each(specs)('%s validates and passes preflight, the API server\'s dry run included', async (file) => {
    const spec = { ...loadSpecFile(`${dir}${file}`), namespace };
    const plan = await run(acts.inspect, spec);
    expect(plan.candidateSlot).toBe('blue');
    // The examples show probes that let a slow model load, and pods that finish the answers they expect.
    expect((plan.warnings ?? []).filter((w) => w.includes('is restarted') || w.includes('to finish their answers'))).toEqual([]);
    expect(await readDeployment(kube, targetOf(spec), plan.candidate.deployment)).toBeUndefined();
  });

  it('applies a template with args, volumes, an init container, tolerations and three ports as given', async () => {
    const spec = { ...loadSpecFile(`${dir}triton.yaml`), namespace };
    const given = spec.template!.spec as Record<string, unknown>;
    const plan = await run(acts.inspect, spec);
    await run(acts.applyCandidate, { target: targetOf(spec), object: plan.object, releaseId: 'bluegreen/examples/run', replicas: 1 });
    const applied = (await readDeployment(kube, targetOf(spec), 'resnet-blue'))?.spec?.template;
    // The API server fills in defaults (imagePullPolicy, terminationMessagePath, ...); everything given is there as given.
    expect(applied?.spec).toMatchObject({
      initContainers: given.initContainers, containers: given.containers, volumes: given.volumes,
      tolerations: given.tolerations, securityContext: given.securityContext, serviceAccountName: 'default',
    });
    expect(applied?.spec?.containers[0]?.ports?.map((p) => [p.name, p.containerPort])).toEqual([['http', 8000], ['grpc', 8001], ['metrics', 8002]]);
    expect(applied?.metadata?.annotations).toEqual({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8002' });
    expect(plan.ports.map((p) => p.name)).toEqual(['http', 'grpc', 'metrics']);
  });

  it('templateFrom carries the Deployment file\'s template with the new image and env, secrets by reference', async () => {
    const spec = loadSpecFile(`${dir}mlserver.yaml`);
    const [container] = spec.template?.spec.containers ?? [];
    expect(container?.env).toContainEqual({ name: 'MLSERVER_MODEL_TOKEN', valueFrom: { secretKeyRef: { name: 'sklearn-secrets', key: 'token' } } });
    expect(spec.template?.metadata?.labels).toEqual({ app: 'sklearn' });
    const plan = await run(acts.inspect, { ...spec, namespace });
    const env = plan.object.spec?.template.spec?.containers[0]?.env;
    expect(env?.map((e) => e.name)).toEqual(['MLSERVER_MODEL_URI', 'MLSERVER_MODEL_TOKEN', 'MLSERVER_MODEL_VERSION']);
  });
});
