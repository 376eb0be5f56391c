// Recovery: SIGKILL the worker during the rollout wait, during verification and
// during monitoring, start a fresh worker at once, and time until the release's
// step runs again on it (the activity's next attempt started) and until the
// release moves on, against the heartbeat timeout the steps run under.
//   BENCH_REPEATS  kills per step (default 3)
import { startRelease } from '../dist/client/releases.js';
import { statusQuery } from '../dist/release/messages.js';
import { validateSpec } from '../dist/release/validate.js';
import { benchSpec, onRealNode, realNodeTemplate, report, round, sleep, startStack, stopProcess } from './stack.mjs';

const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const stack = await startStack({ name: 'recovery' });
const ms = (t) => (t ? Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : 0);
try {
  await stack.startWorker();
  const steps = {
    // Pods that become ready only after 10s: an image the fake nodes start slowly, or a readiness delay on the real node.
    rollout: { phase: 'Deploying', activity: 'waitForRollout', more: onRealNode ? { template: realNodeTemplate({ readyAfterSeconds: 10 }) } : { image: 'slow.invalid/model:slow-start' } },
    // Five golden requests to a server that answers each in 2s: 10s of verification
    // (the loopback server, or on the real node the candidate's pods themselves).
    verification: {
      phase: 'Verifying', activity: 'verifyCandidate',
      more: (s) => {
        const verify = { modelName: 'fraud', maxLatencyMs: 20_000, requests: Array.from({ length: 5 }, (_, i) => ({
          name: `r${i}`, inputs: [{ name: 'features', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3, 0.5, 0, 1] }], expected: { probability: [0.562177, 0.53743] }, tolerance: 1e-4,
        })) };
        return onRealNode
          ? { template: realNodeTemplate({ args: ['--delay-ms', '2000'] }), verify }
          : { verify: { ...verify, endpoint: s.slowModelUrl, liveEndpoint: s.modelUrl } };
      },
    },
    monitoring: { phase: 'Monitoring', activity: 'monitor', more: (s) => ({ monitor: { window: '40s', interval: '1s', initialDelay: '0s', ...(onRealNode ? {} : { endpoint: s.modelUrl }) } }) },
  };
  const results = {};
  let n = 0;
  for (const [name, step] of Object.entries(steps)) {
    results[name] = [];
    for (let r = 0; r < REPEATS; r += 1) {
      const model = `rec-${name}-${n += 1}`;
      const more = typeof step.more === 'function' ? step.more(stack) : step.more;
      await startRelease(stack.client, validateSpec(benchSpec(stack, model, 'v1', more)), stack.taskQueue, 'bench');
      const handle = stack.client.workflow.getHandle(`bluegreen/${stack.namespace}/${model}`);
      // Kill once the step's activity has heartbeated: it is under way on this worker.
      let before;
      for (;;) {
        const d = await handle.describe();
        before = d.raw.pendingActivities?.find((a) => a.activityType?.name === step.activity && a.lastHeartbeatTime);
        if (before) break;
        await sleep(100);
      }
      await sleep(1_000);
      const killedAt = Date.now();
      await stopProcess(stack.worker, 'SIGKILL');
      const workerStart = Date.now();
      await stack.startWorker();
      const workerReady = Date.now();
      let rerun;
      let movedOn;
      for (;;) {
        const d = await handle.describe();
        const a = d.raw.pendingActivities?.find((p) => p.activityType?.name === step.activity);
        if (rerun === undefined && a && a.attempt > before.attempt && ms(a.lastStartedTime) >= killedAt - 5) rerun = ms(a.lastStartedTime);
        const status = await handle.query(statusQuery).catch(() => undefined);
        if (status && status.phase !== step.phase) { movedOn = Date.now(); rerun ??= movedOn; break; }
        if (Date.now() - killedAt > 180_000) throw new Error(`${model} made no progress within 180s`);
        await sleep(100);
      }
      const final = await handle.result();
      results[name].push({
        killToRerunMs: rerun - killedAt, newWorkerReadyToRerunMs: rerun - workerReady, workerStartMs: workerReady - workerStart,
        killToNextPhaseMs: movedOn - killedAt, outcome: final.phase,
      });
      console.error(`${name} #${r + 1}: rerun ${rerun - killedAt} ms after the kill (${rerun - workerReady} ms after the new worker was ready), ${final.phase}`);
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  report('recovery', {
    heartbeatTimeout: process.env.BENCH_LABEL ?? 'as configured in src/workflows/release.ts',
    unit: 'ms',
    steps: Object.fromEntries(Object.entries(results).map(([k, runs]) => [k, {
      medianKillToRerun: median(runs.map((x) => x.killToRerunMs)),
      medianNewWorkerToRerun: median(runs.map((x) => x.newWorkerReadyToRerunMs)),
      medianWorkerStart: median(runs.map((x) => x.workerStartMs)),
      outcomes: runs.map((x) => x.outcome),
      runs,
    }])),
  });
} finally {
  await stack.stop();
}
