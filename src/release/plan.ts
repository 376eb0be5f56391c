// What preflight decides (the Plan, recorded in the history) and the inputs of
// the steps that carry it out: shared by the workflow, the activities and the client.
import type { V1Deployment, V1ServicePort } from '@kubernetes/client-node';
import type { Slot } from './status.js';
import type { Target } from './target.js';

export type Selector = Record<string, string>;

/** A slot's Deployment and the Service selector that selects its pods. */
export interface SlotPlan {
  slot: Slot;
  deployment: string;
  selector: Selector;
}

/** An HPA or KEDA ScaledObject that scales the live Deployment by name; its target follows the live slot. */
export interface Autoscaler { apiVersion: string; kind: string; name: string; min: number; max: number }

/** What preflight found and decided: everything later steps need, so they never guess. */
export interface Plan {
  /** the slot the live Service selects; undefined on a first release (no Service yet) */
  oldSlot?: Slot;
  candidateSlot: Slot;
  /**
   * The live slot: its Deployment (found by the live Service's selector),
   * replicas at the start, whether Bluegreen created it. `unslotted`: the live
   * Service's own selector, which has no slot label (an unslotted setup); the
   * slot's `selector` is then that one narrowed to the live ReplicaSet's pods
   * (`pod-template-hash`), which the Service holds while the candidate exists
   * beside them, and `unslotted` is what a rollback restores.
   */
  live?: SlotPlan & { replicas: number; adopted: boolean; unslotted?: Selector };
  candidate: SlotPlan;
  /** the replicas the candidate serves with: the spec's, else the live Deployment's, else 1 */
  replicas: number;
  /** the candidate Deployment exactly as it will be applied (the API server accepted it in a dry run) */
  object: V1Deployment;
  /** the preview Service's selector before the release; null when there was no preview Service */
  previewBefore: Selector | null;
  /** the live Service's ports, which the preview copies (a first release: the serving container's ports) */
  ports: V1ServicePort[];
  /** the Service port that verification and analysis send requests to */
  port: number;
  /** the port the candidate's serving container answers on (plans recorded before it have none) */
  servingPort?: number;
  /** what preflight found that a person should know (an owner that acts later, or one the spec allows) */
  warnings?: string[];
  /** the nodes had no room for the candidate and capacity.whenShort is wait: why (its rollouts wait up to capacity.timeout) */
  roomShort?: string;
  /** the autoscalers of the live Deployment: retargeted to the candidate at the switch, back on a rollback */
  autoscalers?: Autoscaler[];
}

export interface SlotRef { target: Target; slot: Slot; deployment: string }
/** The candidate Deployment as the plan holds it, applied with `replicas` and the release's annotation. */
export interface ApplyInput { target: Target; object: V1Deployment; replicas: number; releaseId: string }
export interface RolloutInput extends SlotRef {
  replicas?: number;
  /** a rollback: scale the slot back to this many replicas first if it was scaled to 0 */
  restoreReplicas?: number;
  /** before the switch: done once this many pods are ready (the full rollout is not needed) */
  minReady?: number;
  timeoutMs: number;
}
export interface RolloutReport { ready: number; total: number }
export interface SwitchInput {
  target: Target;
  from?: SlotPlan;
  to: SlotPlan;
  ports: V1ServicePort[];
  releaseId: string;
  /** how long the live Service may take to hold only `to`'s ready pods after the patch */
  settleMs: number;
  /** a switch forward: the ready pods of `to` the proof needs (a switch back needs one) */
  minReady?: number;
  /** a stepped release's shared selector: the other slot's Deployment, whose pods `to.selector` holds too */
  also?: string;
}
export interface RetargetInput { target: Target; autoscaler: Autoscaler; from: string; to: string; back?: boolean }
export interface PreviewInput { target: Target; selector: Selector; ports: V1ServicePort[]; releaseId: string }
