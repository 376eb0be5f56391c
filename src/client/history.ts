// A model service's past releases, read from Temporal's histories: every run of
// its workflow id keeps the spec it started with, the plan preflight made (with
// the exact pod template), each approve and abort with the identity that sent
// it, and the outcome. `history` prints them; `rollback` starts one again.
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { Plan } from '../release/plan.js';
import type { ReleaseSpec } from '../release/spec.js';
import { STARTED_BY_MEMO, releaseWorkflowId, searchAttributes } from '../release/ids.js';
import { abortSignal, approveSignal } from '../release/messages.js';
import { type ReleaseResult } from '../release/status.js';
import { validateSpec } from '../release/validate.js';
import { UserError, workflowIdOf, type ReleaseRef } from './releases.js';

export interface PastMessage { kind: 'approve' | 'abort'; by: string; at: string; identity?: string; comment?: string; reason?: string }

export interface PastRelease {
  releaseId: string;
  version: string;
  /** the final phase (Succeeded, RolledBack, Failed), the phase it is in while it runs, or how Temporal ended it (Terminated, TimedOut) */
  outcome: string;
  running: boolean;
  startedAt: string;
  endedAt?: string;
  durationSeconds?: number;
  startedBy?: string;
  reason?: string;
  messages: PastMessage[];
}

/** One run with what a rollback needs: the spec it started with and the plan preflight made. */
interface Run extends PastRelease { spec?: unknown; plan?: Plan }

/** A payload as the default converter reads it; undefined when it cannot. */
export const decode = (payload: Payload | undefined | null): unknown => {
  if (!payload) return undefined;
  try {
    return defaultPayloadConverter.fromPayload(payload);
  } catch {
    return undefined;
  }
};

/**
 * The runs of a model service in a cluster, newest first: those of its id,
 * and for a named cluster also those started before clusters were named (the
 * id without one) whose spec names that cluster.
 */
async function runsOf(client: Client, ref: ReleaseRef, limit: number): Promise<Run[]> {
  const ids = [...new Set([workflowIdOf(ref), releaseWorkflowId(ref.namespace, ref.service)])];
  const executions = [];
  const query = ids.map((id) => `WorkflowId = '${id.replaceAll("'", '')}'`).join(' OR ');
  for await (const wf of client.workflow.list({ query })) executions.push(wf);
  executions.sort((a, b) => b.startTime.getTime() - a.startTime.getTime());
  const runs = await Promise.all(executions.slice(0, limit).map(async (wf) => {
    const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    const run: Run = {
      releaseId: `${wf.workflowId}/${wf.runId}`,
      version: wf.typedSearchAttributes.get(searchAttributes.version) ?? 'unknown',
      outcome: wf.status.name === 'RUNNING' || wf.status.name === 'COMPLETED'
        ? wf.typedSearchAttributes.get(searchAttributes.phase) ?? wf.status.name
        : wf.status.name.charAt(0) + wf.status.name.slice(1).toLowerCase().replace('_out', 'Out'),
      running: wf.status.name === 'RUNNING',
      startedAt: wf.startTime.toISOString(),
      ...(wf.closeTime ? {
        endedAt: wf.closeTime.toISOString(), durationSeconds: Math.round((wf.closeTime.getTime() - wf.startTime.getTime()) / 100) / 10,
      } : {}),
      messages: [],
    };
    const startedBy = wf.memo?.[STARTED_BY_MEMO];
    if (typeof startedBy === 'string') run.startedBy = startedBy;
    const inspectScheduled = new Set<string>();
    for (const event of history.events ?? []) {
      const at = event.eventTime?.seconds ? new Date(Number(String(event.eventTime.seconds)) * 1000).toISOString() : run.startedAt;
      const started = event.workflowExecutionStartedEventAttributes;
      if (started) run.spec = decode(started.input?.payloads?.[0]);
      const scheduled = event.activityTaskScheduledEventAttributes;
      if (scheduled?.activityType?.name === 'inspect') inspectScheduled.add(String(event.eventId));
      const completed = event.activityTaskCompletedEventAttributes;
      if (completed && inspectScheduled.has(String(completed.scheduledEventId))) run.plan = decode(completed.result?.payloads?.[0]) as Plan;
      const signaled = event.workflowExecutionSignaledEventAttributes;
      if (signaled && (signaled.signalName === approveSignal.name || signaled.signalName === abortSignal.name)) {
        const input = decode(signaled.input?.payloads?.[0]) as { by?: unknown; comment?: unknown; reason?: unknown } | undefined;
        if (typeof input?.by !== 'string') continue;
        run.messages.push({
          kind: signaled.signalName === approveSignal.name ? 'approve' : 'abort', by: input.by, at,
          ...(signaled.identity ? { identity: signaled.identity } : {}),
          ...(typeof input.comment === 'string' ? { comment: input.comment } : {}),
          ...(typeof input.reason === 'string' ? { reason: input.reason } : {}),
        });
      }
      // A Failed release fails its execution, with its result in the failure's details.
      const failure = event.workflowExecutionFailedEventAttributes?.failure?.applicationFailureInfo?.details?.payloads?.[0];
      const returned = event.workflowExecutionCompletedEventAttributes?.result?.payloads?.[0];
      const result = decode(returned ?? failure ?? undefined) as ReleaseResult | undefined;
      if (result?.phase) {
        run.outcome = result.phase;
        if (result.reason) run.reason = result.reason;
      }
    }
    return run;
  }));
  // A run of the id without a cluster belongs to this cluster only if its spec names it.
  const own = `${workflowIdOf(ref)}/`;
  return runs.filter((r) => r.releaseId.startsWith(own) || (r.spec as { cluster?: string } | undefined)?.cluster === ref.cluster);
}

/** The releases of a model service, newest first. */
export async function releaseHistory(client: Client, ref: ReleaseRef, limit = 20): Promise<PastRelease[]> {
  const runs = await runsOf(client, ref, limit);
  return runs.map(({ spec: _spec, plan: _plan, ...past }) => past);
}

/**
 * The spec that releases again a version that served before: its spec as it
 * started, with the exact pod template its preflight applied (less the slot
 * label, which the new release sets). Without `version`: the version that was
 * live before the one live now.
 */
export async function rollbackSpec(
  client: Client, ref: ReleaseRef, version?: string,
): Promise<{ spec: ReleaseSpec; from: PastRelease }> {
  const runs = await runsOf(client, ref, 100);
  const what = `${ref.namespace}/${ref.service}`;
  if (runs.length === 0) throw new UserError(`no release of ${what} found: nothing to roll back to`);
  if (runs.some((r) => r.running)) throw new UserError(`a release of ${what} is running: abort it to roll back (bluegreen abort ${ref.service} -n ${ref.namespace} --reason ...)`);
  const succeeded = runs.filter((r) => r.outcome === 'Succeeded');
  const live = succeeded[0];
  if (live === undefined) throw new UserError(`no release of ${what} has succeeded: nothing served before`);
  const target = version === undefined
    ? succeeded.find((r) => r.version !== live.version)
    : succeeded.find((r) => r.version === version);
  if (target === undefined) {
    const known = [...new Set(succeeded.map((r) => r.version))].join(', ');
    throw new UserError(version === undefined
      ? `only ${live.version} has been released successfully for ${what}: no earlier version to roll back to`
      : `version ${version} was never released successfully for ${what} (released: ${known})`);
  }
  if (target.version === live.version) throw new UserError(`${what} already serves ${live.version}`);
  if (typeof target.spec !== 'object' || target.spec === null) throw new UserError(`the history of ${target.releaseId} holds no spec`);
  const spec = { ...(target.spec as Record<string, unknown>) };
  const template = target.plan?.object?.spec?.template;
  if (template !== undefined) {
    const slotLabel = typeof spec.slotLabel === 'string' ? spec.slotLabel : 'slot';
    const { [slotLabel]: _slot, ...labels } = template.metadata?.labels ?? {};
    const annotations = template.metadata?.annotations;
    spec.template = { metadata: { labels, ...(annotations ? { annotations } : {}) }, spec: template.spec };
  }
  const { spec: _spec, plan: _plan, ...from } = target;
  return { spec: validateSpec(spec, `the spec of ${target.releaseId}`), from };
}
