// Selectors and the slots they name: small pure judgments over labels.
import type { V1Deployment, V1Service } from '@kubernetes/client-node';
import type { Selector } from '../release/plan.js';
import type { Slot } from '../release/status.js';

export const asSlot = (value: string | undefined): Slot | undefined => (value === 'blue' || value === 'green' ? value : undefined);
export const show = (selector: Selector | undefined): string => JSON.stringify(selector ?? {});

/** True when every label of a non-empty selector is on `labels` (an empty selector selects no pod of a Service). */
export function selects(selector: Selector | undefined, labels: Selector | undefined): boolean {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([k, v]) => labels?.[k] === v);
}

export const sameSelector = (a: Selector | undefined, b: Selector | undefined): boolean => {
  const ea = Object.entries(a ?? {});
  return ea.length === Object.keys(b ?? {}).length && ea.every(([k, v]) => b?.[k] === v);
};

/** Whether a Service selects pods with no slot label in its selector (an unslotted setup Bluegreen adopts). */
export const isUnslotted = (service: V1Service | undefined, slotLabel: string): boolean => {
  const selector = service?.spec?.selector ?? {};
  return service !== undefined && selector[slotLabel] === undefined && Object.keys(selector).length > 0;
};

/** The slot a Service selects, or a reason it selects none we know. */
export function selectedSlot(service: V1Service, slotLabel: string): Slot | { problem: string } {
  const value = service.spec?.selector?.[slotLabel];
  const slot = asSlot(value);
  if (slot !== undefined) return slot;
  return {
    problem: value === undefined
      ? `its selector ${show(service.spec?.selector)} has no "${slotLabel}" label (is slotLabel right? existing setups use env or color)`
      : `its selector has ${slotLabel}=${value}; expected blue or green`,
  };
}

/**
 * The Services that select a Deployment's pods and no other Deployment's:
 * deleting that Deployment would leave them with no endpoints.
 */
export function servicesOnlyOn(
  deployment: V1Deployment, deployments: readonly V1Deployment[], services: readonly V1Service[],
): V1Service[] {
  const labelsOf = (d: V1Deployment) => d.spec?.template?.metadata?.labels;
  const others = deployments.filter((d) => d.metadata?.name !== deployment.metadata?.name);
  const selectsOthers = (s: V1Service) => others.some((d) => selects(s.spec?.selector, labelsOf(d)));
  return services.filter((s) => selects(s.spec?.selector, labelsOf(deployment)) && !selectsOthers(s));
}
