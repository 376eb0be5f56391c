// The names a release is found by: the task queue, the workflow type, workflow
// ids and release ids, and the search attributes. Each is built and parsed here
// only, so the worker, the client and the tests agree on them.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const TASK_QUEUE = 'bluegreen';
export const WORKFLOW_TYPE = 'release';

/** Memo key of who started a release (as the client that started it said). */
export const STARTED_BY_MEMO = 'startedBy';

/**
 * One release per model service and cluster at a time: the id names both. A
 * release for no named cluster keeps the id releases had before clusters were
 * named (`bluegreen/NS/SERVICE`), so its history reads as it did.
 */
export const releaseWorkflowId = (namespace: string, service: string, cluster?: string): string =>
  `bluegreen/${namespace}/${service}${cluster ? `@${cluster}` : ''}`;

/** The model service and cluster of a release's workflow id; undefined for an id that is not one. */
export function parseWorkflowId(workflowId: string): { namespace: string; service: string; cluster?: string } | undefined {
  const m = /^bluegreen\/([^/]+)\/([^/@]+)(?:@(.+))?$/.exec(workflowId);
  if (m === null) return undefined;
  return { namespace: m[1]!, service: m[2]!, ...(m[3] === undefined ? {} : { cluster: m[3] }) };
}

/** A release id names one run of a workflow: `<workflowId>/<runId>`. */
export const releaseIdOf = (workflowId: string, runId: string): string => `${workflowId}/${runId}`;

/** The workflow id and run id of a release id. */
export function parseReleaseId(releaseId: string): { workflowId: string; runId: string } {
  const at = releaseId.lastIndexOf('/');
  return { workflowId: releaseId.slice(0, at), runId: releaseId.slice(at + 1) };
}

/** The task queue of a cluster's releases: one queue per cluster when clusters are named. */
export const taskQueueFor = (queue: string, cluster: string | undefined): string => (cluster ? `${queue}-${cluster}` : queue);

export const searchAttributes = {
  model: defineSearchAttributeKey('BluegreenModel', SearchAttributeType.KEYWORD),
  namespace: defineSearchAttributeKey('BluegreenNamespace', SearchAttributeType.KEYWORD),
  phase: defineSearchAttributeKey('BluegreenPhase', SearchAttributeType.KEYWORD),
  version: defineSearchAttributeKey('BluegreenVersion', SearchAttributeType.KEYWORD),
  /** set only on releases that name a cluster */
  cluster: defineSearchAttributeKey('BluegreenCluster', SearchAttributeType.KEYWORD),
} as const;
