// What every benchmark stands on, all real and all its own: a Temporal dev server
// (in memory), the Kubernetes test cluster (test/cluster/start.sh, or
// BLUEGREEN_KUBECONFIG), a model server on loopback that the checks call, and
// the worker as its own process, built from dist/ as users run it.
//   BENCH_REAL_NODE=1  the releases' pods run as containers on the cluster's real
//                      node and the checks go through their Services (bench/run.mjs
//                      starts the node, in a network namespace of the run's own)
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { kubeFromConfig } from '../dist/activities/cluster.js';
import { searchAttributes } from '../dist/release/ids.js';
import { realNodeTemplate } from '../test/cluster/node/pod-template.mjs';

export const root = new URL('../', import.meta.url).pathname;
const cache = process.env.BLUEGREEN_CACHE ?? join(process.env.HOME ?? '/tmp', '.cache/bluegreen');
const children = new Set();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** Spawns a process and resolves at the first output line matching `ready`. */
export function startProcess(cmd, args, env, ready, timeoutMs = 60_000) {
  const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd} ${args.join(' ')} not ready after ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const onData = (chunk) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => ready.test(l));
      if (line !== undefined) { clearTimeout(timer); resolve({ child, line }); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${cmd} exited with ${code}:\n${out}`)); });
  });
}

export function stopProcess(child, signal = 'SIGTERM') {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  return exited;
}

function temporalCli() {
  if (process.env.TEMPORAL_CLI_PATH) return process.env.TEMPORAL_CLI_PATH;
  const dir = execFileSync('bash', [join(root, 'scripts/temporal-binaries.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  return join(dir, 'temporal');
}

/** Starts the stack; `stop()` takes down what it started. */
export async function startStack({ name }) {
  const stops = [];
  let kubeconfig = process.env.BLUEGREEN_KUBECONFIG;
  if (!kubeconfig) {
    kubeconfig = join(cache, 'kubeconfig-bluegreen-bench');
    const env = { ...process.env, BLUEGREEN_CLUSTER: 'bluegreen-bench', BLUEGREEN_KUBECONFIG: kubeconfig };
    execFileSync('bash', [join(root, 'test/cluster/start.sh')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    stops.push(() => execFileSync('bash', [join(root, 'test/cluster/stop.sh')], { env, stdio: 'ignore' }));
  }
  const config = new KubeConfig();
  config.loadFromFile(kubeconfig);
  const kube = kubeFromConfig(config);
  const namespace = `bench-${name}-${Date.now().toString(36)}`;
  await config.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  stops.push(() => kube.core.deleteNamespace({ name: namespace }).catch(() => undefined));

  const port = await freePort();
  const attrs = Object.values(searchAttributes).flatMap((k) => ['--search-attribute', `${k.name}=Keyword`]);
  // BENCH_EAGER_ACTIVITIES=1: the server hands a workflow task's first activity straight
  // back to its worker (eager activity execution; off by default in the server).
  const eager = process.env.BENCH_EAGER_ACTIVITIES === '1' ? ['--dynamic-config-value', 'system.enableActivityEagerExecution=true'] : [];
  const temporal = await startProcess(temporalCli(), ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'error', ...attrs, ...eager], {}, /Temporal Server:|Server:/, 60_000);
  stops.push(() => stopProcess(temporal.child));
  const address = `127.0.0.1:${port}`;
  let client;
  for (let i = 0; ; i += 1) {
    try {
      client = new Client({ connection: await Connection.connect({ address }) });
      break;
    } catch (err) {
      if (i > 50) throw err;
      await sleep(200);
    }
  }
  stops.push(() => client.connection.close());

  const modelServer = async (delayMs) => {
    const started = await startProcess(process.execPath, ['examples/model-server/server.mjs', '--model', 'examples/model-server/models/fraud-v1.json', '--port', '0', '--delay-ms', String(delayMs)], {}, /^model server:/);
    stops.push(() => stopProcess(started.child));
    return started.line.match(/(http:\/\/\S+)/)[1];
  };
  const modelUrl = await modelServer(0);
  // Answers that take a while, for checks that must last (a crash mid-verification).
  const slowModelUrl = await modelServer(2_000);

  const taskQueue = `bluegreen-${namespace}`;
  const stack = {
    kube, client, namespace, taskQueue, modelUrl, slowModelUrl, address, kubeconfig, worker: undefined,
    /** What else shares the machine with the worker, for CPU figures beside the worker's. */
    neighbours() {
      const pid = (pattern) => { try { return Number(execFileSync('pgrep', ['-of', pattern], { encoding: 'utf8' }).trim()); } catch { return undefined; } };
      return { temporal: temporal.child.pid, apiserver: pid('bin/kube-apiserver'), etcd: pid('bin/etcd'), controllerManager: pid('bin/kube-controller-manager') };
    },
    /** Starts a worker process; `env` overrides its configuration. */
    async startWorker(env = {}) {
      // BENCH_WORKER_NODE_ARGS: node flags NODE_OPTIONS does not take (--cpu-prof --cpu-prof-dir=DIR).
      const nodeArgs = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
      const started = await startProcess(process.execPath, [...nodeArgs, 'dist/worker.js'], {
        TEMPORAL_ADDRESS: address, KUBECONFIG: kubeconfig, BLUEGREEN_TASK_QUEUE: taskQueue, BLUEGREEN_NAMESPACES: namespace,
        BLUEGREEN_VERIFY_HOSTS: '127.0.0.1', ...env,
      }, /bluegreen worker: Temporal/, 90_000);
      stack.worker = started.child;
      return started.child;
    },
    async stop() {
      if (stack.worker) await stopProcess(stack.worker);
      // The bench's own watches (activities called directly) would keep the process alive.
      await kube.watches?.stop();
      for (const s of stops.reverse()) await s();
    },
  };
  return stack;
}

export const onRealNode = process.env.BENCH_REAL_NODE === '1';
export { realNodeTemplate };

/**
 * A spec of a release whose checks call the loopback model server; with
 * BENCH_REAL_NODE=1, of real pods whose checks go through the release's Services.
 */
export function benchSpec(stack, model, version, more = {}) {
  const checks = onRealNode
    ? { template: realNodeTemplate(), port: 8080, verify: { modelName: 'fraud', requests: [] }, monitor: { window: '0s', interval: '1s', initialDelay: '0s' } }
    : {
      image: `registry.example.com/ml/${model}:${version}`,
      verify: { endpoint: stack.modelUrl, liveEndpoint: stack.modelUrl, modelName: 'fraud', requests: [] },
      monitor: { window: '0s', interval: '1s', initialDelay: '0s', endpoint: stack.modelUrl },
    };
  return { model, namespace: stack.namespace, version, replicas: 2, ...checks, scaleDownDelay: '0s', ...more };
}

export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export const summary = (values) => ({ n: values.length, p50: percentile(values, 50), p95: percentile(values, 95), p99: percentile(values, 99), max: Math.max(...values) });
export const round = (v, d = 1) => Math.round(v * 10 ** d) / 10 ** d;

/** The machine and versions every figure is given with. */
export function machine() {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  return { cores: cpus().length, memoryGiB: round(totalmem() / 2 ** 30), node: process.version, temporalSdk: pkg.dependencies['@temporalio/worker'] };
}

/** Prints a result and writes it to bench/results/NAME.json (NAME-real-node.json for real pods). */
export function report(name, result) {
  const dir = join(root, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const pods = onRealNode ? 'real node (containerd, kubelet, kube-proxy)' : 'kwok fake nodes';
  const full = { bench: name, at: new Date().toISOString(), machine: machine(), pods, ...result };
  writeFileSync(join(dir, `${name}${onRealNode ? '-real-node' : ''}.json`), `${JSON.stringify(full, null, 2)}\n`);
  console.log(JSON.stringify(full, null, 2));
}

/** /proc figures of a process: resident memory now and at its peak (MiB), CPU seconds used. */
export function processFigures(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key) => Number(status.match(new RegExp(`${key}:\\s+(\\d+)`))?.[1] ?? NaN);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const ticks = Number(stat[11]) + Number(stat[12]);
  return { rssMiB: round(kib('VmRSS') / 1024), peakRssMiB: round(kib('VmHWM') / 1024), cpuSeconds: round(ticks / 100, 2) };
}
