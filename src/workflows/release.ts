// The release workflow: deterministic, no I/O. Every effect on the cluster is an
// activity; every decision is recorded in the timeline the `status` query returns.
// The release is a flat list of named steps (as Argo Rollouts' rolloutBlueGreen):
// each says with guard clauses why it skips, and pushes its compensation before
// it acts, so a rollback undoes exactly what happened.
//
// Histories of running releases must replay: each `patched()` marker keeps the
// old path for releases started before its change. A marker may go once no
// release started before it can still be running (the longest a release lives
// is its gates' approval.timeout, at most 7 days, plus its waits), and its
// fixture in test/fixtures goes with it. A `patched()` call comes before any
// local activity of its workflow task, never after: a query can end the task
// right after a local activity's marker, and a patch marker recorded in the
// next task fails replay with a nondeterminism error (sdk-core).
//   approval-per-gate              each gate needs its own approve (0.1 let one pass both)
//   proxy-grace-after-switch-back  a switch back waits monitor.initialDelay for node proxies
//   switch-in-workflow-task        the selector patch runs as a local activity in the approving task
//   no-zero-delay-timer            a scaleDownDelay of 0 sets no timer
//   failed-release-fails-workflow  a Failed release fails the execution too
//   spec-checked-in-worker         the spec is checked by a local activity, not in the sandbox
//   argo-failure-limit             monitor.failureLimit counts the failures tolerated, as Argo's
//   full-size-before-switch        a switch the proof refused waits for switch.minReady ready pods, then tries again
//   bounded-steps                  each wait's attempts have a bound together, derived from the step's work
//   notifications                  gates, rollbacks and outcomes are sent to the worker's webhooks (a notify activity each)
import {
  ActivityCancellationType, ActivityFailure, ApplicationFailure, CancellationScope, condition, isCancellation, log, patched,
  proxyActivities, proxyLocalActivities, setHandler, sleep, TimeoutFailure, upsertSearchAttributes, workflowInfo, type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { monitorBoundMs, rolloutBoundMs, verificationBoundMs } from '../release/bounds.js';
import { durationMs } from '../release/duration.js';
import { ErrorTypes, NON_RETRYABLE, RELEASE_FAILED } from '../release/errors.js';
import { STARTED_BY_MEMO, releaseIdOf, searchAttributes } from '../release/ids.js';
import {
  abortSignal, approveSignal, asAbort, asApproval, describePayload, statusQuery, type Abort, type Approval,
} from '../release/messages.js';
import { inFlightMetrics } from '../release/drain.js';
import type { Notice, NoticeKind } from '../release/notify.js';
import type { Plan, SlotPlan, SlotRef } from '../release/plan.js';
import type { ReleaseSpec } from '../release/spec.js';
import { FINAL_PHASES, type AnalysisResult, type Gate, type Phase, type ReleaseResult, type ReleaseStatus, type TimelineEntry } from '../release/status.js';
import { targetOf, type Target } from '../release/target.js';
import { peakPods, previewReplicasOf, sharedSelector, stepsOf } from '../rules/steps.js';
import { DEFAULT_PORT } from '../rules/objects.js';
import { minReadyOf } from '../rules/switch.js';
import { drainDetail } from '../rules/drain.js';
import { upgradePlan } from './legacy-plan.js';
import { releaseMetrics, type ReleaseMetrics } from './metrics.js';

// Retries are bounded so a release never hangs on a broken API: when they run
// out, the release rolls back and says why.
const quickOptions: ActivityOptions = {
  startToCloseTimeout: '30s',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: {
    initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '15s', maximumAttempts: 8, nonRetryableErrorTypes: [...NON_RETRYABLE],
  },
};
// A wait's attempt also ends when its worker goes away (a deploy, a crash: the
// heartbeat times out). That is no failure of the step, so waits have no attempt
// limit: the activity counts its real failures in its heartbeat and gives up at
// the limit (activities/attempts.ts). Its progress is in its heartbeat too, so a
// new attempt goes on where the last one stood, under the same deadline.
const waitingOptions = (startToClose: number): ActivityOptions => ({
  ...quickOptions,
  startToCloseTimeout: startToClose,
  // Beats go out every 2s (activities/waits.ts, the worker's throttle), so 8s is
  // four missed beats: a dead worker's step runs again on a new worker within
  // about 8.5s of the kill (docs/benchmarks.md, Recovery), a busy one no false retry.
  heartbeatTimeout: '8s',
  retry: { ...quickOptions.retry, initialInterval: '500ms', maximumAttempts: Number.POSITIVE_INFINITY },
});
// Undoing must try harder than doing: it is what restores the old version.
const undoOptions: ActivityOptions = { ...quickOptions, retry: { ...quickOptions.retry, maximumInterval: '30s', maximumAttempts: 30 } };
// The selector patch runs in the workflow task that decided to switch (a local
// activity), without a round trip through the server's activity queue. One try:
// if it fails, the regular switchTraffic that follows does the whole switch itself.
const inTaskOptions = { startToCloseTimeout: '10s', retry: { maximumAttempts: 1 } };
/** The spec check at the start: a local activity with no I/O, so a failure is a bug; a few tries at most. */
const checkingOptions = { startToCloseTimeout: '10s', retry: { maximumAttempts: 3 } };
/**
 * A notice is sent beside the release, never in its way: a webhook that is
 * down is retried for a while, then the timeline says the notice was not sent.
 */
const notifyOptions: ActivityOptions = {
  startToCloseTimeout: '30s', heartbeatTimeout: '8s', scheduleToCloseTimeout: '10m',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 10 },
};
/** How long a release that has ended waits for notices still being sent. */
const NOTICES_AT_END_MS = 60_000;
/** A switch back waits at least this long for the old pods' endpoints. */
const SWITCH_BACK_SETTLE_MS = 60_000;

/**
 * A wait with a bound on each attempt and, `bounded`, on all of them together:
 * a step whose attempts keep timing out (the server decides those, so the
 * activity cannot count them) ends the release instead of retrying for ever.
 */
const boundedWait = (attemptMs: number, totalMs?: number): ActivityOptions => ({
  ...waitingOptions(attemptMs), ...(totalMs === undefined ? {} : { scheduleToCloseTimeout: totalMs }),
});

/**
 * The activity proxies, one per retry profile (and, for waits, per bound).
 * `bounded` (releases started since steps have bounds of their own): each wait
 * gets a bound derived from its work, its attempts together twice that (a
 * worker restart or two), and verification no longer a fixed 10 minutes.
 */
function proxies(spec: ReleaseSpec, bounded: boolean) {
  const rolloutTimeoutMs = durationMs(spec.rolloutTimeout);
  const switchMs = 5 * 60_000 + durationMs(spec.switchTimeout);
  const verifyMs = bounded ? verificationBoundMs(spec) : 10 * 60_000;
  const monitorMs = bounded ? monitorBoundMs(spec) : durationMs(spec.monitor.window) + 5 * 60_000;
  const total = (ms: number) => (bounded ? 2 * ms : undefined);
  const drainMs = spec.drain === undefined ? 0 : durationMs(spec.drain.timeout);
  return {
    quick: proxyActivities<Activities>(quickOptions),
    rolloutWait: proxyActivities<Activities>(boundedWait(rolloutTimeoutMs + 60_000, total(rolloutTimeoutMs + 60_000))),
    verifyWait: proxyActivities<Activities>(boundedWait(verifyMs, total(verifyMs))),
    switchWait: proxyActivities<Activities>(boundedWait(switchMs, total(switchMs))),
    inTask: proxyLocalActivities<Activities>(inTaskOptions),
    monitorWait: proxyActivities<Activities>(boundedWait(monitorMs, total(monitorMs))),
    undo: proxyActivities<Activities>(undoOptions),
    undoRolloutWait: proxyActivities<Activities>({ ...waitingOptions(rolloutTimeoutMs + 60_000), retry: undoOptions.retry }),
    // A drain's own deadline counts from its first attempt; each attempt may run that long, plus room.
    drainWait: proxyActivities<Activities>({ ...waitingOptions(drainMs + 60_000), retry: undoOptions.retry }),
  };
}

/** One release in flight: the spec, what preflight decided, the status, and the saga. */
interface Run {
  spec: ReleaseSpec;
  target: Target;
  status: ReleaseStatus;
  plan?: Plan;
  approval?: Approval;
  compensations: { name: string; run: () => Promise<unknown> }[];
  record: (event: string, more?: Partial<TimelineEntry>) => void;
  enter: (phase: Phase, detail?: string) => void;
  metrics: ReleaseMetrics;
  /** waits at a gate (telling the webhooks, with `why` when there is more to say) until approved or `timeoutMs` */
  awaitApproval: (gate: Gate, timeoutMs: number, why?: string, failing?: string[]) => Promise<boolean>;
  /** sends a notice beside the release (see notifyOptions) */
  notify: (kind: NoticeKind, more?: Partial<Notice>) => void;
  /** waits until every notice was sent or given up on, for NOTICES_AT_END_MS at most */
  noticesSent: () => Promise<void>;
  act: ReturnType<typeof proxies>;
  /** decided at the start, so a release started before the change keeps the old meaning throughout */
  argoFailureLimit: boolean;
  /** the candidate has taken live traffic (a switch or a shared step began): a rollback drains it before deleting it */
  served?: boolean;
}

const plannedOf = (run: Run): Plan => {
  if (run.plan === undefined) throw new Error('preflight has not run');
  return run.plan;
};

async function preflight(run: Run): Promise<void> {
  run.enter('Preflight');
  const plan = upgradePlan(await run.act.quick.inspect(run.spec), run.spec, run.target);
  run.plan = plan;
  const { status } = run;
  status.oldSlot = plan.oldSlot;
  status.liveSlot = plan.oldSlot;
  status.candidateSlot = plan.candidateSlot;
  status.oldDeployment = plan.live?.deployment;
  status.candidateDeployment = plan.candidate.deployment;
  const into = `${plan.candidateSlot} as Deployment ${plan.candidate.deployment}`;
  const adopted = plan.live?.adopted ? ' (adopted: found by the live Service\'s selector, not created by Bluegreen)' : '';
  const unslotted = plan.live?.unslotted === undefined ? '' : `adopting an unslotted setup (Service ${run.target.service} selects ${JSON.stringify(plan.live.unslotted)}, no "${run.target.slotLabel}" label): `;
  run.record('plan', {
    detail: plan.live === undefined ? `first release: bootstrap into ${into}` : `${unslotted}live slot ${plan.live.slot} is Deployment ${plan.live.deployment}${adopted}; candidate goes into ${into}`,
  });
  // Plans recorded before warnings existed have none.
  for (const warning of plan.warnings ?? []) run.record('warning', { detail: warning });
}

async function deploy(run: Run): Promise<void> {
  run.enter('Deploying');
  const { spec, target, status } = run;
  const plan = plannedOf(run);
  if (plan.live?.unslotted !== undefined) await narrowLive(run, plan, { ...plan.live, unslotted: plan.live.unslotted });
  const candidate = { target, slot: plan.candidateSlot, deployment: plan.candidate.deployment };
  run.compensations.push({
    name: `delete candidate Deployment ${candidate.deployment}`,
    run: async () => {
      if (run.served && run.spec.drain !== undefined) await drain(run, candidate, 'candidate');
      return run.act.undo.deleteSlot(candidate);
    },
  });
  const replicas = previewReplicasOf(spec, plan.replicas);
  await run.act.quick.applyCandidate({ target, object: plan.object, releaseId: status.releaseId, replicas });
  const { previewBefore, ports } = plan;
  run.compensations.push(previewBefore === null
    ? { name: 'remove preview Service', run: () => run.act.undo.removePreview({ target }) }
    : {
      name: `point preview back at ${JSON.stringify(previewBefore)}`,
      run: () => run.act.undo.pointPreview({ target, selector: previewBefore, ports, releaseId: status.releaseId }),
    });
  // The preview gets exactly the selector the live Service will get, so verification proves it too.
  await run.act.quick.pointPreview({ target, selector: plan.candidate.selector, ports, releaseId: status.releaseId });
  const ready = await rolloutWait(run, plan).waitForRollout({ ...candidate, timeoutMs: rolloutMs(run, plan) });
  run.record('rollout', { detail: `${ready.ready}/${ready.total} replicas available` });
}

/** How long the candidate's rollout may take: longer when preflight found the nodes short and the spec waits for more. */
const rolloutMs = (run: Run, plan: Plan): number => rolloutBoundMs(run.spec, plan.roomShort !== undefined);

/** A switch back waits at least SWITCH_BACK_SETTLE_MS for the live pods' endpoints: restoring what served must not give up early. */
const backSettleMs = (spec: Run['spec']): number => Math.max(SWITCH_BACK_SETTLE_MS, durationMs(spec.switchTimeout));

/** The candidate's rollout waits: longer when preflight found the nodes short and the spec waits for room. */
function rolloutWait(run: Run, plan: Plan): Run['act']['rolloutWait'] {
  if (plan.roomShort === undefined) return run.act.rolloutWait;
  const ms = rolloutBoundMs(run.spec, true) + 60_000;
  return proxyActivities<Activities>(boundedWait(ms, 2 * ms));
}

/**
 * An unslotted setup: the live Service's own selector also matches the
 * candidate's pods (they carry the live template's labels), so before they
 * exist it is narrowed to the live ReplicaSet's pods, the endpoints it has
 * now. A rollback restores it exactly, once the candidate's pods are gone.
 */
async function narrowLive(run: Run, plan: Plan, live: SlotPlan & { unslotted: SlotPlan['selector'] }): Promise<void> {
  const { target, spec, status } = run;
  const own = { ...live, selector: live.unslotted };
  const settleMs = durationMs(spec.switchTimeout);
  const moving = { target, ports: plan.ports, releaseId: status.releaseId };
  run.compensations.push({
    name: `restore the live Service's selector ${JSON.stringify(live.unslotted)}`,
    run: async () => {
      const { candidate } = plan;
      const timeoutMs = durationMs(spec.rolloutTimeout);
      const { slot, deployment, selector } = candidate;
      await run.act.undoRolloutWait.waitForPodsGone({ target, slot, deployment, selector, timeoutMs });
      const back = await run.act.undo.switchTraffic({ ...moving, from: live, to: own, back: true, settleMs: backSettleMs(spec) });
      run.record('selector restored', { detail: back.detail });
    },
  });
  await run.act.switchWait.switchTraffic({ ...moving, from: own, to: live, settleMs });
  run.record('narrowed', { detail: `Service ${target.service} selects ${JSON.stringify(live.selector)}: the pods it served, and not the candidate's` });
}

async function verify(run: Run): Promise<void> {
  run.enter('Verifying');
  const plan = plannedOf(run);
  const { status } = run;
  status.verification = await run.act.verifyWait.verifyCandidate({
    spec: run.spec, slot: plan.candidateSlot, deployment: plan.candidate.deployment, port: plan.port, hasLive: plan.live !== undefined,
  });
  if (!status.verification.ok) {
    run.metrics.checksFailed('verification', status.verification.checks);
    const failed = status.verification.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
    throw ApplicationFailure.nonRetryable(`verification failed: ${failed.join('; ')}`, ErrorTypes.VerificationFailed);
  }
  run.record('verified', { detail: `${status.verification.checks.length} checks passed against ${status.verification.endpoint}` });
}

async function gateBeforeSwitch(run: Run): Promise<void> {
  const { approval } = run.spec;
  if (!approval.beforeSwitch) return;
  run.enter('AwaitingApproval');
  const approvedInTime = await run.awaitApproval('beforeSwitch', durationMs(approval.timeout));
  // Each gate needs its own approval: the one given here must not also pass monitoring.
  if (patched('approval-per-gate')) run.approval = undefined;
  if (approvedInTime) return;
  if (approval.onTimeout === 'rollback') {
    throw ApplicationFailure.nonRetryable(`no approval within ${approval.timeout} before the switch`, ErrorTypes.ApprovalTimeout);
  }
  run.record('approval timed out', { detail: 'onTimeout is promote: switching' });
}

async function switchLive(run: Run): Promise<void> {
  run.enter('Switching');
  const { spec, target, status } = run;
  const plan = plannedOf(run);
  const candidate: SlotPlan = plan.candidate;
  const ref = { target, slot: candidate.slot, deployment: candidate.deployment };
  const rolloutTimeoutMs = durationMs(spec.rolloutTimeout);
  const { replicas } = plan;
  const stepped = steppedFrom(run, plan);
  if (stepped === undefined && spec.previewReplicas !== undefined && spec.previewReplicas < replicas) {
    await run.act.quick.scaleSlot({ ...ref, replicas });
    await rolloutWait(run, plan).waitForRollout({ ...ref, replicas, timeoutMs: rolloutMs(run, plan) });
    run.record('scaled', { detail: `candidate scaled to ${replicas} replicas` });
  }
  // A stepped release moves from the shared selector, and back to it (its steps' undoing restores the old slot).
  const live = plan.live;
  if (live === undefined) {
    run.compensations.push({ name: 'remove live Service', run: () => run.act.undo.removeService({ target, releaseId: status.releaseId }) });
  } else if (stepped !== undefined) {
    run.compensations.push({
      name: `switch live traffic back to both slots (${JSON.stringify(stepped.selector)})`,
      run: async () => {
        const back = await run.act.undo.switchTraffic({
          target, from: candidate, to: stepped, also: plan.live!.deployment, ports: plan.ports, releaseId: status.releaseId, back: true,
          settleMs: backSettleMs(spec),
        });
        run.record('switched back', { detail: back.detail });
      },
    });
  } else {
    run.compensations.push({
      name: `switch live traffic back to ${live.deployment}`,
      run: async () => {
        const old = { target, slot: live.slot, deployment: live.deployment };
        await run.act.undoRolloutWait.waitForRollout({ ...old, restoreReplicas: Math.max(1, live.replicas), timeoutMs: rolloutTimeoutMs });
        const back = await run.act.undo.switchTraffic({
          target, from: candidate, to: live, ports: plan.ports, releaseId: status.releaseId, back: true,
          settleMs: backSettleMs(spec),
        });
        // Releases of Bluegreen 0.1 recorded no answer here: they always switched.
        if (back?.switched ?? true) status.liveSlot = live.slot;
        run.record('switched back', { detail: back?.detail ?? `live Service selects ${live.slot}` });
        // The EndpointSlices have settled, but each node's proxy routes by them only
        // at its next sync: the candidate's pods keep serving until then (the same
        // wait monitor.initialDelay makes after the switch). Older releases replay without it.
        const proxies = durationMs(spec.monitor.initialDelay);
        if ((back?.switched ?? true) && proxies > 0 && patched('proxy-grace-after-switch-back')) await sleep(proxies);
      },
    });
  }
  const settleMs = durationMs(spec.switchTimeout);
  // Traffic moves only to the candidate's planned size: pods lost during a long
  // gate or verification are waited for (rolloutTimeout), never switched onto.
  const minReady = minReadyOf(spec, replicas);
  const input = { target, from: stepped ?? live, to: candidate, ports: plan.ports, releaseId: status.releaseId, settleMs, minReady };
  // Traffic moves in this workflow task; switchTraffic then finds the selector
  // moved and waits for the EndpointSlices (or, if this try failed, switches itself,
  // and reports any refusal). Releases started before replay without it.
  const fullSizeFirst = patched('full-size-before-switch');
  // From here traffic may move (the in-task patch may succeed even when its answer is lost).
  run.served = true;
  const inTask = patched('switch-in-workflow-task') ? await run.act.inTask.switchSelector(input).catch(() => undefined) : undefined;
  if (inTask === undefined && fullSizeFirst) {
    const ready = await run.act.rolloutWait.waitForRollout({ ...ref, minReady, timeoutMs: rolloutTimeoutMs });
    run.record('ready to switch', { detail: `${ready.ready} of ${ready.total} candidate pods ready; the switch needs ${minReady}` });
  }
  const switched = await run.act.switchWait.switchTraffic(input);
  status.liveSlot = candidate.slot;
  run.record('switched', { detail: switched?.detail ?? `live Service selects ${candidate.slot}` });
  if (live !== undefined) await followAutoscalers(run, plan, live.deployment);
}

/** A stepped release's shared state: the selector that holds both slots' pods, on the candidate's Deployment. */
function steppedFrom(run: Run, plan: Plan): SlotPlan | undefined {
  if (run.spec.stepped === undefined || plan.live === undefined) return undefined;
  return { ...plan.candidate, selector: sharedSelector(plan.live, run.target.slotLabel) };
}

/**
 * A stepped release, between verification and the switch: the live Service
 * selects both slots' ready pods, and each step grows the candidate (once its
 * new pods are ready) and shrinks the old slot, then analyses the mix, so both
 * together never exceed the live size plus stepped.extraPods. Each step's undo
 * grows the old slot back first, so a rollback keeps to the budget too.
 */
async function stepThrough(run: Run): Promise<void> {
  const { spec, target, status } = run;
  const plan = plannedOf(run);
  const shared = steppedFrom(run, plan);
  const { live, candidate } = plan;
  if (shared === undefined || live === undefined || spec.stepped === undefined) return;
  const { extraPods, window } = spec.stepped;
  const budget = { live: live.replicas, replicas: plan.replicas, preview: previewReplicasOf(spec, plan.replicas), extra: extraPods };
  const steps = stepsOf(budget);
  run.enter('Switching', `stepped: ${steps.length} steps of ${extraPods} pods, at most ${peakPods(budget)} pods at once`);
  const timeoutMs = durationMs(spec.rolloutTimeout);
  const settleMs = durationMs(spec.switchTimeout);
  const old = { target, slot: live.slot, deployment: live.deployment };
  const next = { target, slot: candidate.slot, deployment: candidate.deployment };
  const moving = { target, ports: plan.ports, releaseId: status.releaseId, also: live.deployment };
  run.compensations.push({
    name: `switch live traffic back to ${live.deployment}`,
    run: async () => {
      const back = await run.act.undo.switchTraffic({
        ...moving, also: undefined, from: shared, to: live, back: true, settleMs: backSettleMs(spec),
      });
      if (back.switched) status.liveSlot = live.slot;
      run.record('switched back', { detail: back.detail });
    },
  });
  run.served = true;
  const sharing = await run.act.switchWait.switchTraffic({ ...moving, from: live, to: shared, settleMs });
  run.record('shared', { detail: sharing.detail });
  let before = { candidate: budget.preview, old: live.replicas };
  for (const [i, step] of steps.entries()) {
    const from = before;
    run.compensations.push({
      name: `undo step ${i + 1}: ${live.deployment} back to ${from.old} pods, then ${candidate.deployment} to ${from.candidate}`,
      run: async () => {
        await run.act.undo.scaleSlot({ ...old, replicas: from.old });
        await run.act.undoRolloutWait.waitForRollout({ ...old, replicas: from.old, timeoutMs });
        await run.act.undo.scaleSlot({ ...next, replicas: from.candidate });
        await run.act.undoRolloutWait.waitForPodsGone({ ...next, selector: candidate.selector, atMost: from.candidate, timeoutMs });
        status.steps = { done: i, ...from };
      },
    });
    if (step.candidate > from.candidate) {
      await run.act.quick.scaleSlot({ ...next, replicas: step.candidate });
      await rolloutWait(run, plan).waitForRollout({ ...next, replicas: step.candidate, timeoutMs: rolloutMs(run, plan) });
    }
    await run.act.quick.scaleSlot({ ...old, replicas: step.old });
    // A leaving pod still holds its GPUs: the next step starts when it is gone.
    await run.act.rolloutWait.waitForPodsGone({ ...old, selector: live.selector, atMost: step.old, timeoutMs });
    status.steps = { done: i + 1, ...step };
    before = step;
    run.record('step', { detail: `step ${i + 1} of ${steps.length}: ${step.candidate} pods of ${spec.version}, ${step.old} of ${live.deployment}` });
    await analyse(run, { ...spec, monitor: { ...spec.monitor, window } }, `step ${i + 1}`);
  }
}

/** A step's analysis over its window, judged as monitoring's (an inconclusive one waits for a person). */
async function analyse(run: Run, spec: ReleaseSpec, what: string): Promise<void> {
  const { port, candidate } = plannedOf(run);
  const argoFailureLimit = run.argoFailureLimit ? { argoFailureLimit: true } : {};
  const result = await proxyActivities<Activities>(boundedWait(monitorBoundMs(spec), 2 * monitorBoundMs(spec)))
    .monitor({ spec, port, slot: candidate.slot, deployment: candidate.deployment, ...argoFailureLimit, candidateOnly: true });
  run.status.analysis = result;
  if (await judged(run, result, what)) run.record('analysis passed', { detail: `${what}: ${result.runs} runs in ${spec.monitor.window}` });
}

/**
 * Acts on an analysis: a failed one rolls back; an inconclusive one waits for
 * approve (go on) or abort (roll back). Returns whether it passed outright.
 */
async function judged(run: Run, result: AnalysisResult, what: string): Promise<boolean> {
  const { spec } = run;
  const failing = result.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`).join('; ');
  if (!result.ok) {
    run.metrics.checksFailed('analysis', result.checks);
    throw ApplicationFailure.nonRetryable(`analysis ${what === 'monitor' ? '' : `of ${what} `}failed ${result.failures} of ${result.runs} times: ${failing}`, ErrorTypes.AnalysisFailed);
  }
  if (result.inconclusive !== true) return true;
  // Neither pass nor fail, or no data: a person decides, as a paused Argo rollout.
  run.record('analysis inconclusive', { detail: `waiting for approve (promote) or abort (roll back): ${failing}` });
  if (await run.awaitApproval('analysis', durationMs(spec.approval.timeout), `${what === 'monitor' ? 'the analysis' : `the analysis of ${what}`} was inconclusive`, failingChecks(result.checks))) {
    // The approval answered this analysis; the next gate needs its own.
    if (what !== 'monitor') run.approval = undefined;
    return false;
  }
  // Unlike a gate, an inconclusive analysis never promotes by itself.
  throw ApplicationFailure.nonRetryable(`analysis inconclusive and no approval within ${spec.approval.timeout}: ${failing}`, ErrorTypes.AnalysisInconclusive);
}

/** The live Deployment's autoscalers scale the candidate from the switch on, and the old slot again on a rollback. */
async function followAutoscalers(run: Run, plan: Plan, old: string): Promise<void> {
  const { target } = run;
  const to = plan.candidate.deployment;
  for (const autoscaler of plan.autoscalers ?? []) {
    run.compensations.push({
      name: `point ${autoscaler.kind} ${autoscaler.name} back at ${old}`,
      run: async () => {
        const back = await run.act.undo.retargetAutoscaler({ target, autoscaler, from: to, to: old, back: true });
        run.record('autoscaler', { detail: back.detail });
      },
    });
    const moved = await run.act.quick.retargetAutoscaler({ target, autoscaler, from: old, to });
    run.record('autoscaler', { detail: moved.detail });
  }
}

async function monitor(run: Run): Promise<void> {
  const { spec, status } = run;
  const metrics = spec.monitor.analysis?.map((a) => a.name).join(', ');
  const analysed = metrics === undefined ? `analysis every ${spec.monitor.interval}` : `analysis: ${metrics || 'none'}`;
  run.enter('Monitoring', `window ${spec.monitor.window}, ${analysed}`);
  status.waitingFor = 'afterSwitch';
  const analysisScope = new CancellationScope();
  const { port, candidate, live, servingPort } = plannedOf(run);
  const argoFailureLimit = run.argoFailureLimit ? { argoFailureLimit: true } : {};
  // monitor.traffic counts the requests each slot's pods answer in the window: a first release has no old slot.
  const counted = spec.monitor.traffic;
  const traffic = counted !== undefined && live !== undefined
    ? { traffic: { oldDeployment: live.deployment, port: counted.port ?? servingPort ?? DEFAULT_PORT } } : {};
  const input = { spec, port, slot: candidate.slot, deployment: candidate.deployment, ...argoFailureLimit, ...traffic };
  const analysis = analysisScope.run(() => run.act.monitorWait.monitor(input));
  const first = await Promise.race([
    analysis.then((result) => ({ approved: false as const, result })),
    condition(() => run.approval !== undefined).then(() => ({ approved: true as const })),
  ]);
  status.waitingFor = undefined;
  if (first.approved) {
    analysisScope.cancel();
    await analysis.catch(() => undefined);
    return;
  }
  status.analysis = first.result;
  if (!await judged(run, first.result, 'monitor')) return;
  run.record('analysis passed', { detail: `${first.result.runs} runs in the monitor window` });
  if (spec.approval.afterSwitch === 'auto') return;
  if (await run.awaitApproval('afterSwitch', durationMs(spec.approval.timeout))) return;
  if (spec.approval.onTimeout === 'rollback') throw ApplicationFailure.nonRetryable(`no approval within ${spec.approval.timeout} after the monitor window`, ErrorTypes.ApprovalTimeout);
  run.record('approval timed out', { detail: 'onTimeout is promote: promoting' });
}

async function waitBeforeDelete(run: Run): Promise<void> {
  const live = plannedOf(run).live;
  if (live === undefined) return run.enter('Finalizing', 'first release: no old slot');
  run.enter('Finalizing', `deleting ${live.deployment} after ${run.spec.scaleDownDelay}`);
  const delayMs = durationMs(run.spec.scaleDownDelay);
  if (delayMs > 0) await standBy(run, live);
  // A server timer fires on its next tick (about a second) even when set to 0:
  // no delay, no timer. Releases started before this kept their timer (replay).
  if (delayMs > 0 || !patched('no-zero-delay-timer')) await sleep(delayMs);
}

/**
 * standbyReplicas: until the delay ends the old slot keeps only that many pods,
 * so a quick rollback stays possible at a fraction of the GPUs; the rollback
 * grows it back to its full size before traffic goes back.
 */
async function standBy(run: Run, live: NonNullable<Plan['live']>): Promise<void> {
  const { spec, target, status } = run;
  const standby = spec.standbyReplicas;
  if (standby === undefined || standby >= live.replicas || spec.stepped !== undefined) return;
  const old = { target, slot: live.slot, deployment: live.deployment };
  run.compensations.push({
    name: `scale ${live.deployment} back to ${live.replicas} replicas`,
    run: async () => {
      await run.act.undo.scaleSlot({ ...old, replicas: live.replicas });
      await run.act.undoRolloutWait.waitForRollout({ ...old, replicas: live.replicas, timeoutMs: durationMs(spec.rolloutTimeout) });
      status.standby = undefined;
    },
  });
  const { startupSeconds } = await run.act.quick.standBy({ ...old, replicas: standby });
  status.standby = { replicas: standby, toStart: live.replicas - standby, startupSeconds };
  run.record('standby', {
    detail: `old slot ${live.deployment} at ${standby} of ${live.replicas} pods until ${spec.scaleDownDelay} ends; a rollback starts ${live.replicas - standby} pods first (up to ${startupSeconds}s each by their probes)`,
  });
}

/**
 * After the decision to promote, outside what abort may interrupt: the old slot
 * goes away (the Service no longer selects it; deleteSlot refuses if it does).
 * Its failure ends the release Failed: the candidate serves, the old slot stays.
 */
async function finalize(run: Run): Promise<void> {
  const live = run.plan?.live;
  if (live === undefined) return;
  const old = { target: run.target, slot: live.slot, deployment: live.deployment };
  if (run.spec.drain !== undefined) await CancellationScope.nonCancellable(() => drain(run, old, 'old slot'));
  await CancellationScope.nonCancellable(() => run.act.undo.deleteSlot(old));
  run.record('deleted', { detail: `old slot ${live.slot} (Deployment ${live.deployment}) deleted` });
}

/**
 * A slot's pods are stopped and given drain.timeout to finish their answers
 * (keep-alive clients stay on a slot's pods until those close their
 * connections); the timeline says whether they ended by themselves or which
 * were stopped with requests in flight.
 */
async function drain(run: Run, ref: SlotRef, what: string): Promise<void> {
  const spec = run.spec.drain!;
  run.record('draining', { detail: `${what} ${ref.deployment}: its pods are told to stop; up to ${spec.timeout} for their answers to end` });
  const report = await run.act.drainWait.drainSlot({
    ...ref,
    timeoutMs: durationMs(spec.timeout),
    metrics: inFlightMetrics(spec.inFlight),
    port: spec.port ?? plannedOf(run).servingPort ?? DEFAULT_PORT,
    path: spec.path,
    ...(spec.prometheus === undefined ? {} : { prometheus: spec.prometheus }),
  });
  run.record(report.drained ? 'drained' : 'drain cut', { detail: drainDetail(`${what} ${ref.deployment}`, report, spec.timeout) });
}

/** The steps abort may interrupt, in order; finalize follows them. */
const STEPS = [preflight, deploy, verify, gateBeforeSwitch, stepThrough, switchLive, monitor, waitBeforeDelete];

/**
 * The spec as the worker checked it (the worker trusts no client: a spec from
 * another client or an older CLI is validated), or the field errors.
 */
async function checkedSpec(input: ReleaseSpec): Promise<ReleaseSpec | { errors: string }> {
  if (patched('spec-checked-in-worker')) {
    // In the worker, outside the sandbox (see checkSpec); the answer is recorded in the history.
    const checked = await proxyLocalActivities<Activities>(checkingOptions).checkSpec(input);
    return 'errors' in checked ? { errors: checked.errors } : checked.spec ?? input;
  }
  // Releases started before that validate in the sandbox, as they did; only they load the schema.
  const { InvalidSpecError, formatFieldError, validateSpec } = await import(/* webpackMode: "eager" */ '../release/validate.js');
  try {
    return validateSpec(input);
  } catch (err) {
    if (!(err instanceof InvalidSpecError)) throw err;
    return { errors: err.errors.map(formatFieldError).join('; ') };
  }
}

/** The status, its timeline and phase, kept as the release moves. */
function tracking(status: ReleaseStatus) {
  const record = (event: string, more: Partial<TimelineEntry> = {}): void => {
    const entry = { at: new Date().toISOString(), phase: status.phase, event, ...more };
    status.timeline.push(entry);
    // Each timeline entry is a worker log line too (the SDK adds the release's ids; none during replay).
    log.info(`${event}${more.detail === undefined ? '' : `: ${more.detail}`}`, { model: status.model, ...entry });
  };
  const metrics = releaseMetrics(status.model);
  const enter = (phase: Phase, detail?: string): void => {
    metrics.entered(phase);
    status.phase = phase;
    record('phase', detail === undefined ? {} : { detail });
    upsertSearchAttributes([{ key: searchAttributes.phase, value: phase }]);
  };
  return { record, enter, metrics };
}

/** The status before the spec is checked: what the raw input names, and who started the release (its memo). */
function initialStatus(input: ReleaseSpec): ReleaseStatus {
  const info = workflowInfo();
  const status: ReleaseStatus = {
    releaseId: releaseIdOf(info.workflowId, info.runId),
    model: String(input?.model ?? ''), namespace: String(input?.namespace ?? ''), version: String(input?.version ?? ''),
    phase: 'Pending', timeline: [],
  };
  const startedBy = info.memo?.[STARTED_BY_MEMO];
  if (typeof startedBy === 'string') status.startedBy = startedBy;
  return status;
}

export async function release(input: ReleaseSpec): Promise<ReleaseResult> {
  const status = initialStatus(input);
  setHandler(statusQuery, () => status);
  const { record, enter, metrics } = tracking(status);

  // Before the spec check, a local activity (see the note on patches above).
  const bounded = patched('bounded-steps');
  const argoFailureLimit = patched('argo-failure-limit');
  const notifying = patched('notifications');
  const spec = await checkedSpec(input);
  if ('errors' in spec) {
    status.reason = `invalid release spec: ${spec.errors}`;
    enter('Failed', 'nothing in the cluster was changed');
    return failed(status);
  }
  // What the status shows comes from the spec now, defaults included (a raw input may leave out the namespace).
  Object.assign(status, { model: spec.model, namespace: spec.namespace, version: spec.version });

  const notices = noticesOf(spec, status, notifying, record);
  const run: Run = {
    spec, target: targetOf(spec), status, compensations: [], record, enter, metrics, ...notices,
    awaitApproval: async (gate, timeoutMs, why, failing) => {
      status.waitingFor = gate;
      notices.notify('waiting', { gate, ...(why === undefined ? {} : { reason: why }), ...(failing === undefined ? {} : { failing }) });
      try {
        return await condition(() => run.approval !== undefined, timeoutMs);
      } finally {
        status.waitingFor = undefined;
      }
    },
    act: proxies(spec, bounded), argoFailureLimit,
  };

  // `work` holds everything abort may interrupt; aborting cancels it.
  const work = new CancellationScope();
  const steering: Steering = { deleting: false };
  setHandler(approveSignal, (payload: unknown) => onApprove(run, payload));
  setHandler(abortSignal, (payload: unknown) => onAbort(run, steering, work, payload));

  try {
    await work.run(async () => {
      for (const step of STEPS) await step(run);
    });
    // An abort accepted while the last step was finishing still rolls back.
    if (steering.abort !== undefined) throw ApplicationFailure.nonRetryable('aborted', ErrorTypes.Aborted);
  } catch (err) {
    status.waitingFor = undefined;
    status.reason = steering.abort !== undefined
      ? `aborted by ${steering.abort.by}: ${steering.abort.reason}`
      : isCancellation(err) ? 'the release was cancelled' : describeFailure(err);
    return await CancellationScope.nonCancellable(() => rollBack(run));
  }

  // From here on there is no going back: the old slot goes away.
  steering.deleting = true;
  try {
    await finalize(run);
  } catch (err) {
    const live = run.plan!.live!;
    status.reason = `the candidate was promoted, but the old slot ${live.slot} (Deployment ${live.deployment}) was not deleted: ${describeFailure(err)}`;
    enter('Failed');
    run.notify('failed', { reason: status.reason });
    await run.noticesSent();
    return failed(status);
  }
  enter('Succeeded', `${spec.version} is live in ${status.candidateSlot}`);
  run.notify('succeeded', { ...(status.candidateSlot === undefined ? {} : { liveSlot: status.candidateSlot }) });
  await run.noticesSent();
  return resultOf(status);
}

/** The checks and metrics that failed or were inconclusive, with their figures, as a notice lists them. */
const failingChecks = (checks: readonly { ok: boolean; name: string; detail: string }[]): string[] =>
  checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);

/**
 * Notices of one release, each sent by a notify activity that runs beside the
 * release (not cancelled by an abort) and keyed by its place in the release, so
 * its retries and replays carry the same key. Releases started before
 * notifications (`notifying` false) send none.
 */
function noticesOf(spec: ReleaseSpec, status: ReleaseStatus, notifying: boolean, record: Run['record']) {
  const act = proxyActivities<Activities>(notifyOptions);
  const pending: Promise<void>[] = [];
  let settled = 0;
  const { namespace, service } = targetOf(spec);
  const notify = (kind: NoticeKind, more: Partial<Notice> = {}): void => {
    if (!notifying) return;
    const notice: Notice = {
      key: `${status.releaseId}#${pending.length + 1}`, kind, releaseId: status.releaseId, namespace, service,
      model: spec.model, version: spec.version, ...(spec.cluster === undefined ? {} : { cluster: spec.cluster }),
      phase: status.phase, at: new Date().toISOString(), ...more,
    };
    pending.push(CancellationScope.nonCancellable(() => act.notify(notice)).then(
      () => undefined,
      (err: unknown) => record('notice not sent', { detail: `${kind}: ${describeFailure(err)}` }),
    ).finally(() => { settled += 1; }));
  };
  // The release's end waits a little for its notices, not for a webhook that is down:
  // the next release of the service cannot start before this one ends.
  const noticesSent = async (): Promise<void> => {
    if (settled === pending.length || await condition(() => settled === pending.length, NOTICES_AT_END_MS)) return;
    record('notice not sent', { detail: `${pending.length - settled} still retried when the release ended; it waits for its notices ${NOTICES_AT_END_MS / 1000}s at most` });
  };
  return { notify, noticesSent };
}

/** What the message handlers change besides the status: the abort taken, and whether deletion began. */
interface Steering { abort?: Abort; deleting: boolean }

/** An approve passes the gate the release waits at; anything else is recorded as ignored, with why. */
function onApprove(run: Run, payload: unknown): void {
  const { spec, status, record } = run;
  const msg = asApproval(payload);
  if (msg === undefined) return record('approve', { accepted: false, detail: `ignored: invalid payload ${describePayload(payload)}` });
  const { by, requestId, comment } = msg;
  const ignored = (why: string) => record('approve', { by, requestId, accepted: false, detail: `ignored: ${why}` });
  if (msg.version !== undefined && msg.version !== spec.version) return ignored(`meant for version ${msg.version}; this release is ${spec.version}`);
  if (spec.approval.notByStarter && by === status.startedBy) return ignored(`${by} started this release, and approval.notByStarter asks for someone else`);
  if (run.approval !== undefined) return ignored('already approved');
  if (status.waitingFor === undefined) return ignored(`not waiting for approval (phase ${status.phase})`);
  run.approval = msg;
  status.approvedBy = by;
  const gates = { beforeSwitch: 'the gate before the switch', analysis: 'an inconclusive analysis', afterSwitch: 'monitoring' };
  const gate = gates[status.waitingFor];
  const detail = comment === undefined ? `approved at ${gate}` : `approved at ${gate}: ${comment}`;
  record('approve', { by, requestId, accepted: true, detail });
}

/** An abort cancels `work` (and so rolls back) from any phase before the old slot's deletion; later, it is refused. */
function onAbort(run: Run, steering: Steering, work: CancellationScope, payload: unknown): void {
  const { spec, status, record } = run;
  const msg = asAbort(payload);
  if (msg === undefined) return record('abort', { accepted: false, detail: `ignored: invalid payload ${describePayload(payload)}` });
  const { by, requestId, reason } = msg;
  const refused = (why: string) => record('abort', { by, requestId, accepted: false, detail: `refused: ${why}` });
  if (msg.version !== undefined && msg.version !== spec.version) return refused(`meant for version ${msg.version}; this release is ${spec.version}`);
  if (steering.deleting) return refused('the old slot is being deleted; there is nothing to go back to');
  if (steering.abort !== undefined) return refused('already aborting');
  if (FINAL_PHASES.includes(status.phase) || status.phase === 'RollingBack') return refused(`the release is ${status.phase}`);
  steering.abort = msg;
  status.abortedBy = by;
  record('abort', { by, requestId, accepted: true, detail: reason });
  work.cancel();
}

/** Runs the compensations in reverse; the first that fails ends the release Failed, naming what the cluster still needs. */
async function rollBack(run: Run): Promise<ReleaseResult> {
  const { status, enter, record } = run;
  enter('RollingBack', status.reason);
  const failing = failingChecks([...status.verification?.checks ?? [], ...status.analysis?.checks ?? []]);
  run.notify('rolling-back', { ...(status.reason === undefined ? {} : { reason: status.reason }), ...(failing.length > 0 ? { failing } : {}) });
  const order = [...run.compensations].reverse();
  for (const [i, step] of order.entries()) {
    try {
      await step.run();
      record('undone', { detail: step.name });
    } catch (err) {
      status.reason = `${status.reason}; rollback stopped at "${step.name}": ${describeFailure(err)}`;
      enter('Failed', `the cluster still needs: ${order.slice(i).map((s) => s.name).join(', ')}`);
      run.notify('failed', { reason: status.reason });
      await run.noticesSent();
      return failed(status);
    }
  }
  enter('RolledBack', status.oldSlot === undefined ? 'nothing of the first release is left' : `live traffic on ${status.oldSlot}`);
  run.notify('rolled-back', {
    ...(status.reason === undefined ? {} : { reason: status.reason }),
    ...(status.oldSlot === undefined ? {} : { liveSlot: status.oldSlot }),
  });
  await run.noticesSent();
  return resultOf(status);
}

/**
 * A Failed release needs a person: the execution fails too (its result in the
 * failure's details), so Temporal's UI, CLI, metrics and alerts show it as
 * failed. Releases started before this completed with the result (replay).
 */
function failed(status: ReleaseStatus): ReleaseResult {
  if (patched('failed-release-fails-workflow')) {
    const message = status.reason ?? 'the release failed';
    throw ApplicationFailure.create({ message, type: RELEASE_FAILED, nonRetryable: true, details: [resultOf(status)] });
  }
  return resultOf(status);
}

function resultOf(status: ReleaseStatus): ReleaseResult {
  const { releaseId, phase, oldSlot, candidateSlot, liveSlot, reason } = status;
  return { releaseId, phase, oldSlot, candidateSlot, liveSlot, reason };
}

/** A person-readable reason from an activity or workflow failure. */
function describeFailure(err: unknown): string {
  if (err instanceof ActivityFailure) {
    const cause = err.cause;
    if (cause instanceof TimeoutFailure) {
      return `${err.activityType} did not end within its bound (${cause.timeoutType} timeout); its attempts were stopped`;
    }
    const type = cause instanceof ApplicationFailure && cause.type ? ` [${cause.type}]` : '';
    return `${err.activityType} failed${type}: ${cause?.message ?? err.message}`;
  }
  return err instanceof Error ? err.message : String(err);
}
