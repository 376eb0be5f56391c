// Inputs and outputs of the activities, shared with the workflow (types only).
import type { Slot } from '../release/status.js';
import type { Target } from '../release/target.js';

/** What preflight found and decided. */
export interface Plan {
  /** the slot the live Service selects; undefined on a first release (no Service yet) */
  oldSlot?: Slot;
  candidateSlot: Slot;
  /** the slot the preview Service selected before the release; null when there was no preview Service */
  previewBefore: Slot | null;
}

export interface SlotRef { target: Target; slot: Slot }
export interface RolloutInput extends SlotRef { replicas?: number; timeoutMs: number }
export interface RolloutReport { ready: number; total: number }
export interface SwitchInput { target: Target; from?: Slot; to: Slot; releaseId: string }
