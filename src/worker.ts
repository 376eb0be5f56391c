// The worker process: connects to Temporal and the cluster, runs release
// workflows and their activities until SIGINT or SIGTERM, then drains and exits.
import { fileURLToPath } from 'node:url';
import { KubeConfig, VersionApi } from '@kubernetes/client-node';
import { NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from './activities/index.js';
import { kubeFromConfig, type Kube } from './activities/cluster.js';
import {
  allowedEndpointHosts, allowedNamespaces, clusterName, connectTimeoutMs, kubeconfigVariable, logFormat, maxCachedReleases, metricsAddress,
  checkWorkerSettings, notifyWebhooks, shutdownGraceMs, temporalConfig, uiUrl,
} from './config.js';
import { runtimeLogger, workerLog } from './log.js';
import { prebuiltBundle } from './prebuilt-workflows.js';

/** The workflow code the worker bundles; ships beside this file (src in tests, dist when built). */
export const workflowsPath = fileURLToPath(new URL(`./workflows/index${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));

export interface WorkerSetup {
  connection: NativeConnection;
  kube: Kube;
  options?: Partial<WorkerOptions>;
  env?: NodeJS.ProcessEnv;
}

export async function createWorker({ connection, kube, options, env = process.env }: WorkerSetup): Promise<Worker> {
  const config = temporalConfig(env);
  // Built (dist): the bundle npm run build made, if current; else bundled now.
  const codePath = import.meta.url.endsWith('.js') ? prebuiltBundle(new URL('./', import.meta.url)) : undefined;
  return Worker.create({
    connection,
    namespace: config.namespace,
    taskQueue: config.taskQueue,
    ...(codePath === undefined ? { workflowsPath } : { workflowBundle: { codePath } }),
    activities: createActivities({
      kube, allowedNamespaces: allowedNamespaces(env), allowedEndpointHosts: allowedEndpointHosts(env), clusterName: clusterName(env),
      webhooks: notifyWebhooks(env), uiUrl: uiUrl(env),
    }),
    // An abort reaches a running activity with a heartbeat's answer: keep that prompt.
    maxHeartbeatThrottleInterval: '2s',
    shutdownGraceTime: shutdownGraceMs(env),
    // Bounds memory with many releases in flight; an evicted release replays its history.
    maxCachedWorkflows: maxCachedReleases(env),
    ...options,
  });
}

/** Loads the kubeconfig the way kubectl does (in-cluster, KUBECONFIG, ~/.kube/config) and waits until the API answers. */
export async function connectCluster(env: NodeJS.ProcessEnv = process.env): Promise<KubeConfig> {
  const kubeConfig = new KubeConfig();
  try {
    kubeConfig.loadFromDefault();
  } catch (err) {
    throw new Error(`cannot load the kubeconfig (KUBECONFIG=${kubeconfigVariable(env)}): ${(err as Error).message.split('\n')[0]}`);
  }
  const server = kubeConfig.getCurrentCluster()?.server ?? '(no cluster in kubeconfig)';
  const version = kubeConfig.makeApiClient(VersionApi);
  await patiently(`the Kubernetes API at ${server}`, env, () => version.getCode());
  return kubeConfig;
}

/**
 * Retries `attempt` up to BLUEGREEN_CONNECT_TIMEOUT (default 60s), one line per
 * failed attempt: a worker started beside a server that is still starting, or
 * restarting, waits for it instead of crash-looping.
 */
async function patiently<T>(what: string, env: NodeJS.ProcessEnv, attempt: () => Promise<T>): Promise<T> {
  const log = workerLog(logFormat(env));
  const deadline = Date.now() + connectTimeoutMs(env);
  for (let delay = 500; ; delay = Math.min(delay * 2, 5_000)) {
    try {
      return await attempt();
    } catch (err) {
      const reason = (err as Error).message.split('\n')[0];
      if (Date.now() + delay > deadline) throw new Error(`cannot reach ${what}: ${reason}`);
      log.warn(`bluegreen worker: waiting for ${what} (${reason})`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

export async function connectTemporal(env: NodeJS.ProcessEnv = process.env): Promise<NativeConnection> {
  const { address, tls, apiKey } = temporalConfig(env);
  return patiently(`Temporal at ${address}`, env, () => NativeConnection.connect({ address, tls, apiKey }));
}

/**
 * The SDK's runtime: logs in our format (src/log.ts), and where
 * BLUEGREEN_METRICS_ADDRESS is set, Prometheus metrics there (at /metrics): the
 * SDK's own (workflow and activity tasks, polls, cache) and the releases'
 * (src/workflows/metrics.ts). Must run before any connection is made.
 */
export function installRuntime(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const bindAddress = metricsAddress(env);
  Runtime.install({
    logger: runtimeLogger(logFormat(env)),
    ...(bindAddress === undefined ? {} : {
      telemetryOptions: { metrics: { prometheus: { bindAddress, countersTotalSuffix: true, useSecondsForDurations: true } } },
    }),
  });
  return bindAddress;
}

async function main(): Promise<void> {
  checkWorkerSettings();
  const metrics = installRuntime();
  const kubeConfig = await connectCluster();
  const connection = await connectTemporal();
  const kube = kubeFromConfig(kubeConfig);
  try {
    const worker = await createWorker({ connection, kube });
    const { address, namespace, taskQueue } = temporalConfig();
    const named = clusterName();
    workerLog(logFormat()).info(`bluegreen worker: Temporal ${address} namespace ${namespace} task queue ${taskQueue}; cluster ${named === undefined ? '' : `${named} at `}${kubeConfig.getCurrentCluster()?.server}${metrics === undefined ? '' : `; metrics at http://${metrics}/metrics`}`);
    // The SDK's runtime stops the worker on SIGINT/SIGTERM; run() resolves once in-flight tasks drain.
    await worker.run();
  } finally {
    await kube.watches?.stop();
    await connection.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    const message = `bluegreen worker: ${err instanceof Error ? err.message : String(err)}`;
    // A bad BLUEGREEN_LOG_FORMAT must still be reported, readably.
    try {
      workerLog(logFormat()).error(message);
    } catch {
      console.error(message);
    }
    process.exit(1);
  });
}
