// Names and labels of the objects a release owns, derived from the spec alone
// (pure, so the workflow, the activities and the tests agree on them).
import type { ReleaseSpec } from './spec.js';
import type { Slot } from './status.js';

export const FIELD_MANAGER = 'bluegreen';
export const MANAGED_BY = 'bluegreen';
export const VERSION_LABEL = 'bluegreen.dev/version';
export const RELEASE_ANNOTATION = 'bluegreen.dev/release';

/** The part of a spec that names objects in the cluster. */
export interface Target {
  namespace: string;
  model: string;
  service: string;
  slotLabel: string;
  port: number;
}

export const targetOf = (spec: ReleaseSpec): Target => ({
  namespace: spec.namespace,
  model: spec.model,
  service: spec.service ?? spec.model,
  slotLabel: spec.slotLabel,
  port: spec.port,
});

export const deploymentName = (t: Target, slot: Slot): string => `${t.service}-${slot}`;
export const previewServiceName = (t: Target): string => `${t.service}-preview`;

/** Labels on a slot's Deployment and pods; the selector uses all but the version. */
export function slotSelector(t: Target, slot: Slot): Record<string, string> {
  return { 'app.kubernetes.io/name': t.model, [t.slotLabel]: slot };
}
