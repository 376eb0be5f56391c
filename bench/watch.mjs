// Watches a namespace's Services and EndpointSlices and notes when each event
// arrives, so a benchmark can ask when a selector changed and when a Service's
// endpoints came to hold only one slot's ready pods.
import { KubeConfig, Watch } from '@kubernetes/client-node';

export async function watchNamespace(kubeconfig, namespace) {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfig);
  const watch = new Watch(config);
  const selectors = new Map(); // service -> { selector, at }
  const slices = new Map(); // service -> Map(slice name -> slice)
  const waiters = new Set();
  const wake = () => { for (const w of [...waiters]) w(); };

  const requests = await Promise.all([
    watch.watch(`/api/v1/namespaces/${namespace}/services`, {}, (type, svc) => {
      if (type === 'DELETED') selectors.delete(svc.metadata.name);
      else selectors.set(svc.metadata.name, { selector: svc.spec?.selector ?? {}, at: performance.now() });
      wake();
    }, () => undefined),
    watch.watch(`/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`, {}, (type, slice) => {
      const service = slice.metadata?.labels?.['kubernetes.io/service-name'];
      if (service === undefined) return;
      const own = slices.get(service) ?? new Map();
      if (type === 'DELETED') own.delete(slice.metadata.name);
      else own.set(slice.metadata.name, slice);
      slices.set(service, own);
      wake();
    }, () => undefined),
  ]);

  /** Resolves with the time `check()` first holds, checked at each event. */
  const when = (check, what, timeoutMs = 60_000) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => { waiters.delete(test); reject(new Error(`not seen within ${timeoutMs} ms: ${what}`)); }, timeoutMs);
    const test = () => {
      if (!check()) return;
      clearTimeout(timer);
      waiters.delete(test);
      resolve(performance.now());
    };
    waiters.add(test);
    test();
  });

  return {
    /** When the Service's selector holds `slot` for `slotLabel`. */
    selected: (service, slotLabel, slot) => when(() => selectors.get(service)?.selector?.[slotLabel] === slot, `${service} selecting ${slot}`),
    /** When every endpoint of the Service is a ready pod whose name starts with `podPrefix`, and there is at least one. */
    settled: (service, podPrefix) => when(() => {
      const eps = [...(slices.get(service)?.values() ?? [])].flatMap((s) => (s.ports?.length ? s.endpoints ?? [] : []));
      const serving = eps.filter((e) => e.conditions?.ready !== false);
      return serving.length > 0 && serving.every((e) => e.targetRef?.name?.startsWith(podPrefix));
    }, `${service} endpoints only ${podPrefix}*`),
    stop: () => { for (const r of requests) r.abort(); },
  };
}
