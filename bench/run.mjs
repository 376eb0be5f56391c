// npm run bench [-- NAME ...]: runs the benchmarks (all, or those named), one
// after another on one test cluster, each printing its figures and writing them
// to bench/results/NAME.json. docs/benchmarks.md says what each measures.
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { root } from './stack.mjs';

const ALL = ['switch', 'overhead', 'recovery', 'scale'];
const names = process.argv.slice(2);
const unknown = names.filter((n) => !ALL.includes(n));
if (unknown.length > 0) {
  console.error(`bench: unknown benchmark ${unknown.join(', ')}; known: ${ALL.join(', ')}`);
  process.exit(2);
}
const env = { ...process.env };
let stopCluster;
if (!env.BLUEGREEN_KUBECONFIG) {
  const cache = env.BLUEGREEN_CACHE ?? join(env.HOME ?? '/tmp', '.cache/bluegreen');
  env.BLUEGREEN_CLUSTER = 'bluegreen-bench';
  env.BLUEGREEN_KUBECONFIG = join(cache, 'kubeconfig-bluegreen-bench');
  // Room for 1,000 releases: two Services and one pod each (a fake node takes 110 pods).
  env.BLUEGREEN_SERVICE_CIDR ??= '10.96.0.0/16';
  env.BLUEGREEN_NODES ??= '12';
  execFileSync('bash', [join(root, 'test/cluster/start.sh')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  stopCluster = () => execFileSync('bash', [join(root, 'test/cluster/stop.sh')], { env, stdio: 'ignore' });
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
