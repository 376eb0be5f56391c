// The activity object the worker registers: each family of steps, assembled
// here and wrapped once (activity.ts). Clients come in through deps, so tests
// hand in a real cluster's clients or local ones. Activity names are recorded
// in every release's history: a name here never changes.
import { activities } from './activity.js';
import { autoscalerActivities } from './autoscalers.js';
import { contextOf, type ActivityDeps } from './context.js';
import { drainActivities } from './drain.js';
import { monitorActivities } from './monitor.js';
import { notifyActivities } from './notify.js';
import { preflightActivities } from './preflight.js';
import { serviceActivities } from './services.js';
import { slotActivities } from './slots.js';
import { switchActivities } from './switch.js';
import { verificationActivities } from './verification.js';

export type { ActivityDeps } from './context.js';

export function createActivities(deps: ActivityDeps) {
  const context = contextOf(deps);
  return activities(deps, {
    ...preflightActivities(context),
    ...slotActivities(context),
    ...drainActivities(context),
    ...serviceActivities(context),
    ...switchActivities(context),
    ...autoscalerActivities(context),
    ...verificationActivities(context),
    ...monitorActivities(context),
    ...notifyActivities(context),
  });
}

export type Activities = ReturnType<typeof createActivities>;
