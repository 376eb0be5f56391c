// A stepped release against a full blue-green of the same size: 4 replicas, each
// release start to result, and the most pods of both slots seen at once (sampled
// every 50 ms, terminating pods included: they still hold their GPUs).
//   BENCH_REPEATS      releases of each kind (default 3)
//   BENCH_EXTRA_PODS   stepped.extraPods (default 1)
//   BENCH_STEP_WINDOW  stepped.window (default 0s: the steps alone; a real window adds itself per step)
import { startRelease } from '../dist/client/releases.js';
import { validateSpec } from '../dist/release/validate.js';
import { benchSpec, onRealNode, realNodeTemplate, report, round, sleep, startStack, summary } from './stack.mjs';

const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const EXTRA = Number(process.env.BENCH_EXTRA_PODS ?? 1);
const WINDOW = process.env.BENCH_STEP_WINDOW ?? '0s';
const REPLICAS = 4;

const stack = await startStack({ name: 'stepped' });
try {
  await stack.startWorker();
  // Real pods leave while the Service selects them: a preStop sleep, as the plan's warning asks.
  const real = onRealNode ? { template: realNodeTemplate({ preStopSeconds: 2 }) } : {};
  const model = 'stepped';
  let peak = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const pods = await stack.kube.core.listNamespacedPod({ namespace: stack.namespace, labelSelector: `bluegreen.dev/service=${model}` });
      peak = Math.max(peak, pods.items.length);
      await sleep(50);
    }
  })();
  let version = 0;
  const release = async (more) => {
    version += 1;
    const spec = validateSpec(benchSpec(stack, model, `v${version}`, { replicas: REPLICAS, ...real, ...more }));
    // The old slot's pods of the last release are gone before this one starts.
    while ((await stack.kube.core.listNamespacedPod({ namespace: stack.namespace, labelSelector: `bluegreen.dev/service=${model}` })).items.length > REPLICAS) await sleep(100);
    peak = 0;
    const t0 = performance.now();
    const result = await (await startRelease(stack.client, spec, stack.taskQueue, 'bench')).result();
    if (result.phase !== 'Succeeded') throw new Error(`v${version}: ${result.phase} ${result.reason}`);
    return { ms: performance.now() - t0, peak };
  };
  await release({});
  const blueGreen = [];
  const stepped = [];
  for (let i = 0; i < REPEATS; i += 1) {
    blueGreen.push(await release({}));
    stepped.push(await release({ stepped: { extraPods: EXTRA, window: WINDOW } }));
  }
  sampling = false;
  await sampler;
  const figures = (runs) => ({ ms: Object.fromEntries(Object.entries(summary(runs.map((r) => r.ms))).map(([k, v]) => [k, k === 'n' ? v : round(v)])), peakPods: Math.max(...runs.map((r) => r.peak)) });
  report('stepped', { replicas: REPLICAS, extraPods: EXTRA, stepWindow: WINDOW, releases: REPEATS, blueGreen: figures(blueGreen), stepped: figures(stepped) });
} finally {
  await stack.stop();
}
