// What the CLI does, as functions the tests call too.
import { randomUUID } from 'node:crypto';
import {
  Client, Connection, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { temporalConfig, type TemporalConfig } from '../config.js';
import type { ReleaseSpec } from '../release/spec.js';
import {
  FINAL_PHASES, WORKFLOW_TYPE, abortSignal, approveSignal, releaseWorkflowId, searchAttributes, statusQuery,
  type ReleaseResult, type ReleaseStatus, type TimelineEntry,
} from '../release/status.js';
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

export interface ReleaseRef { namespace: string; service: string }

export async function startRelease(client: Client, spec: ReleaseSpec, taskQueue = temporalConfig().taskQueue): Promise<WorkflowHandleWithFirstExecutionRunId> {
  const { namespace, service } = targetOf(spec);
  const workflowId = releaseWorkflowId(namespace, service);
  try {
    return await client.workflow.start(WORKFLOW_TYPE, {
      taskQueue,
      workflowId,
      args: [spec],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes: [
        { key: searchAttributes.model, value: spec.model },
        { key: searchAttributes.namespace, value: namespace },
        { key: searchAttributes.version, value: spec.version },
        { key: searchAttributes.phase, value: 'Pending' },
      ],
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const open = await readStatus(client, { namespace, service }).catch(() => undefined);
    const what = open === undefined ? '' : ` (version ${open.version}, phase ${open.phase})`;
    throw new UserError(`a release of ${namespace}/${service} is already running${what}: ${workflowId}; wait for it to end or abort it`);
  }
}

/** How long the status query may wait for a worker to answer. */
const QUERY_DEADLINE_MS = 10_000;

export async function readStatus(client: Client, ref: ReleaseRef): Promise<ReleaseStatus> {
  const handle = client.workflow.getHandle(releaseWorkflowId(ref.namespace, ref.service));
  try {
    return await client.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => handle.query(statusQuery));
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new UserError(`no release of ${ref.namespace}/${ref.service} found (workflow ${handle.workflowId})`);
    // Queries need a worker; without one, the server still knows the phase and version.
    const described = await handle.describe().catch(() => undefined);
    if (described === undefined) throw err;
    const sa = described.typedSearchAttributes;
    return {
      releaseId: `${described.workflowId}/${described.runId}`,
      model: sa.get(searchAttributes.model) ?? ref.service,
      namespace: sa.get(searchAttributes.namespace) ?? ref.namespace,
      version: sa.get(searchAttributes.version) ?? 'unknown',
      phase: (sa.get(searchAttributes.phase) ?? 'Pending') as ReleaseStatus['phase'],
      reason: `no worker answered the status query (${(err as Error).message.split('\n')[0]}); phase and version are from the server's search attributes, the timeline is in the workflow history`,
      timeline: [],
    };
  }
}

export type MessageOutcome = { accepted: boolean; entry: TimelineEntry; status: ReleaseStatus };

/**
 * Sends approve or abort, then reads the status until the release has recorded
 * the message, so the caller learns whether it acted on it.
 */
export async function sendMessage(
  client: Client, ref: ReleaseRef,
  message: { kind: 'approve'; by: string; comment?: string } | { kind: 'abort'; by: string; reason: string },
  timeoutMs = 30_000,
): Promise<MessageOutcome> {
  const before = await readStatus(client, ref);
  if (FINAL_PHASES.includes(before.phase)) throw new UserError(`the release of ${ref.namespace}/${ref.service} has ended (${before.phase}); nothing to ${message.kind}`);
  const handle = client.workflow.getHandle(releaseWorkflowId(ref.namespace, ref.service));
  const requestId = randomUUID();
  if (message.kind === 'approve') await handle.signal(approveSignal, { by: message.by, requestId, ...(message.comment ? { comment: message.comment } : {}) });
  else await handle.signal(abortSignal, { by: message.by, reason: message.reason, requestId });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await readStatus(client, ref);
    const entry = status.timeline.find((e) => e.requestId === requestId);
    if (entry !== undefined) return { accepted: entry.accepted === true, entry, status };
    if (Date.now() > deadline) throw new UserError(`${message.kind} was sent but the release has not recorded it after ${timeoutMs / 1000}s: is a worker running?`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Follows a release until it ends, calling onChange with each new timeline entry. */
export async function followRelease(client: Client, ref: ReleaseRef, onEntry: (e: TimelineEntry) => void, pollMs = 1_000): Promise<ReleaseResult> {
  let seen = 0;
  for (;;) {
    const status = await readStatus(client, ref);
    status.timeline.slice(seen).forEach(onEntry);
    seen = status.timeline.length;
    if (FINAL_PHASES.includes(status.phase)) {
      const { releaseId, phase, oldSlot, candidateSlot, liveSlot, reason } = status;
      return { releaseId, phase, oldSlot, candidateSlot, liveSlot, reason };
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

export interface ReleaseListing { workflowId: string; status: string; model?: string; namespace?: string; version?: string; phase?: string; startTime: Date }

export async function listReleases(client: Client, options: { namespace?: string; all?: boolean; limit?: number } = {}): Promise<ReleaseListing[]> {
  const clauses = [`WorkflowType = '${WORKFLOW_TYPE}'`];
  if (!options.all) clauses.push(`ExecutionStatus = 'Running'`);
  if (options.namespace) clauses.push(`BluegreenNamespace = '${options.namespace.replaceAll("'", '')}'`);
  const out: ReleaseListing[] = [];
  for await (const wf of client.workflow.list({ query: clauses.join(' AND ') })) {
    const sa = wf.typedSearchAttributes;
    out.push({
      workflowId: wf.workflowId, status: wf.status.name, startTime: wf.startTime,
      model: sa.get(searchAttributes.model), namespace: sa.get(searchAttributes.namespace),
      version: sa.get(searchAttributes.version), phase: sa.get(searchAttributes.phase),
    });
    if (out.length >= (options.limit ?? 100)) break;
  }
  return out;
}
