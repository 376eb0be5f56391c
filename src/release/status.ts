// The release's messages and what the `status` query returns. The CLI imports
// these without importing workflow code.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const PHASES = [
  'Pending', 'Preflight', 'Deploying', 'Verifying', 'AwaitingApproval', 'Switching',
  'Monitoring', 'Finalizing', 'Succeeded', 'RollingBack', 'RolledBack', 'Failed',
] as const;
export type Phase = (typeof PHASES)[number];
export const FINAL_PHASES: readonly Phase[] = ['Succeeded', 'RolledBack', 'Failed'];

export type Slot = 'blue' | 'green';
export const otherSlot = (slot: Slot): Slot => (slot === 'blue' ? 'green' : 'blue');

/** `version`, when given, pins the message to the release of that version: one meant for another is ignored. */
export interface Approval { by: string; comment?: string; requestId?: string; version?: string }
export interface Abort { by: string; reason: string; requestId?: string; version?: string }

export interface TimelineEntry {
  /** ISO time from the workflow's clock */
  at: string;
  phase: Phase;
  event: string;
  by?: string;
  detail?: string;
  /** set for messages: whether the release acted on it */
  accepted?: boolean;
  requestId?: string;
  /** for messages, added by clients from the history: the identity the Temporal server recorded for the sender */
  identity?: string;
}

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
  latencyMs?: number;
  /** the check's figure (a percentile in ms, an agreement rate, a query's value) and what it must meet */
  value?: number;
  bound?: string;
  /** the first disagreements of a shadow check */
  examples?: string[];
}
export interface VerificationResult { ok: boolean; endpoint: string; checks: CheckResult[] }
export interface AnalysisResult {
  ok: boolean;
  runs: number;
  failures: number;
  checks: CheckResult[];
  /** monitor.analysis: a metric was inconclusive, and a person decides */
  inconclusive?: boolean;
}

/** Where the release waits for a person, if it does. */
/** `analysis`: monitor.analysis was inconclusive; approve promotes, abort rolls back. */
export type Gate = 'beforeSwitch' | 'afterSwitch' | 'analysis';

export interface ReleaseStatus {
  releaseId: string;
  model: string;
  namespace: string;
  version: string;
  phase: Phase;
  /** the slot live traffic pointed at when the release started; undefined on a first release */
  oldSlot?: Slot;
  candidateSlot?: Slot;
  /** the slot the live Service selects now, as far as the release knows */
  liveSlot?: Slot;
  /** the Deployments of the old slot (adopted or Bluegreen's) and of the candidate */
  oldDeployment?: string;
  candidateDeployment?: string;
  waitingFor?: Gate;
  verification?: VerificationResult;
  analysis?: AnalysisResult;
  startedBy?: string;
  approvedBy?: string;
  abortedBy?: string;
  /** why the release rolled back or failed */
  reason?: string;
  timeline: TimelineEntry[];
}

/** The failure type of a release that ended Failed; its details hold the ReleaseResult. */
export const RELEASE_FAILED = 'ReleaseFailed';

export type ReleaseResult = Pick<ReleaseStatus, 'releaseId' | 'phase' | 'oldSlot' | 'candidateSlot' | 'liveSlot' | 'reason'>;

export const approveSignal = defineSignal<[Approval]>('approve');
export const abortSignal = defineSignal<[Abort]>('abort');
export const statusQuery = defineQuery<ReleaseStatus>('status');

/** Memo key of who started a release (as the client that started it said). */
export const STARTED_BY_MEMO = 'startedBy';

export const TASK_QUEUE = 'bluegreen';
export const WORKFLOW_TYPE = 'release';

/** One release per model service at a time: the id names the service. */
export const releaseWorkflowId = (namespace: string, service: string): string => `bluegreen/${namespace}/${service}`;

export const searchAttributes = {
  model: defineSearchAttributeKey('BluegreenModel', SearchAttributeType.KEYWORD),
  namespace: defineSearchAttributeKey('BluegreenNamespace', SearchAttributeType.KEYWORD),
  phase: defineSearchAttributeKey('BluegreenPhase', SearchAttributeType.KEYWORD),
  version: defineSearchAttributeKey('BluegreenVersion', SearchAttributeType.KEYWORD),
} as const;

/** Failure types that no retry can fix; the workflow rolls back on them at once. */
export const ErrorTypes = {
  invalidSpec: 'InvalidSpec',
  refused: 'PreflightRefused',
  rolloutFailed: 'RolloutFailed',
  rolloutTimeout: 'RolloutTimeout',
  waitTimeout: 'WaitTimeout',
  verificationFailed: 'VerificationFailed',
  selectorConflict: 'SelectorConflict',
  forbiddenNamespace: 'NamespaceNotAllowed',
  switchRefused: 'SwitchRefused',
  switchTimeout: 'SwitchTimeout',
  slotIsLive: 'SlotIsLive',
  endpointNotAllowed: 'EndpointNotAllowed',
} as const;
