// Names and labels of the objects a release owns, derived from the spec alone
// (pure, so the workflow, the activities and the tests agree on them).
import type { ReleaseSpec } from './spec.js';
import type { Slot } from './status.js';
import { MANAGED_BY, MANAGED_BY_LABEL, NAME_LABEL, SERVICE_LABEL } from './labels.js';

export { FIELD_MANAGER, MANAGED_BY, MANAGED_BY_LABEL, NAME_LABEL, RELEASE_ANNOTATION, SERVICE_LABEL, VERSION_LABEL } from './labels.js';

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
  [NAME_LABEL]: t.model, [MANAGED_BY_LABEL]: MANAGED_BY, [SERVICE_LABEL]: t.service,
});
