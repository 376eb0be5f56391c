// Who else manages the objects a release changes: a GitOps tool that
// reconciles them continuously (Argo CD, Flux), a controller that owns them,
// or Helm, which acts only at its next upgrade. Bluegreen never fights an
// owner in silence: preflight refuses the first three unless the spec says to
// go on knowingly (owners.allow), and warns of Helm.
import type { V1ObjectMeta } from '@kubernetes/client-node';

export const OWNER_KINDS = ['argocd', 'flux', 'controller'] as const;
export type OwnerKind = (typeof OWNER_KINDS)[number];

export interface Owner {
  kind: OwnerKind | 'helm';
  /** the object it manages, as `Kind namespace/name` */
  object: string;
  /** who, as the object says */
  by: string;
}

const FLUX_PREFIXES = ['kustomize.toolkit.fluxcd.io/', 'helm.toolkit.fluxcd.io/'];

/** The owners an object's labels, annotations and owner references name. */
export function ownersOf(kind: string, meta: V1ObjectMeta | undefined): Owner[] {
  const object = `${kind} ${meta?.namespace ?? ''}${meta?.namespace ? '/' : ''}${meta?.name ?? ''}`;
  const labels = meta?.labels ?? {};
  const annotations = meta?.annotations ?? {};
  const owners: Owner[] = [];
  const tracking = annotations['argocd.argoproj.io/tracking-id'];
  if (tracking !== undefined) owners.push({ kind: 'argocd', object, by: `Argo CD application ${tracking.split(':')[0]}` });
  const flux = Object.keys(labels).filter((k) => FLUX_PREFIXES.some((p) => k.startsWith(p)) && k.endsWith('/name'));
  for (const key of flux) {
    const what = key.startsWith('helm.') ? 'HelmRelease' : 'Kustomization';
    const ns = labels[key.replace(/\/name$/, '/namespace')];
    owners.push({ kind: 'flux', object, by: `Flux ${what} ${ns === undefined ? '' : `${ns}/`}${labels[key]}` });
  }
  for (const ref of meta?.ownerReferences ?? []) {
    if (ref.controller === true) owners.push({ kind: 'controller', object, by: `${ref.kind} ${ref.name}` });
  }
  if (labels['app.kubernetes.io/managed-by'] === 'Helm' || annotations['meta.helm.sh/release-name'] !== undefined) {
    owners.push({ kind: 'helm', object, by: `Helm release ${annotations['meta.helm.sh/release-name'] ?? labels['app.kubernetes.io/instance'] ?? '(unnamed)'}` });
  }
  return owners;
}

const WHY: Record<OwnerKind, string> = {
  argocd: 'its self-heal would put back the selector and the old slot, and a prune would delete the candidate',
  flux: 'its next reconciliation would put back the selector and the old slot, and prune the candidate',
  controller: 'it reconciles the object back to what it wants',
};

/** The refusal of an owner the spec does not allow, saying what to do. */
export const ownerRefusal = (o: Owner & { kind: OwnerKind }): string =>
  `${o.object} is managed by ${o.by}: ${WHY[o.kind]}; exclude the slot Deployments and the selector from it (docs/gitops.md), then set owners.allow: [${o.kind}] to release knowingly`;

/** What the plan says of an owner that acts later (Helm) or that the spec allows. */
export const ownerWarning = (o: Owner): string => (o.kind === 'helm'
  ? `${o.object} is managed by ${o.by}: the next helm upgrade puts back what the chart says (the selector, the old slot); keep the chart in step with the release`
  : `${o.object} is managed by ${o.by}; going on as owners.allow says`);
