// The switch of the live Service between slots: the proof and the guarded patch
// (rules/switch.ts decides), then the wait until its EndpointSlices hold only
// the new slot's ready pods.
import type { V1Deployment } from '@kubernetes/client-node';
import { ErrorTypes } from '../release/errors.js';
import type { SwitchInput } from '../release/plan.js';
import { ownService } from '../rules/objects.js';
import { sameSelector } from '../rules/selectors.js';
import { decideSwitch } from '../rules/switch.js';
import { apply, patchSelector, readService, selectedPods, serviceEndpoints, type Kube } from './cluster.js';
import { mustRead, nonRetryable, type ActivityContext } from './context.js';
import { slotWatch, waitFor } from './waits.js';

type Moved = { toDeployment: V1Deployment; alsoDeployment?: V1Deployment } | { switched: false; detail: string };

/**
 * The switch's proof and patch: reads the Service, `to`'s Deployment and the pods
 * and ReplicaSets the new selector matches, all at once, and acts on the decision.
 * Returns the Deployment read, for the wait that follows.
 */
async function moveSelector(kube: Kube, input: SwitchInput & { back?: boolean }): Promise<Moved> {
  const { target, from, to, ports, releaseId, back, minReady, also } = input;
  // Read together: the switch waits on nothing it does not need.
  const [service, toDeployment, alsoDeployment, matching] = await Promise.all([
    readService(kube, target, target.service),
    mustRead(kube, target, to.deployment, ErrorTypes.SwitchRefused),
    also === undefined ? undefined : mustRead(kube, target, also, ErrorTypes.SwitchRefused),
    selectedPods(kube, target, to.selector),
  ]);
  const decision = decideSwitch({ target, from, to, back, minReady, service, toDeployment, alsoDeployment, matching });
  switch (decision.action) {
    case 'leave': return { switched: false, detail: decision.detail };
    case 'refuse': throw nonRetryable(decision.type, decision.message);
    case 'create': await apply(kube, ownService(target, target.service, to.selector, ports, releaseId)); break;
    case 'patch':
      if (await patchSelector(kube, target, from!.selector, to.selector) === 'conflict' && !await selectsAlready(kube, target, to)) {
        throw nonRetryable(ErrorTypes.SelectorConflict, `Service ${target.namespace}/${target.service} selector changed between read and patch; not overwritten`);
      }
      break;
    case 'none': break;
  }
  return { toDeployment, alsoDeployment };
}

/**
 * After a refused guarded patch: a Service that now selects exactly `to` holds
 * this release's own write (an earlier try of the switch that landed late,
 * such as the one in the workflow task), not someone else's.
 */
async function selectsAlready(kube: Kube, target: SwitchInput['target'], to: SwitchInput['to']): Promise<boolean> {
  return sameSelector((await readService(kube, target, target.service))?.spec?.selector, to.selector);
}

export function switchActivities({ kube, pollMs }: ActivityContext) {
  return {
    /**
     * Moves the live Service from one slot's selector to another's (see
     * rules/switch.ts), then waits (at most settleMs) until its EndpointSlices
     * hold only those pods. `from` undefined: a first release, which creates the
     * live Service. `back`: a rollback; a Service that no longer selects `from` is left alone.
     */
    async switchTraffic(input: SwitchInput & { back?: boolean }): Promise<{ switched: boolean; detail: string }> {
      const { target, to, settleMs } = input;
      const moved = await moveSelector(kube, input);
      if (!('toDeployment' in moved)) return moved;
      const { toDeployment, alsoDeployment } = moved;
      const watch = slotWatch(target, to.deployment, target.service, toDeployment);
      const whose = input.also === undefined ? to.deployment : `${to.deployment} and ${input.also}`;
      const settled = await waitFor(kube, pollMs, `EndpointSlices of ${target.service} holding only ${whose}'s ready pods`, settleMs, watch, async (reads) => {
        const state = await serviceEndpoints(reads, target.service, toDeployment, alsoDeployment);
        const done = state.strangers.length === 0 && state.ready >= Math.max(1, state.podsReady);
        return { done, progress: { ready: state.ready, others: state.strangers.length } };
      }, ErrorTypes.SwitchTimeout);
      return { switched: true, detail: `Service ${target.namespace}/${target.service} selects ${JSON.stringify(to.selector)}: ${settled.ready} ready endpoints of ${whose}` };
    },

    /**
     * The first half of switchTraffic alone (the proof and the patch, no wait), run
     * as a local activity in the workflow task that took the approval, so traffic
     * moves without a round trip through the server's activity queue.
     */
    async switchSelector(input: SwitchInput): Promise<{ switched: boolean; detail: string }> {
      const moved = await moveSelector(kube, input);
      return 'toDeployment' in moved ? { switched: true, detail: `Service ${input.target.namespace}/${input.target.service} selects ${JSON.stringify(input.to.selector)}` } : moved;
    },
  };
}
