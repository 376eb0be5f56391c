// The release's phases and what the `status` query returns: the words every
// part of Bluegreen uses for where a release stands.

export const PHASES = [
  'Pending', 'Preflight', 'Deploying', 'Verifying', 'AwaitingApproval', 'Switching',
  'Monitoring', 'Finalizing', 'Succeeded', 'RollingBack', 'RolledBack', 'Failed',
] as const;
export type Phase = (typeof PHASES)[number];
export const FINAL_PHASES: readonly Phase[] = ['Succeeded', 'RolledBack', 'Failed'];

export type Slot = 'blue' | 'green';
export const otherSlot = (slot: Slot): Slot => (slot === 'blue' ? 'green' : 'blue');

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
  /** an analysis metric's latest measurements, [time in ms, value] */
  series?: [number, number][];
}
export interface VerificationResult { ok: boolean; endpoint: string; checks: CheckResult[] }
export interface AnalysisResult {
  ok: boolean;
  runs: number;
  failures: number;
  checks: CheckResult[];
  /** monitor.analysis: a metric was inconclusive, and a person decides */
  inconclusive?: boolean;
  /** monitor.traffic: requests each slot answered in the window, by their pods' counters */
  traffic?: { candidate: number; old: number };
}

/** Where the release waits for a person, if it does; `analysis`: monitor.analysis was inconclusive; approve promotes, abort rolls back. */
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
  /** a stepped release: the step done last, and each slot's pods it left */
  steps?: { done: number; candidate: number; old: number };
  /** after promotion with standbyReplicas: the old slot's pods, and what a rollback would start first */
  standby?: { replicas: number; toStart: number; startupSeconds: number };
  startedBy?: string;
  approvedBy?: string;
  abortedBy?: string;
  /** why the release rolled back or failed */
  reason?: string;
  timeline: TimelineEntry[];
}

export type ReleaseResult = Pick<ReleaseStatus, 'releaseId' | 'phase' | 'oldSlot' | 'candidateSlot' | 'liveSlot' | 'reason'>;
