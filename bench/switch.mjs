// Switch latency: from the `approve` signal sent to the live Service's selector
// changed, and to its EndpointSlices holding only the new slot's pods, over many
// releases; beside it, the same selector patch made directly, and its settling.
//   BENCH_RELEASES  releases to measure (default 50)
import { randomUUID } from 'node:crypto';
import { patchSelector } from '../dist/activities/cluster.js';
import { startRelease } from '../dist/client/releases.js';
import { approveSignal, statusQuery } from '../dist/release/messages.js';
import { validateSpec } from '../dist/release/validate.js';
import { benchSpec, onRealNode, realNodeTemplate, report, round, sleep, startStack, summary } from './stack.mjs';
import { watchNamespace } from './watch.mjs';

const N = Number(process.env.BENCH_RELEASES ?? 50);
const stack = await startStack({ name: 'switch' });
try {
  await stack.startWorker();
  const watcher = await watchNamespace(stack.kubeconfig, stack.namespace);
  const ns = stack.namespace;

  /** Polls the status query until `pred` holds. */
  async function statusWhen(model, pred, timeoutMs = 120_000) {
    const handle = stack.client.workflow.getHandle(`bluegreen/${ns}/${model}`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await handle.query(statusQuery).catch(() => undefined);
      if (status && pred(status)) return status;
      if (Date.now() > deadline) throw new Error(`release of ${model}: ${status?.phase} ${status?.reason ?? ''}`);
      await sleep(50);
    }
  }

  // Orchestrated: a first release, then N releases, each approved at the gate before the switch.
  const model = 'switch';
  await startRelease(stack.client, validateSpec(benchSpec(stack, model, 'v0')), stack.taskQueue, 'bench');
  await statusWhen(model, (s) => s.phase === 'Succeeded');
  const toSelector = [];
  const toSettled = [];
  for (let i = 1; i <= N; i += 1) {
    await startRelease(stack.client, validateSpec(benchSpec(stack, model, `v${i}`, { approval: { beforeSwitch: true } })), stack.taskQueue, 'bench');
    const waiting = await statusWhen(model, (s) => s.phase === 'AwaitingApproval' && s.version === `v${i}`);
    const slot = waiting.candidateSlot;
    const handle = stack.client.workflow.getHandle(`bluegreen/${ns}/${model}`);
    const selected = watcher.selected(model, 'slot', slot);
    const settled = watcher.settled(model, `${model}-${slot}-`);
    const t0 = performance.now();
    await handle.signal(approveSignal, { by: 'bench', requestId: randomUUID(), version: `v${i}` });
    toSelector.push((await selected) - t0);
    toSettled.push((await settled) - t0);
    await statusWhen(model, (s) => s.phase === 'Succeeded' && s.version === `v${i}`);
  }

  // Direct: the same JSON patch (test + replace) the worker makes, between two slots made once.
  const direct = 'direct';
  const target = { namespace: ns, model: direct, service: direct, slotLabel: 'slot' };
  const labels = (slot) => ({ 'bluegreen.dev/service': direct, slot });
  for (const slot of ['blue', 'green']) {
    await stack.kube.apps.createNamespacedDeployment({ namespace: ns, body: {
      metadata: { name: `${direct}-${slot}` },
      spec: {
        replicas: 2, selector: { matchLabels: labels(slot) },
        template: onRealNode ? realNodeTemplate({ labels: labels(slot) }) : { metadata: { labels: labels(slot) }, spec: { containers: [{ name: 'model', image: 'registry.example.com/ml/direct:v1', ports: [{ containerPort: 8080 }] }] } },
      },
    } });
  }
  await stack.kube.core.createNamespacedService({ namespace: ns, body: { metadata: { name: direct }, spec: { selector: labels('blue'), ports: [{ port: 80, targetPort: 8080 }] } } });
  await watcher.settled(direct, `${direct}-blue-`);
  await sleep(1_000);
  const patchAnswered = [];
  const directSelector = [];
  const directSettled = [];
  for (let i = 1; i <= N; i += 1) {
    const [from, to] = i % 2 === 1 ? ['blue', 'green'] : ['green', 'blue'];
    const selected = watcher.selected(direct, 'slot', to);
    const settled = watcher.settled(direct, `${direct}-${to}-`);
    const t0 = performance.now();
    if (await patchSelector(stack.kube, target, labels(from), labels(to)) !== 'switched') throw new Error('direct patch conflicted');
    patchAnswered.push(performance.now() - t0);
    directSelector.push((await selected) - t0);
    directSettled.push((await settled) - t0);
    await sleep(200);
  }
  watcher.stop();

  const ms = (values) => Object.fromEntries(Object.entries(summary(values)).map(([k, v]) => [k, k === 'n' ? v : round(v)]));
  const orchestrated = { approveToSelector: ms(toSelector), approveToSettled: ms(toSettled) };
  const baseline = { patchAnswered: ms(patchAnswered), patchToSelector: ms(directSelector), patchToSettled: ms(directSettled) };
  report('switch', {
    releases: N, unit: 'ms', orchestrated, baseline,
    // Each release's figure in order, so an outlier can be placed (warm-up, a GC, a cache miss).
    samples: { approveToSelector: toSelector.map((v) => round(v)), patchToSelector: directSelector.map((v) => round(v)) },
    ratios: {
      selectorP50: round(orchestrated.approveToSelector.p50 / baseline.patchToSelector.p50, 2),
      selectorP99: round(orchestrated.approveToSelector.p99 / baseline.patchToSelector.p99, 2),
      settledP50: round(orchestrated.approveToSettled.p50 / baseline.patchToSettled.p50, 2),
      settledP99: round(orchestrated.approveToSettled.p99 / baseline.patchToSettled.p99, 2),
    },
  });
} finally {
  await stack.stop();
}
