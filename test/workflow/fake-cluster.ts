// Activity doubles for workflow-branch tests: an in-memory cluster that the
// doubles move the way the real activities move the real one, so tests assert
// on end state. Typed as the real activities so the compiler keeps them honest.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Activities } from '../../src/activities/index.js';
import type { DrainReport } from '../../src/release/drain.js';
import type { Notice } from '../../src/release/notify.js';
import type { Plan } from '../../src/release/plan.js';
import { otherSlot, type AnalysisResult, type Slot } from '../../src/release/status.js';
import { VERSION_LABEL } from '../../src/release/target.js';
import { checkSpec } from '../../src/release/validate.js';

type Name = keyof Activities;

export interface FakeState {
  /** slot the live Service selects; undefined: no Service */
  live?: Slot;
  preview?: Slot;
  deployments: Partial<Record<Slot, { version: string; replicas: number; ready?: number }>>;
  /** a stepped release: the live Service selects both slots (`live` stays the old one) */
  shared?: true;
}

export interface FakeCluster {
  state: FakeState;
  calls: string[];
  activities: Activities;
  /** make an activity throw (non-retryable with this type, or retryable when type is undefined), `times` times */
  failOn(name: Name, message: string, type?: string, times?: number): void;
  /** make the next call of an activity wait (heartbeating) until it is cancelled */
  blockOn(name: Name): void;
  verifyOk: boolean;
  /** true once blockOn was used: the release then needs a server of its own (see harness) */
  blocks: boolean;
  analysis: AnalysisResult;
  /** pods the controller cannot bring back (evicted for good): a wait for them never ends */
  lostForGood: boolean;
  /** the live Deployment's autoscalers, as preflight would find them */
  autoscalers?: Plan['autoscalers'];
  /** answers of the next monitor calls, before `analysis` */
  analyses: AnalysisResult[];
  /** the most pods of both slots seen at once */
  peakPods: number;
  /** what the next drain finds; default: the pods ended by themselves */
  drain?: DrainReport;
  /** the notices the release sent, in order (kept apart from `calls`: they run beside the steps) */
  notices: Notice[];
}

export function fakeCluster(initial: FakeState): FakeCluster {
  const state: FakeState = structuredClone(initial);
  const calls: string[] = [];
  const failures = new Map<Name, { message: string; type?: string; times: number }>();
  const blocked = new Set<Name>();

  const enter = async (name: Name, detail = ''): Promise<void> => {
    calls.push(detail ? `${name} ${detail}` : name);
    const failure = failures.get(name);
    if (failure !== undefined && failure.times > 0) {
      failure.times -= 1;
      throw failure.type === undefined
        ? ApplicationFailure.retryable(failure.message, 'Transient')
        : ApplicationFailure.nonRetryable(failure.message, failure.type);
    }
    if (blocked.delete(name)) {
      const ctx = Context.current();
      for (;;) {
        ctx.heartbeat();
        await ctx.sleep(50); // rejects once the workflow cancels the activity
      }
    }
  };

  const readyOf = (slot: Slot) => state.deployments[slot]?.ready ?? state.deployments[slot]?.replicas ?? 0;
  const moveSelector = (from: Slot | undefined, to: Slot, back?: boolean, minReady?: number) => {
    if (back && state.live !== from && state.live !== to) return { switched: false, detail: `live is ${state.live}; left as it is` };
    if (state.live !== from && state.live !== to) throw ApplicationFailure.nonRetryable(`selector is ${state.live}`, 'SelectorConflict');
    if (state.deployments[to] === undefined || state.deployments[to]!.replicas === 0) {
      throw ApplicationFailure.nonRetryable(`no ready pod of ${to}`, 'SwitchRefused');
    }
    if (!back && minReady !== undefined && readyOf(to) < minReady) {
      throw ApplicationFailure.nonRetryable(`${readyOf(to)} pods of ${to} are ready, and the switch needs ${minReady}`, 'SwitchRefused');
    }
    state.live = to;
    return { switched: true, detail: `live Service selects ${to}` };
  };

  // The stepped release's shared selector holds no slot label: moves to and from it.
  const isShared = (selector: Record<string, string> | undefined) => selector !== undefined && selector.slot === undefined;
  const share = (from: { slot: Slot; selector: Record<string, string> } | undefined, to: { slot: Slot; selector: Record<string, string> }, back?: boolean) => {
    if (isShared(to.selector)) {
      if (state.shared) return { switched: true, detail: 'already shared' };
      if (state.live !== from?.slot) {
        if (back) return { switched: false, detail: `live is ${state.live}; left as it is` };
        throw ApplicationFailure.nonRetryable(`selector is ${state.live}`, 'SelectorConflict');
      }
      // Back from the candidate: the shared state's `live` is the old slot again.
      if (back) state.live = otherSlot(from!.slot);
      state.shared = true;
      return { switched: true, detail: 'live Service selects both slots' };
    }
    if (!state.shared) {
      if (state.live === to.slot) return { switched: true, detail: `live Service selects ${to.slot}` };
      if (back) return { switched: false, detail: `live is ${state.live}; left as it is` };
      throw ApplicationFailure.nonRetryable(`selector is ${state.live}`, 'SelectorConflict');
    }
    delete state.shared;
    state.live = to.slot;
    return { switched: true, detail: `live Service selects ${to.slot}` };
  };
  const countPods = () => {
    fake.peakPods = Math.max(fake.peakPods, Object.values(state.deployments).reduce((n, d) => n + (d?.replicas ?? 0), 0));
  };

  const fake: FakeCluster = {
    state, calls, verifyOk: true, blocks: false, lostForGood: false, analyses: [], peakPods: 0, notices: [],
    analysis: { ok: true, runs: 3, failures: 0, checks: [{ name: 'health', ok: true, detail: 'HTTP 200' }] },
    failOn: (name, message, type, times = Infinity) => { failures.set(name, { message, type, times }); },
    blockOn: (name) => { blocked.add(name); fake.blocks = true; },
    activities: {
      // Pure (no cluster): the real check, not a double.
      checkSpec: async (input) => checkSpec(input),
      async inspect(spec) {
        await enter('inspect');
        const oldSlot = state.live;
        const candidateSlot = oldSlot === undefined ? 'blue' : otherSlot(oldSlot);
        const slotPlan = (slot: Slot) => ({ slot, deployment: `${spec.model}-${slot}`, selector: { app: spec.model, slot } });
        const old = oldSlot === undefined ? undefined : state.deployments[oldSlot];
        return {
          oldSlot, candidateSlot,
          live: oldSlot === undefined ? undefined : { ...slotPlan(oldSlot), replicas: old?.replicas ?? 1, adopted: false },
          candidate: slotPlan(candidateSlot),
          replicas: spec.replicas ?? old?.replicas ?? 1,
          object: { metadata: { labels: { [VERSION_LABEL]: spec.version } }, spec: { selector: { matchLabels: { slot: candidateSlot } }, template: {} } },
          previewBefore: state.preview === undefined ? null : { slot: state.preview },
          ports: [{ name: 'http', port: 8080 }], port: 8080,
          ...(fake.autoscalers === undefined ? {} : { autoscalers: fake.autoscalers }),
        };
      },
      async applyCandidate({ object, replicas }) {
        const slot = object.spec?.selector.matchLabels?.slot as Slot;
        await enter('applyCandidate', slot);
        state.deployments[slot] = { version: object.metadata?.labels?.[VERSION_LABEL] ?? '?', replicas };
        countPods();
      },
      async pointPreview({ selector }) {
        const slot = selector.slot as Slot;
        await enter('pointPreview', slot);
        state.preview = slot;
      },
      async removePreview() {
        await enter('removePreview');
        delete state.preview;
      },
      async removeService() {
        await enter('removeService');
        delete state.live;
      },
      async waitForRollout({ slot, restoreReplicas, minReady }) {
        await enter('waitForRollout', minReady === undefined ? slot : `${slot} ${minReady} ready`);
        const d = state.deployments[slot];
        if (d === undefined) throw ApplicationFailure.nonRetryable(`no ${slot} slot`, 'RolloutFailed');
        if (restoreReplicas !== undefined && d.replicas === 0) d.replicas = restoreReplicas;
        // As the controller does: lost pods come back, unless they cannot be scheduled again.
        if (fake.lostForGood && (d.ready ?? d.replicas) < (minReady ?? d.replicas)) {
          throw ApplicationFailure.nonRetryable(`${slot} has ${d.ready} of ${d.replicas} ready after 600s`, 'RolloutTimeout');
        }
        delete d.ready;
        return { ready: d.replicas, total: d.replicas };
      },
      async retargetAutoscaler({ autoscaler, to }) {
        await enter('retargetAutoscaler', `${autoscaler.name} ${to}`);
        return { detail: `${autoscaler.kind} ${autoscaler.name} scales ${to}` };
      },
      async waitForPodsGone({ deployment, atMost }) {
        await enter('waitForPodsGone', atMost === undefined ? deployment : `${deployment} ${atMost}`);
      },
      async scaleSlot({ slot, replicas }) {
        await enter('scaleSlot', `${slot} ${replicas}`);
        const d = state.deployments[slot];
        if (d !== undefined) d.replicas = replicas;
        countPods();
      },
      async standBy({ slot, replicas }) {
        await enter('standBy', `${slot} ${replicas}`);
        const d = state.deployments[slot];
        if (d !== undefined) d.replicas = replicas;
        return { startupSeconds: 12 };
      },
      async drainSlot({ slot }) {
        await enter('drainSlot', slot);
        if (state.live === slot) throw ApplicationFailure.nonRetryable(`the live Service selects ${slot}`, 'SlotIsLive');
        const d = state.deployments[slot];
        const pods = d?.replicas ?? 0;
        if (d !== undefined) d.replicas = 0;
        return fake.drain ?? { drained: true, tookMs: 1_500, pods, cut: [] };
      },
      async deleteSlot({ slot }) {
        await enter('deleteSlot', slot);
        // As the real activity: what the live Service selects is never deleted.
        if (state.live === slot) throw ApplicationFailure.nonRetryable(`the live Service selects ${slot}`, 'SlotIsLive');
        const existed = state.deployments[slot] !== undefined;
        delete state.deployments[slot];
        return { deleted: existed };
      },
      async switchTraffic({ from, to, back, minReady }) {
        const name = (p: typeof from) => (p === undefined ? 'none' : isShared(p.selector) ? 'both' : p.slot);
        await enter('switchTraffic', `${name(from)}->${name(to)}`);
        if (isShared(from?.selector) || isShared(to.selector)) return share(from, to, back);
        return moveSelector(from?.slot, to.slot, back, minReady);
      },
      async switchSelector({ from, to, minReady }) {
        await enter('switchSelector', `${isShared(from?.selector) ? 'both' : from?.slot ?? 'none'}->${to.slot}`);
        if (isShared(from?.selector)) return share(from, to);
        return moveSelector(from?.slot, to.slot, false, minReady);
      },
      async verifyCandidate() {
        await enter('verifyCandidate');
        return {
          ok: fake.verifyOk, endpoint: 'http://preview.test',
          checks: [{ name: 'request golden', ok: fake.verifyOk, detail: fake.verifyOk ? 'matched in 3 ms' : 'output-0[0]: expected 1 ± 0.001, got 2' }],
        };
      },
      async monitor({ spec }) {
        await enter('monitor', spec.stepped !== undefined && spec.monitor.window === spec.stepped.window ? 'step' : '');
        return fake.analyses.shift() ?? fake.analysis;
      },
      async notify(notice) {
        const failure = failures.get('notify');
        if (failure !== undefined && failure.times > 0) {
          failure.times -= 1;
          throw failure.type === undefined ? ApplicationFailure.retryable(failure.message, 'NotifyFailed') : ApplicationFailure.nonRetryable(failure.message, failure.type);
        }
        fake.notices.push(notice);
        return { sent: 1, skipped: 0 };
      },
    },
  };
  return fake;
}
