// npm run bench [-- NAME ...]: runs the benchmarks (all, or those named), one
// after another on one test cluster, each printing its figures and writing them
// to bench/results/NAME.json. docs/benchmarks.md says what each measures.
//   BENCH_REAL_NODE=1  real pods on the cluster's real node (bench/stack.mjs)
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { root } from './stack.mjs';

const ALL = ['switch', 'overhead', 'recovery', 'scale', 'stepped'];
const names = process.argv.slice(2);
const unknown = names.filter((n) => !ALL.includes(n));
if (unknown.length > 0) {
  console.error(`bench: unknown benchmark ${unknown.join(', ')}; known: ${ALL.join(', ')}`);
  process.exit(2);
}
const env = { ...process.env };
const cache = env.BLUEGREEN_CACHE ?? join(env.HOME ?? '/tmp', '.cache/bluegreen');
// BENCH_REAL_NODE=1: the run moves into a network namespace of its own (as the
// tests do, test/run.sh), where the cluster gets a real node; what needs the
// network is fetched or built first, since the namespace has no way out.
if (env.BENCH_REAL_NODE === '1' && !env.BLUEGREEN_NETNS) {
  const why = execFileSync('bash', [join(root, 'test/cluster/node/check.sh')], { encoding: 'utf8' }).trim();
  if (why !== '') {
    console.error(`bench: BENCH_REAL_NODE=1 needs the real node, but ${why}`);
    process.exit(2);
  }
  if (env.BLUEGREEN_KUBECONFIG || env.TEMPORAL_ADDRESS) {
    console.error('bench: BENCH_REAL_NODE=1 starts its own cluster and Temporal inside a network namespace: unset BLUEGREEN_KUBECONFIG and TEMPORAL_ADDRESS');
    process.exit(2);
  }
  for (const script of ['scripts/temporal-binaries.sh', 'test/cluster/build.sh', 'test/cluster/node/images.sh']) {
    execFileSync('bash', [join(root, script)], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const inside = spawnSync('bash', [join(root, 'test/cluster/netns.sh'), 'run', `bluegreen-bench-${process.pid}`, process.execPath, ...process.argv.slice(1)], { env, stdio: 'inherit' });
  process.exit(inside.status ?? 1);
}
let stopCluster;
if (!env.BLUEGREEN_KUBECONFIG) {
  env.BLUEGREEN_CLUSTER = 'bluegreen-bench';
  env.BLUEGREEN_KUBECONFIG = join(cache, 'kubeconfig-bluegreen-bench');
  // Room for 1,000 releases: two Services and one pod each (a fake node takes 110 pods).
  env.BLUEGREEN_SERVICE_CIDR ??= '10.96.0.0/16';
  env.BLUEGREEN_NODES ??= '12';
  execFileSync('bash', [join(root, 'test/cluster/start.sh')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  stopCluster = () => execFileSync('bash', [join(root, 'test/cluster/stop.sh')], { env, stdio: 'ignore' });
  if (env.BENCH_REAL_NODE === '1') {
    const nodeEnv = { ...env, BLUEGREEN_NODE_DIR: join(cache, `node-${env.BLUEGREEN_NETNS}`) };
    const stopNode = () => {
      execFileSync('bash', [join(root, 'test/cluster/node/stop.sh')], { env: nodeEnv, stdio: 'ignore' });
      execFileSync('rm', ['-rf', nodeEnv.BLUEGREEN_NODE_DIR]);
    };
    const stopBoth = stopCluster;
    stopCluster = () => { stopNode(); stopBoth(); };
    try {
      execFileSync('bash', [join(root, 'test/cluster/node/start.sh')], { env: nodeEnv, stdio: ['ignore', 'inherit', 'inherit'] });
    } catch (err) {
      stopCluster();
      throw err;
    }
  }
}
let failed = 0;
try {
  for (const name of names.length > 0 ? names : ALL) {
    console.error(`bench: ${name}`);
    const run = spawnSync(process.execPath, [join(root, `bench/${name}.mjs`)], { env, stdio: 'inherit' });
    if (run.status !== 0) failed += 1;
  }
} finally {
  stopCluster?.();
}
process.exit(failed > 0 ? 1 : 0);
