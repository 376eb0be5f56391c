// One list+watch per kind and namespace for the whole worker, so a wait reads
// memory when something it waits on changes instead of listing the API server
// every 500 ms: hundreds of releases in their waits listed pods, ReplicaSets and
// EndpointSlices thousands of times a second (see docs/benchmarks.md, Scale).
// A namespace whose watches are not in sync (starting, broken, or not allowed by
// RBAC) is read directly, as before.
import { makeInformer, type Informer, type KubeConfig, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';
import type { V1Deployment, V1EndpointSlice, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import type { AppsV1Api, CoreV1Api, DiscoveryV1Api } from '@kubernetes/client-node';
import type { Selector } from '../release/plan.js';
import { selects } from '../rules/selectors.js';

/** What the waits read: the same questions whether memory or the API answers them. */
export interface Reads {
  deployment(name: string): Promise<V1Deployment | undefined>;
  pods(selector: Selector): Promise<V1Pod[]>;
  replicaSets(selector: Selector): Promise<V1ReplicaSet[]>;
  endpointSlices(service: string): Promise<V1EndpointSlice[]>;
}

export type Kind = 'Deployment' | 'ReplicaSet' | 'Pod' | 'EndpointSlice';
/** Whether a change to `obj` can change what a wait is waiting for. */
export type Touches = (kind: Kind, obj: KubernetesObject) => boolean;

interface WatchedApis { apps: AppsV1Api; core: CoreV1Api; discovery: DiscoveryV1Api; config: KubeConfig }

/** A namespace unused this long stops being watched. */
const IDLE_MS = 5 * 60_000;
/** After a watch breaks, it is started again this much later (the namespace is read directly meanwhile). */
const RESTART_MS = 2_000;

class NamespaceWatch {
  private readonly informers: Record<Kind, Informer<KubernetesObject> & ObjectCache<KubernetesObject>>;
  private readonly synced = new Set<Kind>();
  /** kinds whose list or watch failed since their last start */
  private readonly failed = new Set<Kind>();
  private readonly waiters = new Set<{ touches: Touches; wake: () => void }>();
  private readonly restarts = new Set<NodeJS.Timeout>();
  private stopped = false;
  lastUsed = Date.now();

  constructor(kube: WatchedApis, readonly namespace: string) {
    const { apps, core, discovery } = kube;
    type List<T> = () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>;
    const inform = <T extends KubernetesObject>(path: string, list: List<T>) =>
      makeInformer<KubernetesObject>(kube.config, path, list as never);
    this.informers = {
      Deployment: inform(`/apis/apps/v1/namespaces/${namespace}/deployments`, () => apps.listNamespacedDeployment({ namespace })),
      ReplicaSet: inform(`/apis/apps/v1/namespaces/${namespace}/replicasets`, () => apps.listNamespacedReplicaSet({ namespace })),
      Pod: inform(`/api/v1/namespaces/${namespace}/pods`, () => core.listNamespacedPod({ namespace })),
      EndpointSlice: inform(`/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`, () => discovery.listNamespacedEndpointSlice({ namespace })),
    };
    for (const [kind, informer] of Object.entries(this.informers) as [Kind, NamespaceWatch['informers'][Kind]][]) {
      // Memory holds what the waits read: managedFields are most of an object and never read.
      informer.on('add', (obj) => { delete obj.metadata?.managedFields; });
      informer.on('update', (obj) => { delete obj.metadata?.managedFields; });
      informer.on('change', (obj) => this.changed(kind, obj));
      informer.on('error', () => this.broke(kind));
      void this.start(kind);
    }
  }

  private broke(kind: Kind): void {
    this.failed.add(kind);
    this.synced.delete(kind);
    if (this.stopped) return;
    const timer = setTimeout(() => { this.restarts.delete(timer); void this.start(kind); }, RESTART_MS);
    timer.unref();
    this.restarts.add(timer);
  }

  /** `start` resolves once the list is in memory and the watch is open, or has failed (the error handler then restarts it). */
  private async start(kind: Kind): Promise<void> {
    this.failed.delete(kind);
    try {
      await this.informers[kind].start();
    } catch {
      this.broke(kind);
      return;
    }
    if (!this.stopped && !this.failed.has(kind)) this.synced.add(kind);
  }

  private changed(kind: Kind, obj: KubernetesObject): void {
    for (const w of this.waiters) if (w.touches(kind, obj)) w.wake();
  }

  get inSync(): boolean {
    return this.synced.size === Object.keys(this.informers).length;
  }

  /** Resolves at the next change that `touches`, or after `ms`, whichever comes first. */
  next(touches: Touches, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const waiter = { touches, wake: () => done() };
      const timer = setTimeout(() => done(), ms);
      const done = () => { clearTimeout(timer); this.waiters.delete(waiter); resolve(); };
      this.waiters.add(waiter);
    });
  }

  /** Reads from memory; a Deployment not seen yet is read from `api`, since this worker may have just created it. */
  reads(api: Reads): Reads {
    const list = <T>(kind: Kind) => this.informers[kind].list(this.namespace) as T[];
    return {
      deployment: async (name) => this.informers.Deployment.get(name, this.namespace) as V1Deployment | undefined ?? api.deployment(name),
      pods: async (selector) => list<V1Pod>('Pod').filter((p) => selects(selector, p.metadata?.labels)),
      replicaSets: async (selector) => list<V1ReplicaSet>('ReplicaSet').filter((rs) => selects(selector, rs.metadata?.labels)),
      endpointSlices: async (service) =>
        list<V1EndpointSlice>('EndpointSlice').filter((s) => s.metadata?.labels?.['kubernetes.io/service-name'] === service),
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.restarts) clearTimeout(t);
    this.synced.clear();
    for (const w of this.waiters) w.wake();
    await Promise.all(Object.values(this.informers).map((i) => i.stop().catch(() => undefined)));
  }
}

/** The worker's watches, one set per namespace a release waits in; started on first use, stopped when idle. */
export class Watches {
  private readonly namespaces = new Map<string, NamespaceWatch>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly kube: WatchedApis) {
    this.sweeper = setInterval(() => {
      for (const [ns, w] of this.namespaces) {
        if (Date.now() - w.lastUsed > IDLE_MS) { this.namespaces.delete(ns); void w.stop(); }
      }
    }, 30_000);
    this.sweeper.unref();
  }

  /** The namespace's watch, started if it was not; in sync only once every kind is listed and watched. */
  of(namespace: string): NamespaceWatch {
    let w = this.namespaces.get(namespace);
    if (w === undefined) {
      w = new NamespaceWatch(this.kube, namespace);
      this.namespaces.set(namespace, w);
    }
    w.lastUsed = Date.now();
    return w;
  }

  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    const all = [...this.namespaces.values()];
    this.namespaces.clear();
    await Promise.all(all.map((w) => w.stop()));
  }
}
