// Everything an end-to-end test file needs, all real: its own namespace on the
// test cluster, the worker as a process, v1 and v2 model servers, a Temporal
// client, the CLI, and the zero-downtime watcher.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { CoreV1Api, KubeConfig, type Cluster, type User } from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { kubeFromConfig, readDeployment, readService, type Kube } from '../../src/activities/cluster.js';
import { readStatus } from '../../src/client/releases.js';
import type { ReleaseSpecInput } from '../../src/release/spec.js';
import type { Phase, ReleaseStatus } from '../../src/release/status.js';
import { targetOf, type Target } from '../../src/release/target.js';
import { validateSpec } from '../../src/release/validate.js';
import { cli, spawnCli, startModelServer, startWorker, stop, type CliResult, type Started } from './processes.js';
import { watchDowntime, type DowntimeReport } from './downtime-watcher.js';

const GOLDEN = { v1: [0.562177, 0.53743], v2: [0.731059, 0.562177] };

/** Writes a one-context kubeconfig for the worker to a fresh temporary file and returns its path. */
export function writeKubeconfig(cluster: Cluster, user: User): string {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [cluster], users: [user],
    contexts: [{ name: 'worker', cluster: cluster.name, user: user.name }], currentContext: 'worker',
  });
  const file = join(mkdtempSync(join(tmpdir(), 'bluegreen-kubeconfig-')), 'kubeconfig');
  writeFileSync(file, config.exportConfig());
  return file;
}

export interface WorldOptions {
  prefix: string;
  temporalAddress: string;
  kubeconfig: string;
  modelDelayMs?: number;
  /** the worker's own kubeconfig (default: kubeconfig) */
  workerKubeconfig?: string;
  /** more of the worker's environment */
  workerEnv?: NodeJS.ProcessEnv;
  /** called after the namespace exists, before the worker starts */
  prepare?: (world: World) => Promise<void>;
}

export class World {
  readonly namespace: string;
  readonly taskQueue: string;
  readonly downtime: DowntimeReport = { samples: 0, noReady: 0, mixed: 0, examples: [] };
  kube!: Kube;
  client!: Client;
  worker?: Started;
  private servers!: Record<'v1' | 'v2', { url: string; stop: () => void }>;
  readonly dir = mkdtempSync(join(tmpdir(), 'bluegreen-e2e-'));

  constructor(public options: WorldOptions) {
    this.namespace = `${options.prefix}-${randomBytes(3).toString('hex')}`;
    this.taskQueue = `bluegreen-${this.namespace}`;
  }

  async start(): Promise<this> {
    const config = new KubeConfig();
    config.loadFromFile(this.options.kubeconfig);
    this.kube = kubeFromConfig(config);
    await config.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: this.namespace } } });
    const [v1, v2] = await Promise.all([
      startModelServer('examples/model-server/models/fraud-v1.json'),
      startModelServer('examples/model-server/models/fraud-v2.json', this.options.modelDelayMs),
    ]);
    this.servers = { v1, v2 };
    await this.options.prepare?.(this);
    await this.connect();
    await this.startWorker();
    return this;
  }

  async connect(): Promise<void> {
    await this.client?.connection.close().catch(() => undefined);
    this.client = new Client({ connection: await Connection.connect({ address: this.options.temporalAddress }) });
  }

  async startWorker(): Promise<void> {
    const kubeconfig = this.options.workerKubeconfig ?? this.options.kubeconfig;
    this.worker = await startWorker({ temporalAddress: this.options.temporalAddress, kubeconfig, taskQueue: this.taskQueue, namespaces: this.namespace, env: this.options.workerEnv });
  }

  /** SIGKILL: no drain, no goodbye, as when a node dies. */
  async killWorker(): Promise<void> {
    if (this.worker) expect(await stop(this.worker.child, 'SIGKILL')).toBe(null);
    this.worker = undefined;
  }

  async close(): Promise<void> {
    this.servers?.v1.stop();
    this.servers?.v2.stop();
    if (this.worker) await stop(this.worker.child);
    await this.client?.connection.close().catch(() => undefined);
    await this.kube?.core.deleteNamespace({ name: this.namespace }).catch(() => undefined);
  }

  cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
    return cli(args, { ...this.cliEnv(), ...env });
  }

  /** The CLI as a running process, for tests that interrupt it or read it while it follows. */
  spawnCli(args: string[], tty = false): ReturnType<typeof spawnCli> {
    return spawnCli(args, this.cliEnv(), tty);
  }

  private cliEnv(): NodeJS.ProcessEnv {
    return { TEMPORAL_ADDRESS: this.options.temporalAddress, BLUEGREEN_TASK_QUEUE: this.taskQueue, BLUEGREEN_USER: 'e2e' };
  }

  target(model: string): Target {
    return targetOf(validateSpec({ model, namespace: this.namespace, version: 'x', image: 'x:1' }));
  }

  /** A spec file whose checks hit the model server of its version. */
  specFile(model: string, version: 'v1' | 'v2', more: Partial<ReleaseSpecInput> = {}): string {
    const server = this.servers[version];
    const spec: ReleaseSpecInput = {
      model, namespace: this.namespace, version, image: `registry.example.com/ml/fraud:${version}`, replicas: 2,
      verify: this.verify(version),
      // Model servers on loopback: no node proxy to wait for.
      monitor: { window: '3s', interval: '1s', initialDelay: '0s', endpoint: server.url },
      scaleDownDelay: '1s',
      ...more,
    };
    const file = join(this.dir, `${model}-${version}-${randomBytes(2).toString('hex')}.json`);
    writeFileSync(file, JSON.stringify(spec, null, 2));
    return file;
  }

  /**
   * Verification with the golden answer of a version, against its server or
   * `endpoint`; the live model (signature, shadow) is the other version's server.
   */
  verify(version: 'v1' | 'v2', endpoint = this.servers[version].url): NonNullable<ReleaseSpecInput['verify']> {
    return {
      endpoint, liveEndpoint: this.servers[version === 'v1' ? 'v2' : 'v1'].url, modelName: 'fraud', maxLatencyMs: 20_000,
      requests: [{ name: 'two-rows', inputs: [{ name: 'features', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3, 0.5, 0, 1] }], expected: { probability: GOLDEN[version] }, tolerance: 1e-4 }],
    };
  }

  /**
   * Releases v1 from `live`, then v2 from `candidate`, each waited for: the
   * second start's CLI result, and the release's status after it.
   */
  async releaseOver(model: string, live: Partial<ReleaseSpecInput>, candidate: Partial<ReleaseSpecInput>) {
    await this.cli(['start', '-f', this.specFile(model, 'v1', live), '--wait']);
    const run = await this.cli(['start', '-f', this.specFile(model, 'v2', candidate), '--wait']);
    return { run, status: await this.status(model) };
  }

  url(version: 'v1' | 'v2'): string {
    return this.servers[version].url;
  }

  async status(model: string): Promise<ReleaseStatus | undefined> {
    return readStatus(this.client, { namespace: this.namespace, service: model }).catch(() => undefined);
  }

  async waitFor(model: string, pred: (s: ReleaseStatus) => boolean, what: string, timeoutMs = 120_000): Promise<ReleaseStatus> {
    const deadline = Date.now() + timeoutMs;
    let last: ReleaseStatus | undefined;
    while (Date.now() < deadline) {
      last = await this.status(model);
      if (last !== undefined && pred(last)) return last;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`release of ${model} never got to ${what}; last phase ${last?.phase}${last?.reason ? ` (${last.reason})` : ""}: ${JSON.stringify(last?.timeline.slice(-3))}`);
  }

  /** Polls `done` until it holds (the cluster's controllers catching up). */
  async waitUntil(done: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
    for (const deadline = Date.now() + timeoutMs; !await done();) {
      if (Date.now() > deadline) throw new Error(`never: ${what} (after ${timeoutMs}ms)`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  waitForPhase(model: string, phase: Phase, timeoutMs?: number): Promise<ReleaseStatus> {
    return this.waitFor(model, (s) => s.phase === phase, phase, timeoutMs);
  }

  /** Everything a rollback must restore, as the API server holds it. */
  async snapshot(model: string) {
    const t = this.target(model);
    const [service, preview, blue, green] = await Promise.all([
      readService(this.kube, t, model), readService(this.kube, t, `${model}-preview`), readDeployment(this.kube, t, `${model}-blue`), readDeployment(this.kube, t, `${model}-green`),
    ]);
    const slot = (d: typeof blue) => d && { spec: d.spec, labels: d.metadata?.labels, generation: d.metadata?.generation };
    return { selector: service?.spec?.selector, preview: preview?.spec, blue: slot(blue), green: slot(green) };
  }

  /** Releases v1 as a first release, then watches the live Service until `done` is called. */
  async bootstrap(model: string): Promise<{ done: () => Promise<void> }> {
    const first = await this.cli(['start', '-f', this.specFile(model, 'v1'), '--wait']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('release Succeeded: v1 is live in blue');
    const watcher = watchDowntime(this.kube, this.namespace, model);
    return {
      done: async () => {
        const r = await watcher.stop();
        this.downtime.samples += r.samples;
        this.downtime.noReady += r.noReady;
        this.downtime.mixed += r.mixed;
        expect(r.samples).toBeGreaterThan(10);
        expect(r, r.examples.join('; ')).toMatchObject({ noReady: 0, mixed: 0 });
      },
    };
  }

  report(label: string): string {
    return `zero-downtime watcher (${label}): ${this.downtime.samples} samples, ${this.downtime.noReady} without a ready pod, ${this.downtime.mixed} with both slots`;
  }
}
