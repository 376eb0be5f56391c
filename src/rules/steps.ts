// A stepped release's steps: how many pods each slot holds after each one, for a
// budget of extra pods beside the live slot (GPUs rarely exist twice).
import type { V1PodSpec } from '@kubernetes/client-node';
import type { Autoscaler, Plan, Selector } from '../release/plan.js';
import type { ReleaseSpec } from '../release/spec.js';
import { RefusedError } from './refused.js';

type LivePlan = NonNullable<Plan['live']>;

export interface Step {
  /** the candidate's replicas after the step */
  candidate: number;
  /** the old slot's replicas after the step */
  old: number;
}

export interface StepBudget {
  /** the live slot's replicas when the release starts */
  live: number;
  /** the candidate's full size */
  replicas: number;
  /** the candidate's replicas at verification, beside all of the live slot's */
  preview: number;
  /** stepped.extraPods: the pods beyond the larger slot's size that may exist at once, and each step's size */
  extra: number;
}

/** The most pods of both slots together at any moment of a stepped release. */
export const peakPods = ({ live, replicas, extra }: StepBudget): number => Math.max(live, replicas) + extra;

/**
 * Each step grows the candidate by up to `extra` pods (within the budget, once
 * they are ready), then shrinks the old slot by `extra`, until the candidate
 * holds all its replicas and the old slot none. Undone in reverse, each step
 * grows the old slot back first, so a rollback keeps to the budget too.
 */
export function stepsOf(budget: StepBudget): Step[] {
  const { replicas, extra } = budget;
  const peak = peakPods(budget);
  const steps: Step[] = [];
  let candidate = Math.min(budget.preview, replicas);
  let old = budget.live;
  while (candidate < replicas || old > 0) {
    candidate = Math.min(replicas, candidate + Math.max(0, Math.min(extra, peak - candidate - old)));
    old = Math.max(0, old - extra);
    steps.push({ candidate, old });
  }
  return steps;
}

/** The candidate's replicas at verification: the spec's, else a stepped release's extra pods, else all. */
export const previewReplicasOf = (spec: Pick<ReleaseSpec, 'previewReplicas' | 'stepped'>, replicas: number): number =>
  spec.previewReplicas ?? (spec.stepped === undefined ? replicas : Math.min(spec.stepped.extraPods, replicas));

/** The candidate's pods that must fit beside the live slot's before any of those go: all, or a stepped release's extra. */
export const podsBesideLive = (spec: Pick<ReleaseSpec, 'previewReplicas' | 'stepped'>, replicas: number, live: number | undefined): number =>
  spec.stepped === undefined || live === undefined ? replicas
    : Math.max(previewReplicasOf(spec, replicas), peakPods({ live, replicas, preview: 0, extra: spec.stepped.extraPods }) - live);

/** The selector that holds both slots' pods during the steps: the live one without the slot label (an unslotted setup's own). */
export function sharedSelector(live: Pick<LivePlan, 'selector' | 'unslotted'>, slotLabel: string): Selector {
  if (live.unslotted !== undefined) return live.unslotted;
  const { [slotLabel]: _slot, ...rest } = live.selector;
  return rest;
}

/**
 * What a stepped release cannot work with, refused before anything changes,
 * and what a person should know, as the plan's warnings.
 */
export function checkStepped(
  spec: Pick<ReleaseSpec, 'stepped' | 'previewReplicas'> & { slotLabel: string }, live: LivePlan | undefined, replicas: number,
  autoscalers: readonly Autoscaler[], template: V1PodSpec | undefined,
): string[] {
  const { stepped } = spec;
  if (stepped === undefined) return [];
  if (live === undefined) return ['stepped: a first release has no live slot to replace; the candidate starts at its full size'];
  const scaler = autoscalers[0];
  if (scaler !== undefined) {
    throw new RefusedError(`stepped: ${scaler.kind} ${scaler.name} scales the live Deployment ${live.deployment}, and the steps scale it too: they would fight. Release without stepped (the autoscaler follows the switch), or take the autoscaler off for the release`);
  }
  if (Object.keys(sharedSelector(live, spec.slotLabel)).length === 0) {
    throw new RefusedError(`stepped: the live Service's selector ${JSON.stringify(live.selector)} has no label but "${spec.slotLabel}", so no selector can hold both slots' pods during the steps; add a label both slots carry (such as app) to the Service's selector`);
  }
  const budget = { live: live.replicas, replicas, preview: previewReplicasOf(spec, replicas), extra: stepped.extraPods };
  const steps = stepsOf(budget);
  const notes = [`stepped: ${steps.length} steps of ${stepped.extraPods} pods, at most ${peakPods(budget)} pods of both slots at once (${live.replicas} live + ${stepped.extraPods} extra)`];
  const stops = (template?.containers ?? []).some((c) => c.lifecycle?.preStop !== undefined);
  if (!stops) {
    notes.push('stepped: the old slot\'s pods leave while the live Service selects them, and the template has no preStop hook: a request a node proxy sends to one before it learns the pod is leaving may fail; add `lifecycle: { preStop: { sleep: { seconds: 5 } } }` to the serving container');
  }
  return notes;
}
