// Preflight's shared lists: many callers, few requests, and never an answer to a
// request sent before the caller asked (it could miss what was written just before).
import { describe, expect, it } from 'vitest';
import { freshShared, type Kube } from '../../src/activities/cluster.js';

/** A list whose answers the test releases one by one; each answer says when its request was sent. */
function controlledList() {
  const pending: { sentAt: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  let clock = 0;
  const load = () => new Promise<{ sentAt: number }>((resolve, reject) => {
    const sentAt = clock;
    pending.push({ sentAt, resolve: () => resolve({ sentAt }), reject });
  });
  const settle = async (fail?: Error) => {
    const p = pending.shift()!;
    if (fail) p.reject(fail); else p.resolve();
    await new Promise((r) => setTimeout(r, 0));
  };
  return { load, pending, settle, tick: () => { clock += 1; return clock; } };
}

describe('freshShared', () => {
  it('answers every caller with a request sent after it asked, sharing requests between callers that wait together', async () => {
    const kube = {} as Kube;
    const list = controlledList();
    const a = freshShared(kube, 'Deployments ns', list.load);
    const askedB = list.tick();
    const b = freshShared(kube, 'Deployments ns', list.load);
    const askedC = list.tick();
    const c = freshShared(kube, 'Deployments ns', list.load);
    // B and C asked while A's request was in flight: they wait for the next, not A's.
    expect(list.pending).toHaveLength(1);
    await list.settle();
    expect(list.pending).toHaveLength(1);
    await list.settle();
    const [ra, rb, rc] = await Promise.all([a, b, c]);
    expect(ra.sentAt).toBe(0);
    expect(rb.sentAt).toBeGreaterThanOrEqual(askedB);
    expect(rc.sentAt).toBeGreaterThanOrEqual(askedC);
    expect(rb).toBe(rc);
  });

  it('keeps namespaces and kinds apart, and a failed list fails only its own callers', async () => {
    const kube = {} as Kube;
    const list = controlledList();
    const services = freshShared(kube, 'Services ns', list.load);
    const other = freshShared(kube, 'Services other', list.load);
    expect(list.pending).toHaveLength(2);
    await list.settle(new Error('HTTP 500'));
    await expect(services).rejects.toThrow('HTTP 500');
    await list.settle();
    await expect(other).resolves.toBeDefined();
    // The next caller sends a request of its own.
    const again = freshShared(kube, 'Services ns', list.load);
    expect(list.pending).toHaveLength(1);
    await list.settle();
    await expect(again).resolves.toBeDefined();
  });
});
