// The release workflow: deterministic, no I/O. Every effect on the cluster is an
// activity; every decision is recorded in the timeline the `status` query returns.
import {
  ActivityCancellationType, ActivityFailure, ApplicationFailure, CancellationScope, condition, isCancellation,
  proxyActivities, setHandler, sleep, upsertSearchAttributes, workflowInfo, type ActivityOptions,
} from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { durationMs } from '../release/duration.js';
import type { ReleaseSpec } from '../release/spec.js';
import {
  abortSignal, approveSignal, searchAttributes, ErrorTypes, statusQuery, FINAL_PHASES,
  type Abort, type Approval, type Gate, type Phase, type ReleaseResult, type ReleaseStatus, type TimelineEntry,
} from '../release/status.js';
import { targetOf } from '../release/target.js';

type Activities = ReturnType<typeof createActivities>;

// Retries are bounded so a release never hangs on a broken API: when they run
// out, the release rolls back and says why.
const NON_RETRYABLE = [...Object.values(ErrorTypes), 'KubernetesRejected'];
const quick: ActivityOptions = {
  startToCloseTimeout: '30s',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '15s', maximumAttempts: 8, nonRetryableErrorTypes: NON_RETRYABLE },
};
const waiting = (startToClose: number): ActivityOptions => ({
  ...quick,
  startToCloseTimeout: startToClose,
  heartbeatTimeout: '30s',
  retry: { ...quick.retry, maximumAttempts: 4 },
});
// Undoing must try harder than doing: it is what restores the old version.
const undo: ActivityOptions = { ...quick, retry: { ...quick.retry, maximumInterval: '30s', maximumAttempts: 30 } };

export async function release(spec: ReleaseSpec): Promise<ReleaseResult> {
  const target = targetOf(spec);
  const info = workflowInfo();
  const status: ReleaseStatus = {
    releaseId: `${info.workflowId}/${info.runId}`,
    model: spec.model, namespace: spec.namespace, version: spec.version,
    phase: 'Pending', timeline: [],
  };
  const record = (event: string, more: Partial<TimelineEntry> = {}): void => {
    status.timeline.push({ at: new Date().toISOString(), phase: status.phase, event, ...more });
  };
  const enter = (phase: Phase, detail?: string): void => {
    status.phase = phase;
    record('phase', detail === undefined ? {} : { detail });
    upsertSearchAttributes([{ key: searchAttributes.phase, value: phase }]);
  };

  const rolloutTimeoutMs = durationMs(spec.rolloutTimeout);
  const acts = proxyActivities<Activities>(quick);
  const rollout = proxyActivities<Activities>(waiting(rolloutTimeoutMs + 60_000));
  const verifying = proxyActivities<Activities>(waiting(10 * 60_000));
  const switching = proxyActivities<Activities>(waiting(5 * 60_000));
  const monitoring = proxyActivities<Activities>(waiting(durationMs(spec.monitor.window) + 5 * 60_000));
  const undoing = proxyActivities<Activities>(undo);
  const undoRollout = proxyActivities<Activities>({ ...waiting(rolloutTimeoutMs + 60_000), retry: undo.retry });

  // `work` holds everything abort may interrupt; aborting cancels it.
  const work = new CancellationScope();
  let approval: Approval | undefined;
  let abortRequest: Abort | undefined;
  let deleting = false;

  setHandler(statusQuery, () => status);
  setHandler(approveSignal, (input: unknown) => {
    const msg = asApproval(input);
    if (msg === undefined) return record('approve', { accepted: false, detail: `ignored: invalid payload ${describePayload(input)}` });
    const { by, requestId, comment } = msg;
    if (status.waitingFor === undefined || approval !== undefined) {
      const why = approval !== undefined ? 'already approved' : `not waiting for approval (phase ${status.phase})`;
      return record('approve', { by, requestId, accepted: false, detail: `ignored: ${why}` });
    }
    approval = msg;
    status.approvedBy = by;
    record('approve', { by, requestId, accepted: true, detail: comment ?? `approved at ${status.waitingFor === 'beforeSwitch' ? 'the gate before the switch' : 'monitoring'}` });
  });
  setHandler(abortSignal, (input: unknown) => {
    const msg = asAbort(input);
    if (msg === undefined) return record('abort', { accepted: false, detail: `ignored: invalid payload ${describePayload(input)}` });
    const { by, requestId, reason } = msg;
    if (deleting || FINAL_PHASES.includes(status.phase) || status.phase === 'RollingBack' || abortRequest !== undefined) {
      const why = deleting ? 'the old slot is being deleted; there is nothing to go back to' : abortRequest !== undefined ? 'already aborting' : `the release is ${status.phase}`;
      return record('abort', { by, requestId, accepted: false, detail: `refused: ${why}` });
    }
    abortRequest = msg;
    status.abortedBy = by;
    record('abort', { by, requestId, accepted: true, detail: reason });
    work.cancel();
  });

  /** Waits at a gate; true when approved, false when the timeout passed. */
  const awaitApproval = async (gate: Gate, timeout: string): Promise<boolean> => {
    status.waitingFor = gate;
    try {
      return await condition(() => approval !== undefined, timeout);
    } finally {
      status.waitingFor = undefined;
    }
  };

  // Saga: each undo step is pushed before its step runs (every undo is idempotent,
  // so a step that half-happened is undone too), and run in reverse on rollback.
  const compensations: { name: string; run: () => Promise<unknown> }[] = [];
  let plan: Awaited<ReturnType<Activities['inspect']>> | undefined;

  const steps = async (): Promise<void> => {
    enter('Preflight');
    plan = await acts.inspect(spec);
    const { oldSlot, candidateSlot, previewBefore } = plan;
    status.oldSlot = oldSlot;
    status.liveSlot = oldSlot;
    status.candidateSlot = candidateSlot;
    record('plan', { detail: oldSlot === undefined ? `first release: bootstrap into ${candidateSlot}` : `live slot ${oldSlot}; candidate goes into ${candidateSlot}` });

    enter('Deploying');
    const candidate = { target, slot: candidateSlot };
    compensations.push({ name: `delete candidate slot ${candidateSlot}`, run: () => undoing.deleteSlot(candidate) });
    await acts.applyCandidate({ spec, slot: candidateSlot, releaseId: status.releaseId, replicas: spec.previewReplicas ?? spec.replicas });
    compensations.push(previewBefore === null
      ? { name: 'remove preview Service', run: () => undoing.removePreview({ target }) }
      : { name: `point preview back at ${previewBefore}`, run: () => undoing.pointPreview({ target, slot: previewBefore, releaseId: status.releaseId }) });
    await acts.pointPreview({ ...candidate, releaseId: status.releaseId });
    const ready = await rollout.waitForRollout({ ...candidate, timeoutMs: rolloutTimeoutMs });
    record('rollout', { detail: `${ready.ready}/${ready.total} replicas available` });

    enter('Verifying');
    status.verification = await verifying.verifyCandidate({ spec, slot: candidateSlot });
    if (!status.verification.ok) {
      const failed = status.verification.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
      throw ApplicationFailure.nonRetryable(`verification failed: ${failed.join('; ')}`, 'VerificationFailed');
    }
    record('verified', { detail: `${status.verification.checks.length} checks passed against ${status.verification.endpoint}` });

    if (spec.approval.beforeSwitch) {
      enter('AwaitingApproval');
      if (!(await awaitApproval('beforeSwitch', spec.approval.timeout))) {
        if (spec.approval.onTimeout === 'rollback') throw ApplicationFailure.nonRetryable(`no approval within ${spec.approval.timeout} before the switch`, 'ApprovalTimeout');
        record('approval timed out', { detail: 'onTimeout is promote: switching' });
      }
    }

    enter('Switching');
    if (spec.previewReplicas !== undefined && spec.previewReplicas < spec.replicas) {
      await acts.scaleSlot({ ...candidate, replicas: spec.replicas });
      await rollout.waitForRollout({ ...candidate, replicas: spec.replicas, timeoutMs: rolloutTimeoutMs });
      record('scaled', { detail: `candidate scaled to ${spec.replicas} replicas` });
    }
    if (oldSlot === undefined) {
      compensations.push({ name: 'remove live Service', run: () => undoing.removeService({ target, releaseId: status.releaseId }) });
    } else {
      const old = { target, slot: oldSlot };
      compensations.push({
        name: `switch live traffic back to ${oldSlot}`,
        run: async () => {
          await undoRollout.waitForRollout({ ...old, timeoutMs: rolloutTimeoutMs });
          await undoing.switchTraffic({ target, from: candidateSlot, to: oldSlot, releaseId: status.releaseId });
          status.liveSlot = oldSlot;
        },
      });
    }
    await switching.switchTraffic({ target, from: oldSlot, to: candidateSlot, releaseId: status.releaseId });
    status.liveSlot = candidateSlot;
    record('switched', { detail: `live Service selects ${candidateSlot}` });

    enter('Monitoring', `window ${spec.monitor.window}, analysis every ${spec.monitor.interval}`);
    await monitor();

    enter('Finalizing', oldSlot === undefined ? 'first release: no old slot' : `deleting ${oldSlot} after ${spec.scaleDownDelay}`);
    if (oldSlot !== undefined) await sleep(spec.scaleDownDelay);
  };

  const monitor = async (): Promise<void> => {
    status.waitingFor = 'afterSwitch';
    const analysisScope = new CancellationScope();
    const analysis = analysisScope.run(() => monitoring.monitor({ spec }));
    const first = await Promise.race([
      analysis.then((result) => ({ approved: false as const, result })),
      condition(() => approval !== undefined).then(() => ({ approved: true as const })),
    ]);
    status.waitingFor = undefined;
    if (first.approved) {
      analysisScope.cancel();
      await analysis.catch(() => undefined);
      return;
    }
    status.analysis = first.result;
    if (!first.result.ok) {
      throw ApplicationFailure.nonRetryable(`analysis failed ${first.result.failures} of ${first.result.runs} times: ${first.result.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`).join('; ')}`, 'AnalysisFailed');
    }
    record('analysis passed', { detail: `${first.result.runs} runs in the monitor window` });
    if (spec.approval.afterSwitch === 'auto') return;
    if (!(await awaitApproval('afterSwitch', spec.approval.timeout))) {
      if (spec.approval.onTimeout === 'rollback') throw ApplicationFailure.nonRetryable(`no approval within ${spec.approval.timeout} after the monitor window`, 'ApprovalTimeout');
      record('approval timed out', { detail: 'onTimeout is promote: promoting' });
    }
  };

  try {
    await work.run(steps);
  } catch (err) {
    status.waitingFor = undefined;
    status.reason = abortRequest !== undefined
      ? `aborted by ${abortRequest.by}: ${abortRequest.reason}`
      : isCancellation(err) ? 'the release was cancelled' : describeFailure(err);
    return await CancellationScope.nonCancellable(() => rollBack(compensations));
  }

  // From here on there is no going back: the old slot goes away.
  deleting = true;
  if (plan?.oldSlot !== undefined) {
    const oldSlot = plan.oldSlot;
    try {
      await CancellationScope.nonCancellable(() => undoing.deleteSlot({ target, slot: oldSlot }));
      record('deleted', { detail: `old slot ${oldSlot} deleted` });
    } catch (err) {
      status.reason = `the candidate serves traffic, but the old slot ${oldSlot} could not be deleted: ${describeFailure(err)}`;
      enter('Failed');
      return result();
    }
  }
  enter('Succeeded', `${spec.version} is live in ${status.candidateSlot}`);
  return result();

  async function rollBack(steps: typeof compensations): Promise<ReleaseResult> {
    enter('RollingBack', status.reason);
    const order = [...steps].reverse();
    for (const [i, step] of order.entries()) {
      try {
        await step.run();
        record('undone', { detail: step.name });
      } catch (err) {
        status.reason = `${status.reason}; rollback stopped at "${step.name}": ${describeFailure(err)}`;
        enter('Failed', `the cluster still needs: ${order.slice(i).map((s) => s.name).join(', ')}`);
        return result();
      }
    }
    enter('RolledBack', status.oldSlot === undefined ? 'nothing of the first release is left' : `live traffic on ${status.oldSlot}`);
    return result();
  }

  function result(): ReleaseResult {
    const { releaseId, phase, oldSlot, candidateSlot, liveSlot, reason } = status;
    return { releaseId, phase, oldSlot, candidateSlot, liveSlot, reason };
  }
}

/** A person-readable reason from an activity or workflow failure. */
function describeFailure(err: unknown): string {
  if (err instanceof ActivityFailure) {
    const cause = err.cause;
    const type = cause instanceof ApplicationFailure && cause.type ? ` [${cause.type}]` : '';
    return `${err.activityType} failed${type}: ${cause?.message ?? err.message}`;
  }
  return err instanceof Error ? err.message : String(err);
}

function describePayload(input: unknown): string {
  const text = JSON.stringify(input) ?? String(input);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

const isText = (v: unknown, max: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;

function asApproval(input: unknown): Approval | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const { by, comment, requestId } = input as Record<string, unknown>;
  if (!isText(by, 200) || (comment !== undefined && !isText(comment, 2000)) || (requestId !== undefined && !isText(requestId, 100))) return undefined;
  return { by, ...(comment === undefined ? {} : { comment }), ...(requestId === undefined ? {} : { requestId }) };
}

function asAbort(input: unknown): Abort | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const { by, reason, requestId } = input as Record<string, unknown>;
  if (!isText(by, 200) || !isText(reason, 2000) || (requestId !== undefined && !isText(requestId, 100))) return undefined;
  return { by, reason, ...(requestId === undefined ? {} : { requestId }) };
}
