// The Services Bluegreen owns: the preview, and the live one on a first
// release. Someone else's Service is never touched.
import type { PreviewInput } from '../release/plan.js';
import { RELEASE_ANNOTATION, previewServiceName, type Target } from '../release/target.js';
import { ownService } from '../rules/objects.js';
import { isOwnPreview } from '../rules/plan.js';
import { apply, deleteServiceOf } from './cluster.js';
import type { ActivityContext } from './context.js';

export function serviceActivities({ kube }: ActivityContext) {
  return {
    /** Points the preview Service at a selector (creating it if absent); preflight made sure it is ours. */
    async pointPreview({ target, selector, ports, releaseId }: PreviewInput): Promise<void> {
      await apply(kube, ownService(target, previewServiceName(target), selector, ports, releaseId));
    },

    /** Removes the preview Service if it is Bluegreen's for this model service (0.1's too); anyone else's is never touched. */
    async removePreview({ target }: { target: Target }): Promise<void> {
      await deleteServiceOf(kube, target, previewServiceName(target), (s) => isOwnPreview(s, target));
    },

    /** Removes the live Service if this release created it (its annotation names the release). */
    async removeService({ target, releaseId }: { target: Target; releaseId: string }): Promise<void> {
      await deleteServiceOf(kube, target, target.service, (s) => s.metadata?.annotations?.[RELEASE_ANNOTATION] === releaseId);
    },
  };
}
