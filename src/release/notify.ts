// The vocabulary of notifications: what a release tells the people who must
// know (it waits for them, it rolls back, it ended), and where the worker sends it.
import type { Gate, Phase, Slot } from './status.js';

/**
 * `waiting`: at a gate, for approve or abort; `rolling-back`: a check, an
 * analysis or a person stopped the release; then `rolled-back`, or `failed`
 * (the cluster needs a person); `succeeded`.
 */
export const NOTICE_KINDS = ['waiting', 'rolling-back', 'rolled-back', 'failed', 'succeeded'] as const;
export type NoticeKind = (typeof NOTICE_KINDS)[number];

/** One event of one release, as every webhook receives it. */
export interface Notice {
  /** the same for every attempt to send this event (`<releaseId>#<n>`): receivers drop a repeat by it */
  key: string;
  kind: NoticeKind;
  releaseId: string;
  namespace: string;
  service: string;
  model: string;
  version: string;
  cluster?: string;
  phase: Phase;
  /** the workflow's time of the event */
  at: string;
  gate?: Gate;
  /** why it rolls back or failed; for a gate, what the analysis left open */
  reason?: string;
  /** the checks and metrics that failed or were inconclusive, with their figures */
  failing?: string[];
  liveSlot?: Slot;
}

/** Where a worker sends notices: a generic JSON body, or Slack's (an incoming webhook: text and blocks). */
export const WEBHOOK_FORMATS = ['json', 'slack'] as const;
export interface Webhook { format: (typeof WEBHOOK_FORMATS)[number]; url: string }

/** What the notify activity did: the webhooks each notice reached, counted by the worker. */
export interface NotifyReport { sent: number; skipped: number }
