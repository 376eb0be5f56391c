// Preflight: the spec checked (the worker trusts no client), the namespace read,
// the plan decided (rules/plan.ts) and the candidate judged by the API server in
// a dry run, all before anything in the cluster changes.
import type { V1PodTemplateSpec } from '@kubernetes/client-node';
import { ErrorTypes } from '../release/errors.js';
import type { Plan } from '../release/plan.js';
import type { ReleaseSpec } from '../release/spec.js';
import { targetOf } from '../release/target.js';
import { InvalidSpecError, checkSpec, formatFieldError, validateSpec } from '../release/validate.js';
import { podRequests, refuseNoRoom } from '../rules/capacity.js';
import { planRelease } from '../rules/plan.js';
import { podsBesideLive } from '../rules/steps.js';
import { RefusedError } from '../rules/refused.js';
import { listAround } from './around.js';
import { KubeError, apply, listClaims, nodesAndPods, observe, type Kube } from './cluster.js';
import {
  analysisHeaders, guardEndpoints, guardNamespace, nonRetryable, requestHeaders, verifyHeaders, type ActivityContext,
} from './context.js';

/** The spec validated again, and refused where it asks the worker to read files. */
function validated(input: ReleaseSpec): ReleaseSpec {
  let spec: ReleaseSpec;
  try {
    spec = validateSpec(input);
  } catch (err) {
    if (err instanceof InvalidSpecError) throw nonRetryable(ErrorTypes.InvalidSpec, err.errors.map(formatFieldError).join('; '));
    throw err;
  }
  if (spec.templateFrom !== undefined) {
    throw nonRetryable(ErrorTypes.InvalidSpec, `templateFrom: the client reads ${spec.templateFrom.file} and inlines it as template before starting (the bluegreen CLI does); the worker reads no files`);
  }
  if (spec.verify.shadow?.inputsFile !== undefined) {
    throw nonRetryable(ErrorTypes.InvalidSpec, `verify.shadow.inputsFile: the client reads ${spec.verify.shadow.inputsFile} and inlines it as verify.shadow.inputs before starting (the bluegreen CLI does); the worker reads no files`);
  }
  return spec;
}

/**
 * The candidate at full size beside the live slot must fit the nodes it can
 * run on (rules/capacity.ts). Read only when its pods request resources; a
 * worker that may not list nodes says so in the plan instead.
 */
async function checkRoom(kube: Kube, spec: ReleaseSpec, plan: Plan): Promise<void> {
  const template = plan.object.spec?.template.spec;
  if (Object.keys(podRequests(template)).length === 0) return;
  let seen: Awaited<ReturnType<typeof nodesAndPods>>;
  try {
    seen = await nodesAndPods(kube);
  } catch (err) {
    if (!(err instanceof KubeError) || err.code !== 403) throw err;
    (plan.warnings ??= []).push(`capacity not checked: the worker may not list nodes and pods (${err.message}); bind the bluegreen-capacity ClusterRole (deploy/rbac.yaml)`);
    return;
  }
  try {
    const beside = podsBesideLive(spec, plan.replicas, plan.live?.replicas);
    const stepped = spec.stepped !== undefined && plan.live !== undefined;
    refuseNoRoom(template, beside, seen.nodes, seen.pods, plan.candidate.deployment, stepped);
  } catch (err) {
    if (!(err instanceof RefusedError) || spec.capacity?.whenShort !== 'wait') throw err;
    // The pods wait Pending, which is what makes a cluster autoscaler add nodes.
    plan.roomShort = err.message;
    (plan.warnings ??= []).push(`${err.message.split('. Free capacity')[0]}; capacity.whenShort is wait: its pods wait up to ${spec.capacity.timeout} for room`);
  }
}

export function preflightActivities({ deps, kube }: ActivityContext) {
  return {
    /** The spec's field errors, or the spec with its defaults: run in the workflow task (a local activity). */
    async checkSpec(input: unknown) {
      return checkSpec(input);
    },

    /**
     * Preflight: validate the spec again, find the live slot, build the candidate
     * and have the API server judge it in a dry run.
     */
    async inspect(input: ReleaseSpec): Promise<Plan> {
      const spec = validated(input);
      const t = targetOf(spec);
      guardNamespace(deps, t);
      guardEndpoints(deps, spec, t);
      if ((spec.cluster ?? deps.clusterName) !== undefined && spec.cluster !== deps.clusterName) {
        throw nonRetryable(ErrorTypes.PreflightRefused, `the release targets cluster ${spec.cluster ?? '(none named)'}, but this worker serves ${deps.clusterName ?? 'a cluster with no name (BLUEGREEN_CLUSTER_NAME unset)'}`);
      }
      // A header's Secret that is missing now would fail verification or analysis after the rollout: refused before it.
      await verifyHeaders(kube, spec, t, ErrorTypes.PreflightRefused);
      await analysisHeaders(kube, spec, t, ErrorTypes.PreflightRefused);
      const drainHeaders = spec.drain?.prometheus?.headers ?? [];
      await requestHeaders(kube, t, ErrorTypes.PreflightRefused, drainHeaders, 'drain.prometheus.headers');
      let plan: Plan;
      try {
        const [observed, around] = await Promise.all([observe(kube, t), listAround(kube, t.namespace)]);
        // Claims are read only when a template mounts one: most model servers mount none.
        const templates = [spec.template as V1PodTemplateSpec | undefined, ...observed.deployments.map((d) => d.spec?.template)];
        const mountsClaim = templates.some((tpl) => tpl?.spec?.volumes?.some((v) => v.persistentVolumeClaim));
        const claims = mountsClaim ? await listClaims(kube, t.namespace) : [];
        plan = planRelease(spec, t, { ...observed, around, claims });
        await checkRoom(kube, spec, plan);
      } catch (err) {
        if (err instanceof RefusedError) throw nonRetryable(ErrorTypes.PreflightRefused, err.message);
        throw err;
      }
      try {
        await apply(kube, plan.object, true);
      } catch (err) {
        // 400 and 403 are what admission webhooks and quotas answer, 422 a field the API server rejects;
        // anything else (409, 429, 5xx, no answer) is worth another try.
        if (!(err instanceof KubeError) || ![400, 403, 404, 422].includes(err.code ?? 0)) throw err;
        if (err.code === 404) throw nonRetryable(ErrorTypes.PreflightRefused, `namespace "${t.namespace}" does not exist (${err.message})`);
        throw nonRetryable(ErrorTypes.PreflightRefused, `the API server refused the candidate Deployment ${t.namespace}/${plan.candidate.deployment} in a dry run: ${err.message}`);
      }
      return plan;
    },
  };
}
