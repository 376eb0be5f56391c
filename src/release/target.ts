// Names and labels of the objects a release owns, derived from the spec alone
// (pure, so the workflow, the activities and the tests agree on them).
import type { ReleaseSpec } from './spec.js';
import type { Slot } from './status.js';

export const FIELD_MANAGER = 'bluegreen';
export const MANAGED_BY = 'bluegreen';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const VERSION_LABEL = 'bluegreen.dev/version';
/** Names the model service a pod belongs to, so Services of one model never select each other's pods. */
export const SERVICE_LABEL = 'bluegreen.dev/service';
export const RELEASE_ANNOTATION = 'bluegreen.dev/release';

/** The part of a spec that names objects in the cluster. */
export interface Target {
  namespace: string;
  model: string;
  service: string;
  slotLabel: string;
}

export const targetOf = (spec: ReleaseSpec): Target => ({
  namespace: spec.namespace,
  model: spec.model,
  service: spec.service ?? spec.model,
  slotLabel: spec.slotLabel,
});

/** Bluegreen's own name for a slot's Deployment; an adopted live Deployment keeps its own. */
export const deploymentName = (t: Target, slot: Slot): string => `${t.service}-${slot}`;
export const previewServiceName = (t: Target): string => `${t.service}-preview`;

/** The selector of a Service that Bluegreen creates (a first release). */
export function slotSelector(t: Target, slot: Slot): Record<string, string> {
  return { [SERVICE_LABEL]: t.service, [t.slotLabel]: slot };
}

/** Labels that mark an object as Bluegreen's for this model service. */
export const ownLabels = (t: Target): Record<string, string> => ({
  'app.kubernetes.io/name': t.model, [MANAGED_BY_LABEL]: MANAGED_BY, [SERVICE_LABEL]: t.service,
});
