// What the CLI does, as functions the tests call too.
import { randomUUID } from 'node:crypto';
import {
  Client, Connection, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError, type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { baseTaskQueue, taskQueueFor, temporalConfig, type TemporalConfig } from '../config.js';
import type { ReleaseSpec } from '../release/spec.js';
import { RELEASE_FAILED } from '../release/errors.js';
import { STARTED_BY_MEMO, WORKFLOW_TYPE, parseReleaseId, releaseWorkflowId, searchAttributes } from '../release/ids.js';
import { abortSignal, approveSignal, statusQuery } from '../release/messages.js';
import { FINAL_PHASES, type ReleaseResult, type ReleaseStatus, type TimelineEntry } from '../release/status.js';
import { targetOf } from '../release/target.js';

/** An outcome the user must hear about in one line; the CLI exits 1 with its message. */
export class UserError extends Error {
  override readonly name = 'UserError';
}

export async function connectClient(config: TemporalConfig = temporalConfig()): Promise<Client> {
  try {
    const connection = await Connection.connect({ address: config.address, tls: config.tls, apiKey: config.apiKey, connectTimeout: '5s' });
    return new Client({ connection, namespace: config.namespace });
  } catch (err) {
    throw new UserError(`cannot reach Temporal at ${config.address}: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** A model service's releases; `runId` pins one run (one release) of them. */
export interface ReleaseRef { namespace: string; service: string; cluster?: string; runId?: string }

/** The workflow id of a ref's releases (see releaseWorkflowId). */
export const workflowIdOf = (ref: ReleaseRef): string => releaseWorkflowId(ref.namespace, ref.service, ref.cluster);


/** A release goes to the workers of the cluster it names, and only to them. */
export const releaseTaskQueue = (spec: ReleaseSpec, queue = baseTaskQueue()): string => taskQueueFor(queue, spec.cluster);

export async function startRelease(
  client: Client, spec: ReleaseSpec, queue = baseTaskQueue(), startedBy?: string,
): Promise<WorkflowHandleWithFirstExecutionRunId> {
  const taskQueue = releaseTaskQueue(spec, queue);
  const { namespace, service } = targetOf(spec);
  const workflowId = releaseWorkflowId(namespace, service, spec.cluster);
  try {
    return await client.workflow.start(WORKFLOW_TYPE, {
      taskQueue,
      workflowId,
      args: [spec],
      workflowIdConflictPolicy: 'FAIL',
      ...(startedBy === undefined ? {} : { memo: { [STARTED_BY_MEMO]: startedBy } }),
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes: [
        { key: searchAttributes.model, value: spec.model },
        { key: searchAttributes.namespace, value: namespace },
        { key: searchAttributes.version, value: spec.version },
        { key: searchAttributes.phase, value: 'Pending' },
        // Only a release that names a cluster needs BluegreenCluster registered.
        ...(spec.cluster === undefined ? [] : [{ key: searchAttributes.cluster, value: spec.cluster }]),
      ],
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const open = await readStatus(client, { namespace, service, cluster: spec.cluster }).catch(() => undefined);
    const what = open === undefined ? '' : ` (version ${open.version}, phase ${open.phase})`;
    throw new UserError(`a release of ${namespace}/${service} is already running${what}: ${workflowId}; wait for it to end or abort it`);
  }
}

/** How long the status query may wait for a worker to answer. */
export const QUERY_DEADLINE_MS = 10_000;

/**
 * A release whose execution Temporal ended from outside (`temporal workflow
 * terminate`, a timeout, a cancel that never ran) keeps the phase it had: say
 * so, with who and why where the history has them, instead of following it for ever.
 */
async function refuseEndedOutside(client: Client, handle: WorkflowHandle, ref: ReleaseRef, phase: string): Promise<void> {
  // Bounded like the query, and failing like it: an outage is a read that failed, said as one.
  const described = await client.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => handle.describe());
  const how = described.status.name;
  if (how === undefined || how === 'RUNNING' || how === 'COMPLETED' || how === 'FAILED') return;
  const history = await handle.fetchHistory().catch(() => undefined);
  const terminated = history?.events?.at(-1)?.workflowExecutionTerminatedEventAttributes;
  const by = terminated?.identity ? ` by ${terminated.identity}` : '';
  const why = terminated?.reason ? ` ("${terminated.reason}")` : '';
  throw new UserError(`the release of ${ref.namespace}/${ref.service} was ${how.toLowerCase().replaceAll('_', ' ')}${by}${why} in phase ${phase}: Temporal stopped it, so it neither finished nor rolled back; the cluster holds what ${phase} left (bluegreen history ${ref.service} -n ${ref.namespace}, kubectl)`);
}

export async function readStatus(client: Client, ref: ReleaseRef): Promise<ReleaseStatus> {
  const handle = client.workflow.getHandle(workflowIdOf(ref), ref.runId);
  try {
    const status = await client.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => handle.query(statusQuery));
    if (!FINAL_PHASES.includes(status.phase)) await refuseEndedOutside(client, handle, ref, status.phase);
    return status;
  } catch (err) {
    if (err instanceof UserError) throw err;
    const where = ref.cluster === undefined ? '' : ` in cluster ${ref.cluster}`;
    const notFound = new UserError(`no release of ${ref.namespace}/${ref.service}${where} found (workflow ${handle.workflowId})`);
    if (err instanceof WorkflowNotFoundError) {
      // Releases started before clusters were named have the id without one.
      if (ref.cluster !== undefined) return readStatus(client, { ...ref, cluster: undefined }).catch(() => Promise.reject(notFound));
      throw notFound;
    }
    // Queries need a worker; without one, the server still knows the phase and version.
    // Bounded like the query: an unbounded describe rides out a Temporal outage in the
    // client's own retries, and a follower would never say it cannot read the release.
    const described = await client.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => handle.describe()).catch(() => undefined);
    if (described === undefined) throw err;
    const sa = described.typedSearchAttributes;
    const status: ReleaseStatus = {
      releaseId: `${described.workflowId}/${described.runId}`,
      model: sa.get(searchAttributes.model) ?? ref.service,
      namespace: sa.get(searchAttributes.namespace) ?? ref.namespace,
      version: sa.get(searchAttributes.version) ?? 'unknown',
      phase: (sa.get(searchAttributes.phase) ?? 'Pending') as ReleaseStatus['phase'],
      reason: `no worker answered the status query (${(err as Error).message.split('\n')[0]}); phase and version are from the server's search attributes, the timeline is in the workflow history`,
      timeline: [],
    };
    // An ended release's result is in its history, which needs no worker: its phase, slots and reason.
    if (described.status.name !== 'COMPLETED' && described.status.name !== 'FAILED') {
      await refuseEndedOutside(client, handle, ref, status.phase);
      return status;
    }
    const ended = await releaseResult(client.workflow.getHandle(described.workflowId, described.runId)).catch(() => undefined);
    return ended === undefined ? status : { ...status, ...ended };
  }
}

/** What the CLI sends: an approve or an abort, as a person gave it. */
export type OutgoingMessage =
  | { kind: 'approve'; by: string; comment?: string; version?: string }
  | { kind: 'abort'; by: string; reason: string; version?: string };

/**
 * What the release did with a message; `pending`: Temporal recorded it, but no
 * worker has run the release since, so it is acted on when one does.
 */
export type MessageOutcome = { accepted: boolean; entry: TimelineEntry; status: ReleaseStatus } | { pending: true; status: ReleaseStatus };

/**
 * Sends approve or abort, then reads the status until the release has recorded
 * the message, so the caller learns whether it acted on it.
 */
export async function sendMessage(
  client: Client, ref: ReleaseRef,
  message: OutgoingMessage,
  timeoutMs = 30_000,
): Promise<MessageOutcome> {
  const before = await readStatus(client, ref);
  const what = `the release of ${ref.namespace}/${ref.service}`;
  if (message.version !== undefined && message.version !== before.version) {
    throw new UserError(`${what} is of version ${before.version}, not ${message.version}; nothing sent`);
  }
  if (FINAL_PHASES.includes(before.phase)) throw new UserError(`${what} has ended (${before.phase}); nothing to ${message.kind}`);
  // Pinned to the run the user looked at and to its version: a message meant for
  // a release that just ended never passes the next release's gate.
  const { workflowId, runId } = parseReleaseId(before.releaseId);
  const pinned = { ...ref, runId: ref.runId ?? runId };
  const handle = client.workflow.getHandle(workflowId, pinned.runId);
  const requestId = randomUUID();
  const version = before.version;
  try {
    const comment = message.kind === 'approve' && message.comment ? { comment: message.comment } : {};
    if (message.kind === 'approve') await handle.signal(approveSignal, { by: message.by, requestId, version, ...comment });
    else await handle.signal(abortSignal, { by: message.by, reason: message.reason, requestId, version });
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new UserError(`${what} (run ${pinned.runId}) has ended; nothing sent`);
    throw err;
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await readStatus(client, pinned);
    const entry = status.timeline.find((e) => e.requestId === requestId);
    if (entry !== undefined) return { accepted: entry.accepted === true, entry, status };
    if (Date.now() > deadline) return { pending: true, status };
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** How long following a release rides out a Temporal outage before it gives up. */
const FOLLOW_OUTAGE_MS = 120_000;
/** How long following waits for a worker to answer about a release that has ended. */
const ENDED_UNANSWERED_MS = 20_000;

/**
 * Follows a release until it ends, calling onEntry with each new timeline entry
 * once. A brief outage of Temporal is ridden out (onNote says so), not taken
 * for the end of the release.
 */
export async function followRelease(
  client: Client, ref: ReleaseRef, onEntry: (e: TimelineEntry) => void, pollMs = 1_000,
  onNote: (text: string) => void = () => undefined, seenBefore = 0,
): Promise<ReleaseResult> {
  let seen = seenBefore;
  let failingSince: number | undefined;
  let endedUnanswered: number | undefined;
  for (;;) {
    let status: ReleaseStatus;
    try {
      status = await readStatus(client, ref);
      failingSince = undefined;
    } catch (err) {
      if (err instanceof UserError) throw err;
      const now = Date.now();
      if (failingSince === undefined) onNote(`cannot read the release (${(err as Error).message.split('\n')[0]}); retrying for ${FOLLOW_OUTAGE_MS / 1000}s: the release goes on in the worker`);
      failingSince ??= now;
      if (now - failingSince > FOLLOW_OUTAGE_MS) throw err;
      await new Promise((r) => setTimeout(r, pollMs));
      continue;
    }
    // A status from the search attributes (no worker answered) has no timeline: keep what was printed.
    status.timeline.slice(seen).forEach(onEntry);
    seen = Math.max(seen, status.timeline.length);
    if (FINAL_PHASES.includes(status.phase)) {
      if (status.timeline.length > 0) {
        const { releaseId, phase, oldSlot, candidateSlot, liveSlot, reason } = status;
        return { releaseId, phase, oldSlot, candidateSlot, liveSlot, reason };
      }
      // Ended while no worker answered: ask again for the rest of the timeline for a
      // while, then take the result from the history, which needs no worker.
      endedUnanswered ??= Date.now();
      if (Date.now() - endedUnanswered > ENDED_UNANSWERED_MS) {
        const { workflowId, runId } = parseReleaseId(status.releaseId);
        return releaseResult(client.workflow.getHandle(workflowId, ref.runId ?? runId));
      }
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/**
 * A release's result from its history: what it returned, or for a release that
 * ended Failed (the execution fails too), the result in the failure's details.
 */
export async function releaseResult(handle: WorkflowHandle): Promise<ReleaseResult> {
  try {
    return await handle.result() as ReleaseResult;
  } catch (err) {
    const cause = err instanceof WorkflowFailedError ? err.cause : undefined;
    const failedRelease = cause instanceof ApplicationFailure && cause.type === RELEASE_FAILED ? cause.details?.[0] : undefined;
    if (failedRelease !== undefined) return failedRelease as ReleaseResult;
    throw err;
  }
}

/** Whether any worker polls a task queue (a release started without one waits silently). */
export async function hasWorker(client: Client, taskQueue: string): Promise<boolean> {
  const answer = await client.workflowService.describeTaskQueue({
        // 1 is TASK_QUEUE_TYPE_WORKFLOW: the workflow pollers are what a new release needs first.
    namespace: client.options.namespace, taskQueue: { name: taskQueue }, taskQueueType: 1,
  });
  return (answer.pollers ?? []).length > 0;
}

export interface ReleaseListing {
  workflowId: string; runId: string; status: string; startTime: Date;
  model?: string; namespace?: string; version?: string; phase?: string; cluster?: string;
}

export interface ListOptions { namespace?: string; model?: string; phase?: string; cluster?: string; all?: boolean; limit?: number }

export async function listReleases(client: Client, options: ListOptions = {}): Promise<ReleaseListing[]> {
  const quoted = (v: string) => `'${v.replaceAll("'", '')}'`;
  const clauses = [`WorkflowType = '${WORKFLOW_TYPE}'`];
  if (!options.all) clauses.push(`ExecutionStatus = 'Running'`);
  if (options.namespace) clauses.push(`${searchAttributes.namespace.name} = ${quoted(options.namespace)}`);
  if (options.model) clauses.push(`${searchAttributes.model.name} = ${quoted(options.model)}`);
  if (options.phase) clauses.push(`${searchAttributes.phase.name} = ${quoted(options.phase)}`);
  if (options.cluster) clauses.push(`${searchAttributes.cluster.name} = ${quoted(options.cluster)}`);
  const out: ReleaseListing[] = [];
  for await (const wf of client.workflow.list({ query: clauses.join(' AND ') })) {
    const sa = wf.typedSearchAttributes;
    out.push({
      workflowId: wf.workflowId, runId: wf.runId, status: wf.status.name, startTime: wf.startTime,
      model: sa.get(searchAttributes.model), namespace: sa.get(searchAttributes.namespace),
      version: sa.get(searchAttributes.version), phase: sa.get(searchAttributes.phase), cluster: sa.get(searchAttributes.cluster),
    });
    if (out.length >= (options.limit ?? 100)) break;
  }
  return out.sort((a, b) => b.startTime.getTime() - a.startTime.getTime());
}

/**
 * Adds to each message in a status's timeline the identity Temporal recorded for
 * its sender (the signal event in the history), beside the `by` the sender
 * stated. Workflow code cannot see that identity; the history keeps it.
 */
export async function withSenderIdentities(client: Client, status: ReleaseStatus): Promise<ReleaseStatus> {
  const [workflowId, runId] = [status.releaseId.slice(0, status.releaseId.lastIndexOf('/')), status.releaseId.split('/').at(-1)];
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory().catch(() => undefined);
  const identities = new Map<string, string>();
  for (const event of history?.events ?? []) {
    const signaled = event.workflowExecutionSignaledEventAttributes;
    const data = signaled?.input?.payloads?.[0]?.data;
    if (!signaled?.identity || !data) continue;
    try {
      const requestId = (JSON.parse(Buffer.from(data).toString('utf8')) as { requestId?: unknown }).requestId;
      if (typeof requestId === 'string') identities.set(requestId, signaled.identity);
    } catch { /* a payload that is not JSON carries no requestId */ }
  }
  return {
    ...status,
    timeline: status.timeline.map((e) => {
      const identity = e.requestId === undefined ? undefined : identities.get(e.requestId);
      return identity === undefined ? e : { ...e, identity };
    }),
  };
}
