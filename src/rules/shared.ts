// What both slots would hold at once: during a release the candidate's pods run
// beside the live ones, so a claim that attaches to one node only, or a host
// port, cannot be held by both. Refused before anything changes, with the way out.
import type { V1PersistentVolumeClaim, V1PodTemplateSpec } from '@kubernetes/client-node';
import { RefusedError } from './refused.js';

/** The placeholder a claim name may hold: Bluegreen puts the slot there (`cache-{{slot}}` is `cache-green`). */
export const SLOT_PLACEHOLDER = '{{slot}}';

/** Fills `{{slot}}` in the template's claim names (in place). */
export function fillSlotInClaims(template: V1PodTemplateSpec, slot: string): void {
  for (const volume of template.spec?.volumes ?? []) {
    const claim = volume.persistentVolumeClaim;
    if (claim?.claimName.includes(SLOT_PLACEHOLDER)) claim.claimName = claim.claimName.replaceAll(SLOT_PLACEHOLDER, slot);
  }
}

const claimsOf = (template: V1PodTemplateSpec | undefined): string[] =>
  (template?.spec?.volumes ?? []).flatMap((v) => (v.persistentVolumeClaim ? [v.persistentVolumeClaim.claimName] : []));

/** A claim that several nodes may attach at once (ReadWriteMany or ReadOnlyMany). */
const sharable = (claim: V1PersistentVolumeClaim | undefined): boolean =>
  (claim?.spec?.accessModes ?? []).some((m) => m === 'ReadWriteMany' || m === 'ReadOnlyMany');

/** The host ports a template's pods hold: hostPorts, and with hostNetwork every container port. */
function hostPortsOf(template: V1PodTemplateSpec | undefined): number[] {
  const spec = template?.spec;
  return (spec?.containers ?? []).flatMap((c) => (c.ports ?? []).flatMap((p) => {
    const port = p.hostPort ?? (spec?.hostNetwork ? p.containerPort : undefined);
    return port === undefined ? [] : [port];
  }));
}

/**
 * Refuses a candidate that mounts a claim the live pods hold and that attaches
 * to one node at a time, or that holds a host port the live pods hold.
 */
export function refuseShared(
  live: V1PodTemplateSpec | undefined, candidate: V1PodTemplateSpec | undefined, claims: readonly V1PersistentVolumeClaim[],
): void {
  const liveClaims = new Set(claimsOf(live));
  const held = claimsOf(candidate).filter((name) => liveClaims.has(name) && !sharable(claims.find((c) => c.metadata?.name === name)));
  if (held.length > 0) {
    const modes = held.map((name) => `${name} (${claims.find((c) => c.metadata?.name === name)?.spec?.accessModes?.join(', ') ?? 'not found'})`).join(', ');
    throw new RefusedError(`the candidate would mount PersistentVolumeClaim ${modes}, which the live pods hold and which attaches to one node at a time: the candidate's pods would stay Pending or fail to attach; give each slot its own claim (name it with ${SLOT_PLACEHOLDER}, e.g. model-cache-${SLOT_PLACEHOLDER}, and create model-cache-blue and model-cache-green), or use a ReadOnlyMany or ReadWriteMany claim`);
  }
  const livePorts = new Set(hostPortsOf(live));
  const ports = [...new Set(hostPortsOf(candidate).filter((p) => livePorts.has(p)))];
  if (ports.length > 0) {
    throw new RefusedError(`the candidate's pods would hold host port ${ports.join(', ')}, which the live pods hold (hostPort${candidate?.spec?.hostNetwork ? ' or hostNetwork' : ''}): no node could run a pod of each slot, so the candidate could only run where no live pod does; serve through the Service instead of host ports, or give the candidate another port (template)`);
  }
}
