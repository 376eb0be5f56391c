// The live view of `status --watch` on a terminal, frame by frame.
import { describe, expect, it } from 'vitest';
import { analysisOf, renderFrame } from '../../src/client/live-view.js';
import type { ReleaseStatus } from '../../src/release/status.js';

const ref = { namespace: 'ml', service: 'fraud' };
const t0 = Date.parse('2026-11-23T10:00:00Z');
const at = (s: number): string => new Date(t0 + s * 1000).toISOString();
const base: ReleaseStatus = {
  releaseId: 'bluegreen/ml/fraud/run-1', model: 'fraud', namespace: 'ml', version: 'v2', phase: 'Deploying',
  oldSlot: 'blue', candidateSlot: 'green', liveSlot: 'blue', oldDeployment: 'fraud-blue', candidateDeployment: 'fraud-green',
  timeline: [
    { at: at(0), phase: 'Preflight', event: 'phase' },
    { at: at(1), phase: 'Deploying', event: 'phase' },
  ],
};

describe('the live view', () => {
  it('shows the phase with its time, the slots and the rollout as a progress bar', () => {
    const frame = renderFrame(base, [{ name: 'waitForRollout', attempt: 1, ready: 1, total: 2 }], ref, t0 + 75_000);
    expect(frame[0]).toBe('ml/fraud v2: Deploying for 1m14s');
    expect(frame[1]).toBe('slots     old blue (fraud-blue)   candidate green (fraud-green)   live blue');
    expect(frame[2]).toBe(`running   waitForRollout  [${'█'.repeat(10)}${'░'.repeat(10)}] 1/2 ready`);
    expect(frame).not.toContain('waiting   for approval before the switch:');
  });

  it('says what the release waits for and the exact commands to approve or abort', () => {
    const waiting: ReleaseStatus = { ...base, phase: 'AwaitingApproval', waitingFor: 'beforeSwitch', verification: { ok: true, endpoint: 'http://x', checks: [{ name: 'health', ok: true, detail: 'HTTP 200' }] } };
    const frame = renderFrame(waiting, [], ref, t0 + 5_000);
    expect(frame).toEqual(expect.arrayContaining([
      'verify    ok   health: HTTP 200',
      'waiting   for approval before the switch:',
      '            bluegreen approve fraud -n ml',
      '            bluegreen abort fraud -n ml --reason "..."',
    ]));
  });

  it('shows a retried step with its last failure, and a note while Temporal is unreachable', () => {
    const frame = renderFrame(base, [{ name: 'applyCandidate', attempt: 3, lastFailure: 'connect ECONNREFUSED\nstack' }], ref, t0, 100, 'cannot read the release (UNAVAILABLE); retrying');
    expect(frame).toContain('running   applyCandidate  (attempt 3: connect ECONNREFUSED)');
    expect(frame).toContain('note      cannot read the release (UNAVAILABLE); retrying');
  });

  it('shows a drain with the pods still stopping and the requests they answer', () => {
    expect(renderFrame(base, [{ name: 'drainSlot', attempt: 1, draining: { pods: 2, inFlight: 3 } }], ref, t0)).toContain('running   drainSlot  2 pods stopping, 3 requests in flight');
    expect(renderFrame(base, [{ name: 'drainSlot', attempt: 1, draining: { pods: 1 } }], ref, t0)).toContain('running   drainSlot  1 pod stopping');
  });

  it('keeps the last timeline entries and cuts every line to the terminal width', () => {
    const long: ReleaseStatus = { ...base, timeline: Array.from({ length: 12 }, (_, i) => ({ at: at(i), phase: 'Monitoring' as const, event: 'analysis', detail: 'x'.repeat(200) })) };
    const frame = renderFrame(long, [], ref, t0, 60);
    expect(frame).toContain('timeline (last 8 of 12)');
    expect(frame.filter((l) => l.startsWith('  2026-'))).toHaveLength(8);
    expect(Math.max(...frame.map((l) => l.length))).toBeLessThanOrEqual(60);
    expect(frame.at(-1)?.endsWith('…')).toBe(true);
  });
});

describe('the monitor\'s heartbeat, as the release page charts it', () => {
  it('reads each metric\'s measurements, and drops what is not a measurement', () => {
    const metrics = [
      { name: 'error-rate', provider: 'prometheus', measurements: 2, series: [[1000, 0.01], [2000, 0.02], [3000, null], 'x'] },
      { name: 'golden', provider: 'probe', measurements: 0 },
      { provider: 'probe' },
    ];
    expect(analysisOf(metrics)).toEqual([
      { name: 'prometheus error-rate', series: [[1000, 0.01], [2000, 0.02]] }, { name: 'probe golden', series: [] },
    ]);
    expect(analysisOf(undefined)).toBeUndefined();
  });
});
