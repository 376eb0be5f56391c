// Scale: N releases in flight at once on one worker, each its own model service,
// held at the approval after monitoring, then approved together. Prints the
// worker's peak memory and CPU time, the time until all have finished, history
// events per release, and the releases that did not end Succeeded.
//   BENCH_SCALE  comma-separated N (default 100; the issue asks 100,500,1000)
//   BENCH_WORKER_NODE_OPTIONS  the worker's NODE_OPTIONS, e.g. --max-old-space-size=700
import { randomUUID } from 'node:crypto';
import { startRelease } from '../dist/client/releases.js';
import { approveSignal, statusQuery } from '../dist/release/messages.js';
import { validateSpec } from '../dist/release/validate.js';
import { benchSpec, processFigures, report, round, sleep, startStack, stopProcess } from './stack.mjs';

const SIZES = (process.env.BENCH_SCALE ?? '100').split(',').map(Number);

/** Runs `fn` over `items`, at most `limit` at a time. */
async function pool(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }));
  return out;
}

const stack = await startStack({ name: 'scale' });

/**
 * Deletes what a round's releases left (their live Deployments and Services) and
 * waits for their pods to go, so each round starts from an empty namespace: the
 * next round's preflight lists and the fake nodes' pod room are its own.
 */
async function clearRound() {
  const namespace = stack.namespace;
  await stack.kube.apps.deleteCollectionNamespacedDeployment({ namespace });
  const { items } = await stack.kube.core.listNamespacedService({ namespace });
  await pool(items, 50, (s) => stack.kube.core.deleteNamespacedService({ namespace, name: s.metadata.name }));
  for (let i = 0; (await stack.kube.core.listNamespacedPod({ namespace, limit: 1 })).items.length > 0; i += 1) {
    if (i > 300) throw new Error('the last round\'s pods are still there after 5 minutes');
    await sleep(1_000);
  }
}
const rounds = [];
try {
  for (const n of SIZES) {
    const worker = await stack.startWorker(process.env.BENCH_WORKER_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_WORKER_NODE_OPTIONS } : {});
    // The baseline: the same worker polling, with no release yet.
    await sleep(2_000);
    const idle = processFigures(worker.pid);
    const neighbours = Object.entries(stack.neighbours()).filter(([, pid]) => pid !== undefined);
    const cpuOf = () => Object.fromEntries(neighbours.map(([name, pid]) => [name, processFigures(pid).cpuSeconds]));
    const neighboursBefore = cpuOf();
    const samples = [];
    const sampler = setInterval(() => { try { samples.push(processFigures(worker.pid)); } catch { /* exited */ } }, 500);
    const models = Array.from({ length: n }, (_, i) => `s${n}-${i}`);
    const handleOf = (m) => stack.client.workflow.getHandle(`bluegreen/${stack.namespace}/${m}`);
    const started = performance.now();
    await pool(models, 50, (m) => startRelease(stack.client, validateSpec(benchSpec(stack, m, 'v1', {
      replicas: 1, approval: { afterSwitch: 'manual', timeout: '1h' },
    })), stack.taskQueue, 'bench'));
    // All held at the gate after monitoring? The server's search attributes say
    // which are in Monitoring without loading the worker; queries then confirm
    // their analysis passed (they wait for approval after it).
    const inMonitoring = async () => (await stack.client.workflow.count(`BluegreenNamespace = '${stack.namespace}' AND BluegreenModel STARTS_WITH 's${n}-' AND BluegreenPhase = 'Monitoring'`)).count;
    for (let i = 0; (await inMonitoring()) < n; i += 1) {
      if (i > 1200) throw new Error(`only ${await inMonitoring()} of ${n} releases reached Monitoring`);
      await sleep(1_000);
    }
    for (;;) {
      const passed = await pool(models, 20, async (m) => (await handleOf(m).query(statusQuery)).timeline.some((e) => e.event === 'analysis passed'));
      if (passed.every(Boolean)) break;
      await sleep(1_000);
    }
    const heldAfter = performance.now() - started;
    const t0 = performance.now();
    await pool(models, 100, (m) => handleOf(m).signal(approveSignal, { by: 'bench', requestId: randomUUID(), version: 'v1' }));
    const results = await pool(models, 200, (m) => handleOf(m).result());
    const allDone = performance.now() - t0;
    clearInterval(sampler);
    const after = processFigures(worker.pid);
    const neighboursAfter = cpuOf();
    const events = await pool(models.slice(0, 20), 10, async (m) => (await handleOf(m).describe()).historyLength);
    await stopProcess(worker);
    stack.worker = undefined;
    const misbehaved = results.filter((r) => r.phase !== 'Succeeded').map((r) => `${r.releaseId}: ${r.phase} ${r.reason ?? ''}`);
    const r = {
      releases: n,
      workerIdleRssMiB: idle.rssMiB,
      startToAllHeldSeconds: round(heldAfter / 1000),
      approveToAllFinishedSeconds: round(allDone / 1000),
      workerPeakRssMiB: Math.max(...samples.map((x) => x.peakRssMiB), after.peakRssMiB),
      workerCpuSeconds: after.cpuSeconds,
      // The machine is shared: CPU seconds the others used in the same round.
      othersCpuSeconds: Object.fromEntries(Object.entries(neighboursAfter).map(([k, v]) => [k, round(v - neighboursBefore[k], 1)])),
      historyEventsPerRelease: Math.max(...events),
      misbehaved,
    };
    rounds.push(r);
    console.error(JSON.stringify(r));
    await clearRound();
  }
  report('scale', { rounds });
} finally {
  await stack.stop();
}
