// One Temporal dev server and one Kubernetes test cluster per test run, shared by
// the files that need them (activity and end-to-end layers).
//   BLUEGREEN_KUBECONFIG   use this cluster instead of starting one (test/cluster/start.sh)
//   TEMPORAL_ADDRESS       use this Temporal server instead of starting a dev server
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { searchAttributes } from '../../src/release/ids.js';
import { temporalCli } from '../helpers/binaries.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    /** the real node's name, or why there is none (then realNodeReason is set) */
    realNode: string;
    realNodeReason: string;
    temporalAddress: string;
    temporalDbFile: string;
  }
}

const root = new URL('../../', import.meta.url).pathname;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stops: (() => Promise<void> | void)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop();
  };
  try {
    return await start(project, stops, stopAll);
  } catch (err) {
    // A setup that fails halfway stops what it started: no cluster left running.
    await stopAll().catch(() => undefined);
    throw err;
  }
}

async function start(project: TestProject, stops: (() => Promise<void> | void)[], stopAll: () => Promise<void>): Promise<() => Promise<void>> {

  let kubeconfig = process.env.BLUEGREEN_KUBECONFIG;
  if (!kubeconfig) {
    kubeconfig = join(process.env.BLUEGREEN_CACHE ?? join(process.env.HOME ?? tmpdir(), '.cache/bluegreen'), 'kubeconfig-bluegreen-vitest');
    const env = { ...process.env, BLUEGREEN_CLUSTER: 'bluegreen-vitest', BLUEGREEN_KUBECONFIG: kubeconfig };
    execFileSync('bash', [join(root, 'test/cluster/start.sh')], { env, stdio: ['ignore', 'inherit', 'inherit'] });
    stops.push(() => { execFileSync('bash', [join(root, 'test/cluster/stop.sh')], { env, stdio: 'ignore' }); });
  }
  if (!existsSync(kubeconfig)) throw new Error(`no kubeconfig at ${kubeconfig}`);
  project.provide('kubeconfig', kubeconfig);

  // In the test run's own network namespace (test/run.sh), the cluster gets a real node.
  let realNodeReason = process.env.BLUEGREEN_NETNS ? '' : 'the tests do not run in a network namespace of their own (run them with npm test as root; see test/run.sh)';
  if (process.env.BLUEGREEN_NETNS) {
    const nodeDir = join(process.env.BLUEGREEN_CACHE ?? join(process.env.HOME ?? tmpdir(), '.cache/bluegreen'), `node-${process.env.BLUEGREEN_NETNS}`);
    const env = { ...process.env, BLUEGREEN_KUBECONFIG: kubeconfig, BLUEGREEN_NODE_DIR: nodeDir };
    stops.push(() => { execFileSync('bash', [join(root, 'test/cluster/node/stop.sh')], { env, stdio: 'ignore' }); execFileSync('rm', ['-rf', nodeDir]); });
    try {
      execFileSync('bash', [join(root, 'test/cluster/node/start.sh')], { env, stdio: ['ignore', 'inherit', 'inherit'] });
    } catch (err) {
      if (process.env.BLUEGREEN_REAL_NODE === 'required') throw err;
      realNodeReason = `the real node did not start (logs in ${nodeDir}/logs)`;
    }
  }
  project.provide('realNode', realNodeReason === '' ? (process.env.BLUEGREEN_NODE_NAME ?? 'real-node') : '');
  project.provide('realNodeReason', realNodeReason);

  // The end-to-end worker runs the built JavaScript with its prebuilt workflow bundle, as a user runs it.
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });

  const dbFile = join(mkdtempSync(join(tmpdir(), 'bluegreen-temporal-')), 'temporal.db');
  let address = process.env.TEMPORAL_ADDRESS;
  if (!address) {
    const executable = temporalCli();
    const env = await TestWorkflowEnvironment.createLocal({
      server: {
        ...(executable ? { executable } : {}),
        dbFilename: dbFile,
        searchAttributes: Object.values(searchAttributes),
        extraArgs: ['--log-level', 'error'],
      },
    });
    address = env.address;
    stops.push(() => env.teardown());
  }
  project.provide('temporalAddress', address);
  project.provide('temporalDbFile', dbFile);

  return stopAll;
}
