// What is wired around the live Deployment, read at preflight: autoscalers
// (HPA, and KEDA's ScaledObject and the VPA where installed) and what selects
// its pods by labels (PodDisruptionBudgets, NetworkPolicies, PodMonitors where
// installed). A kind the cluster does not serve is simply absent.
import { ApiException, type KubernetesObject } from '@kubernetes/client-node';
import type { Listed } from '../rules/around.js';
import { freshShared, retriedRead, type Kube } from './cluster.js';

const KINDS = [
  ['autoscaling/v2', 'HorizontalPodAutoscaler'],
  ['keda.sh/v1alpha1', 'ScaledObject'],
  ['autoscaling.k8s.io/v1', 'VerticalPodAutoscaler'],
  ['policy/v1', 'PodDisruptionBudget'],
  ['networking.k8s.io/v1', 'NetworkPolicy'],
  ['monitoring.coreos.com/v1', 'PodMonitor'],
] as const;

/** An API the cluster does not serve (KEDA, the VPA or the Prometheus operator not installed). */
const notServed = (err: unknown): boolean =>
  (err instanceof ApiException && err.code === 404) || (err instanceof Error && err.message.startsWith('Unrecognized API version and kind'));

/** Every object of those kinds in the namespace, each with its kind. */
export async function listAround(kube: Kube, namespace: string): Promise<Listed[]> {
  const lists = await Promise.all(KINDS.map(async ([apiVersion, kind]) => {
    // Shared like the Deployment and Service lists (many releases starting in one namespace share one
    // read), and tried again on a transient answer like every read.
    const items = await freshShared(kube, `${kind}s ${namespace}`, () => retriedRead(`list ${kind}s in ${namespace}`, async () => {
      try {
        return (await kube.objects.list<KubernetesObject & Listed>(apiVersion, kind, namespace)).items;
      } catch (err) {
        if (notServed(err)) return [];
        throw err;
      }
    }));
    return items.map((item) => ({ ...item, apiVersion, kind }));
  }));
  return lists.flat();
}
