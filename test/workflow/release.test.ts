// Every branch of the release workflow, on Temporal's time-skipping test server
// with activity doubles: gates, timeouts, aborts, failures, cancellation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, WorkflowFailedError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { UserError, followRelease, readStatus, releaseResult, sendMessage, startRelease } from '../../src/client/releases.js';
import { WORKFLOW_TYPE, searchAttributes } from '../../src/release/ids.js';
import { abortSignal, approveSignal, statusQuery } from '../../src/release/messages.js';
import { type Phase } from '../../src/release/status.js';
import { fakeCluster, type FakeState } from './fake-cluster.js';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { phasesOf, runRelease, startEnv, startHarness, testSpec, TASK_QUEUE, type Harness } from './harness.js';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h?.env.teardown(); });

const live = (): FakeState => ({ live: 'blue', preview: 'blue', deployments: { blue: { version: 'v1', replicas: 2 } } });
const restored = live();
const approve = { by: 'ana', comment: 'metrics look fine' };
const abort = { by: 'ben', reason: 'p99 latency regressed' };

describe('a release ended from outside', () => {
  it('terminated by an operator: following it says so, by whom and why, instead of waiting for ever', async () => {
    const fake = fakeCluster(live());
    // On a server of its own: a terminate beside a release's activities (its notices) stopped the
    // shared time-skipping server's skipping for the tests after it, and the file hung in CI.
    fake.blocks = true;
    const spec = testSpec({ approval: { beforeSwitch: true } });
    let said: unknown;
    await expect(runRelease(h, fake, spec, async ({ handle, reach }) => {
      await reach('AwaitingApproval', (s) => s.waitingFor === 'beforeSwitch');
      // The gate's notice first, so the terminate meets no activity in flight.
      while (((await handle.describe()).raw.pendingActivities ?? []).length > 0) await new Promise((r) => setTimeout(r, 25));
      await handle.terminate('stuck; cleaning up by hand');
      const client = new Client({ connection: handle.client.connection, namespace: handle.client.options.namespace });
      said = await followRelease(client, { namespace: 'ml', service: spec.model }, () => undefined, 50).catch((err: unknown) => err);
    })).rejects.toThrow();
    expect(said).toBeInstanceOf(UserError);
    expect((said as Error).message).toMatch(new RegExp(`^the release of ml/${spec.model} was terminated by \\S+ \\("stuck; cleaning up by hand"\\) in phase AwaitingApproval: Temporal stopped it`));
  });
});

describe('releases no worker runs', () => {
  let alone: TestWorkflowEnvironment;
  beforeAll(async () => { alone = await startEnv(); });
  afterAll(async () => { await alone?.teardown(); });

  describe('clusters', () => {
    it('one service released in two clusters at once: each release has its own id, and --cluster finds each', async () => {
      const spec = testSpec();
      const [a, b] = await Promise.all(['east', 'west'].map((cluster) => startRelease(alone.client, { ...spec, cluster }, 'no-worker-polls-this')));
      try {
        expect([a!.workflowId, b!.workflowId]).toEqual([`bluegreen/ml/${spec.model}@east`, `bluegreen/ml/${spec.model}@west`]);
        const { typedSearchAttributes } = await a!.describe();
        expect(typedSearchAttributes.get(searchAttributes.cluster)).toBe('east');
        await expect(startRelease(alone.client, { ...spec, cluster: 'east' }, 'no-worker-polls-this')).rejects.toThrow(`a release of ml/${spec.model} is already running`);
        // A release for no named cluster keeps the id it had before clusters were named, and --cluster still finds it.
        const old = await startRelease(alone.client, spec, 'no-worker-polls-this');
        expect(old.workflowId).toBe(`bluegreen/ml/${spec.model}`);
        const seen = await readStatus(alone.client, { namespace: 'ml', service: spec.model, cluster: 'north' });
        expect(seen.releaseId).toBe(`bluegreen/ml/${spec.model}/${old.firstExecutionRunId}`);
        await old.terminate('test done');
      } finally {
        await Promise.all([a, b].map((h) => h!.terminate('test done')));
      }
    }, 60_000);
  });

  describe('a message no worker has acted on yet', () => {
    it('is reported as recorded and pending, not as a failure', async () => {
      const spec = testSpec();
      const handle = await startRelease(alone.client, spec, 'no-worker-polls-this');
      try {
        const out = await sendMessage(alone.client, { namespace: 'ml', service: spec.model }, { kind: 'approve', by: 'ana' }, 500);
        expect(out).toMatchObject({ pending: true, status: { phase: 'Pending', reason: expect.stringContaining('no worker answered the status query') } });
        const { events } = await handle.fetchHistory();
        expect(events?.some((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'approve')).toBe(true);
      } finally {
        await handle.terminate('test done');
      }
    }, 60_000);
  });
});

describe('a switch onto the candidate\'s planned size only', () => {
  it('pods lost during the gate are waited for: traffic moves only when all replicas are ready again', async () => {
    const fake = fakeCluster({ live: 'blue', preview: 'blue', deployments: { blue: { version: 'v1', replicas: 10 } } });
    const { status } = await runRelease(h, fake, testSpec({ replicas: 10, approval: { beforeSwitch: true } }), async ({ handle, reach }) => {
      await reach('AwaitingApproval', (s) => s.waitingFor === 'beforeSwitch');
      fake.state.deployments.green!.ready = 2; // eight pods preempted while the gate waited
      await handle.signal(approveSignal, approve);
    }, 'full-size-before-switch');
    expect(status.phase).toBe('Succeeded');
    const switchAt = fake.calls.indexOf('switchTraffic blue->green');
    expect(fake.calls.slice(switchAt - 2, switchAt + 1)).toEqual(['switchSelector blue->green', 'waitForRollout green 10 ready', 'switchTraffic blue->green']);
    expect(status.timeline).toContainEqual(expect.objectContaining({ event: 'ready to switch', detail: '10 of 10 candidate pods ready; the switch needs 10' }));
  });

  it('a candidate that cannot get its pods back is rolled back without ever taking traffic', async () => {
    const fake = fakeCluster({ live: 'blue', preview: 'blue', deployments: { blue: { version: 'v1', replicas: 10 } } });
    fake.lostForGood = true;
    const { status } = await runRelease(h, fake, testSpec({ replicas: 10, approval: { beforeSwitch: true } }), async ({ handle, reach }) => {
      await reach('AwaitingApproval', (s) => s.waitingFor === 'beforeSwitch');
      fake.state.deployments.green!.ready = 2;
      await handle.signal(approveSignal, approve);
    });
    expect(status.phase).toBe('RolledBack');
    expect(status.reason).toContain('green has 2 of 10 ready');
    expect(fake.calls).not.toContain('switchTraffic blue->green');
    expect(fake.state.live).toBe('blue');
  });

  it('switch.minReady lets the switch go on a share of the replicas', async () => {
    const fake = fakeCluster({ live: 'blue', preview: 'blue', deployments: { blue: { version: 'v1', replicas: 10 } } });
    const { status } = await runRelease(h, fake, testSpec({ replicas: 10, switch: { minReady: '80%' }, approval: { beforeSwitch: true } }), async ({ handle, reach }) => {
      await reach('AwaitingApproval', (s) => s.waitingFor === 'beforeSwitch');
      fake.state.deployments.green!.ready = 8;
      await handle.signal(approveSignal, approve);
    });
    expect(status.phase).toBe('Succeeded');
    expect(fake.calls).not.toContain('waitForRollout green 8 ready');
  });
});

describe('a release that goes well', () => {
  it('deploys into the other slot, switches, monitors and deletes the old slot', async () => {
    const fake = fakeCluster(live());
    const { status } = await runRelease(h, fake, testSpec(), undefined, 'happy');
    expect(status.phase).toBe('Succeeded');
    expect(phasesOf(status)).toEqual(['Preflight', 'Deploying', 'Verifying', 'Switching', 'Monitoring', 'Finalizing', 'Succeeded']);
    expect(fake.state).toEqual({ live: 'green', preview: 'green', deployments: { green: { version: 'v2', replicas: 2 } } });
    expect(fake.calls).toEqual([
      'inspect', 'applyCandidate green', 'pointPreview green', 'waitForRollout green', 'verifyCandidate',
      'switchSelector blue->green', 'switchTraffic blue->green', 'monitor', 'deleteSlot blue',
    ]);
    expect(status).toMatchObject({ oldSlot: 'blue', candidateSlot: 'green', liveSlot: 'green' });
  });

  it('with no scale-down delay, deletes the old slot without a timer (a zero timer costs the server\'s next tick)', async () => {
    const fake = fakeCluster(live());
    const { status, handle } = await runRelease(h, fake, testSpec({ scaleDownDelay: '0s' }), undefined, 'no-delay');
    expect(status.phase).toBe('Succeeded');
    expect(fake.calls.at(-1)).toBe('deleteSlot blue');
    const { events } = await handle.fetchHistory();
    // No timer before the delete (the end may wait for its notices, under a timer cancelled when they are sent).
    const deleting = events!.findIndex((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'deleteSlot');
    expect(deleting).toBeGreaterThan(0);
    expect(events!.slice(0, deleting).filter((e) => e.timerStartedEventAttributes)).toEqual([]);
  });

  it('bootstraps a first release: creates the slot and Services, deletes nothing', async () => {
    const fake = fakeCluster({ deployments: {} });
    const { status } = await runRelease(h, fake, testSpec());
    expect(status.phase).toBe('Succeeded');
    expect(fake.state).toEqual({ live: 'blue', preview: 'blue', deployments: { blue: { version: 'v2', replicas: 2 } } });
    expect(fake.calls).not.toContain('deleteSlot blue');
    expect(fake.calls).toContain('switchTraffic none->blue');
  });

  it('verifies on previewReplicas and scales up before the switch', async () => {
    const fake = fakeCluster(live());
    const { status } = await runRelease(h, fake, testSpec({ replicas: 4, previewReplicas: 1 }));
    expect(status.phase).toBe('Succeeded');
    expect(fake.calls.slice(1, 3)).toEqual(['applyCandidate green', 'pointPreview green']);
    const scale = fake.calls.indexOf('scaleSlot green 4');
    expect(scale).toBeGreaterThan(fake.calls.indexOf('verifyCandidate'));
    expect(scale).toBeLessThan(fake.calls.indexOf('switchTraffic blue->green'));
    expect(fake.state.deployments.green).toEqual({ version: 'v2', replicas: 4 });
  });

  it('waits at the gate before the switch until approved, and records who approved', async () => {
    const fake = fakeCluster(live());
    const { status } = await runRelease(h, fake, testSpec({ approval: { beforeSwitch: true } }), async ({ handle, reach }) => {
      const waiting = await reach('AwaitingApproval', (s) => s.waitingFor === 'beforeSwitch');
      expect(fake.calls).not.toContain('switchTraffic blue->green');
      expect(waiting.liveSlot).toBe('blue');
      await handle.signal(approveSignal, approve);
    }, 'approved-at-gate');
    expect(status.phase).toBe('Succeeded');
    expect(status.approvedBy).toBe('ana');
    expect(status.timeline).toContainEqual(expect.objectContaining({ event: 'approve', by: 'ana', accepted: true, phase: 'AwaitingApproval' }));
  });

  it('patches the selector in the workflow task that takes the approval: no activity task is scheduled between the signal and the patch', async () => {
    const fake = fakeCluster(live());
    const { status, handle } = await runRelease(h, fake, testSpec({ approval: { beforeSwitch: true } }), async ({ handle, reach }) => {
      await reach('AwaitingApproval', (s) => s.waitingFor === 'beforeSwitch');
      await handle.signal(approveSignal, approve);
    }, 'switch-in-task');
    expect(status.phase).toBe('Succeeded');
    const { events } = await handle.fetchHistory();
    const signaled = events!.findIndex((e) => e.workflowExecutionSignaledEventAttributes);
    const after = events!.slice(signaled);
    const marker = after.findIndex((e) => e.markerRecordedEventAttributes);
    const firstActivity = after.findIndex((e) => e.activityTaskScheduledEventAttributes);
    expect(marker).toBeGreaterThan(0);
    expect(marker).toBeLessThan(firstActivity);
    expect(fake.calls.slice(-4, -2)).toEqual(['switchSelector blue->green', 'switchTraffic blue->green']);
  });

  it('checks the spec in the worker (a local activity, recorded) before anything else; a spec the CLI validated is not stored twice', async () => {
    const fake = fakeCluster(live());
    const { status, handle } = await runRelease(h, fake, testSpec(), undefined, 'spec-checked');
    expect(status.phase).toBe('Succeeded');
    const { events } = await handle.fetchHistory();
    const markers = events!.filter((e) => e.markerRecordedEventAttributes);
    const firstScheduled = events!.findIndex((e) => e.activityTaskScheduledEventAttributes);
    const text = (data: Uint8Array | null | undefined) => Buffer.from(data ?? []).toString();
    const checked = events!.findIndex((e) => text(e.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data).includes('"activity_type":"checkSpec"'));
    expect(checked).toBeGreaterThan(0);
    expect(checked).toBeLessThan(firstScheduled);
    expect(markers.length).toBeGreaterThan(0);
    // The answer is {}: the spec as sent is the spec (startRelease validated it).
    expect(text(events![checked]!.markerRecordedEventAttributes!.details!.result!.payloads![0]!.data)).toBe('{}');
  });

  it('records its patch markers before a local activity\'s marker, never after: a task a query ends after one still replays', async () => {
    // A query can end a workflow task right after a local activity's marker; a
    // patch marker recorded after it, in the next task, does not replay (sdk-core).
    const fake = fakeCluster({ live: 'blue', preview: 'blue', deployments: { blue: { version: 'v1', replicas: 10 } } });
    const { status, handle } = await runRelease(h, fake, testSpec({ replicas: 10, approval: { beforeSwitch: true } }), async ({ handle, reach }) => {
      await reach('AwaitingApproval', (s) => s.waitingFor === 'beforeSwitch');
      fake.state.deployments.green!.ready = 2; // the switch in the task is refused: the full-size wait follows it
      await handle.signal(approveSignal, approve);
    });
    expect(status.phase).toBe('Succeeded');
    const history = await handle.fetchHistory();
    const markers = history.events!.map((e) => e.markerRecordedEventAttributes?.markerName ?? (e.workflowTaskCompletedEventAttributes ? 'task' : ''));
    const sequence = markers.filter((m) => m !== '').join(' ');
    expect(sequence).toContain('core_patch core_local_activity'); // both local activities follow patches
    expect(sequence).not.toMatch(/core_local_activity( core_local_activity)* core_patch/);
    await Worker.runReplayHistory({ workflowBundle: h.bundle }, history, 'replay-full-size');
  });

  it('when the switch in the workflow task fails, switchTraffic switches itself, and its refusal is the one reported', async () => {
    const blip = fakeCluster(live());
    blip.failOn('switchSelector', 'HTTP 503: etcd leader changed');
    expect((await runRelease(h, blip, testSpec())).status.phase).toBe('Succeeded');
    expect(blip.state.live).toBe('green');

    const refused = fakeCluster(live());
    refused.failOn('switchSelector', 'no ready pod', 'SwitchRefused');
    refused.failOn('switchTraffic', 'not switched: the selector matches no ready pod', 'SwitchRefused', 1);
    const { status } = await runRelease(h, refused, testSpec());
    expect(status.phase).toBe('RolledBack');
    expect(status.reason).toContain('not switched: the selector matches no ready pod');
    expect(refused.state).toEqual(restored);
  });

  it('promotes at once when approved during monitoring', async () => {
    const fake = fakeCluster(live());
    fake.blockOn('monitor');
    const { status } = await runRelease(h, fake, testSpec({ monitor: { window: '1h', interval: '1m' } }), async ({ handle, reach }) => {
      await reach('Monitoring', (s) => s.waitingFor === 'afterSwitch');
      await handle.signal(approveSignal, approve);
    });
    expect(status.phase).toBe('Succeeded');
    expect(fake.state.deployments).toEqual({ green: { version: 'v2', replicas: 2 } });
  });

  it('with afterSwitch manual, waits after the monitor window for an approval', async () => {
    const fake = fakeCluster(live());
    const { status } = await runRelease(h, fake, testSpec({ approval: { afterSwitch: 'manual' } }), async ({ handle, reach }) => {
      await reach('Monitoring', (s) => s.waitingFor === 'afterSwitch' && s.analysis !== undefined);
      expect(fake.calls).not.toContain('deleteSlot blue');
      await handle.signal(approveSignal, approve);
    });
    expect(status.phase).toBe('Succeeded');
    expect(status.analysis?.ok).toBe(true);
  });

  it('records and ignores an approve when nothing waits for one', async () => {
    const fake = fakeCluster(live());
    fake.blockOn('waitForRollout');
    const { status } = await runRelease(h, fake, testSpec(), async ({ handle, reach }) => {
      await reach('Deploying', () => fake.calls.includes('waitForRollout green'));
      await handle.signal(approveSignal, approve);
      await reach('Deploying', (s) => s.timeline.some((e) => e.event === 'approve'));
      await handle.signal(abortSignal, abort);
    });
    expect(status.timeline).toContainEqual(expect.objectContaining({ event: 'approve', accepted: false, detail: 'ignored: not waiting for approval (phase Deploying)' }));
    expect(status.approvedBy).toBeUndefined();
  });

  it('records and ignores signals with bad payloads without failing the release', async () => {
    const fake = fakeCluster(live());
    const { status } = await runRelease(h, fake, testSpec({ approval: { beforeSwitch: true } }), async ({ handle, reach }) => {
      await reach('AwaitingApproval');
      await handle.signal('approve', { comment: 'no sender' });
      await handle.signal('abort', 'stop');
      await handle.signal('abort', { by: 'x'.repeat(500), reason: 'too long a name' });
      await reach('AwaitingApproval', (s) => s.timeline.filter((e) => e.detail?.startsWith('ignored: invalid payload')).length === 3);
      await handle.signal(approveSignal, approve);
    });
    expect(status.phase).toBe('Succeeded');
  });
});

describe('gate timeouts follow onTimeout', () => {
  it('rolls back when no approval comes before the switch and onTimeout is rollback', async () => {
    const fake = fakeCluster(live());
    const { status } = await runRelease(h, fake, testSpec({ approval: { beforeSwitch: true, timeout: '30m', onTimeout: 'rollback' } }));
    expect(status.phase).toBe('RolledBack');
    expect(status.reason).toContain('no approval within 30m before the switch');
    expect(fake.state).toEqual(restored);
  });

  it('switches when no approval comes before the switch and onTimeout is promote', async () => {
    const fake = fakeCluster(live());
    const { status } = await runRelease(h, fake, testSpec({ approval: { beforeSwitch: true, timeout: '30m', onTimeout: 'promote' } }));
    expect(status.phase).toBe('Succeeded');
    expect(status.timeline).toContainEqual(expect.objectContaining({ event: 'approval timed out' }));
  });

  it('switches back when no approval comes after monitoring and onTimeout is rollback', async () => {
    const fake = fakeCluster(live());
    const { status } = await runRelease(h, fake, testSpec({ approval: { afterSwitch: 'manual', timeout: '2h', onTimeout: 'rollback' } }));
    expect(status.phase).toBe('RolledBack');
    expect(fake.calls).toContain('switchTraffic green->blue');
    expect(fake.state).toEqual(restored);
  });

  it('promotes when no approval comes after monitoring and onTimeout is promote', async () => {
    const fake = fakeCluster(live());
    const { status } = await runRelease(h, fake, testSpec({ approval: { afterSwitch: 'manual', timeout: '2h', onTimeout: 'promote' } }));
    expect(status.phase).toBe('Succeeded');
    expect(fake.state.live).toBe('green');
  });
});

describe('abort rolls back to exactly what served before', () => {
  const cases: { phase: Phase; spec?: Parameters<typeof testSpec>[0]; block?: Parameters<ReturnType<typeof fakeCluster>['blockOn']>[0] }[] = [
    { phase: 'Preflight', block: 'inspect' },
    { phase: 'Deploying', block: 'waitForRollout' },
    { phase: 'Verifying', block: 'verifyCandidate' },
    { phase: 'AwaitingApproval', spec: { approval: { beforeSwitch: true } } },
    { phase: 'Switching', block: 'switchTraffic' },
    { phase: 'Monitoring', block: 'monitor' },
    { phase: 'Finalizing', spec: { scaleDownDelay: '1h' } },
  ];
  for (const c of cases) {
    it(`aborted in ${c.phase}`, async () => {
      const fake = fakeCluster(live());
      if (c.block) fake.blockOn(c.block);
      const { status } = await runRelease(h, fake, testSpec(c.spec), async ({ handle, reach }) => {
        await reach(c.phase, () => c.block === undefined || fake.calls.some((call) => call.startsWith(c.block!)));
        await handle.signal(abortSignal, abort);
      }, c.phase === 'Monitoring' ? 'abort-in-monitoring' : undefined);
      expect(status.phase).toBe('RolledBack');
      expect(status.abortedBy).toBe('ben');
      expect(status.reason).toBe('aborted by ben: p99 latency regressed');
      expect(fake.state).toEqual(restored);
      expect(status.timeline).toContainEqual(expect.objectContaining({ event: 'abort', accepted: true, phase: c.phase }));
    });
  }

  it('an autoscaler of the live Deployment scales the candidate from the switch on, and the old slot again after an abort', async () => {
    const fake = fakeCluster(live());
    fake.autoscalers = [{ apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name: 'model', min: 2, max: 6 }];
    fake.blockOn('monitor');
    const { status } = await runRelease(h, fake, testSpec(), async ({ handle, reach }) => {
      await reach('Monitoring', () => fake.calls.includes('monitor'));
      await handle.signal(abortSignal, abort);
    });
    expect(status.phase).toBe('RolledBack');
    const moves = fake.calls.filter((c) => c.startsWith('retargetAutoscaler') || c.startsWith('switchTraffic'));
    const [green, blue] = [status.candidateDeployment, status.oldDeployment];
    expect(moves).toEqual(['switchTraffic blue->green', `retargetAutoscaler model ${green}`, `retargetAutoscaler model ${blue}`, 'switchTraffic green->blue']);
    expect(status.timeline.filter((e) => e.event === 'autoscaler').map((e) => e.detail)).toEqual([`HorizontalPodAutoscaler model scales ${green}`, `HorizontalPodAutoscaler model scales ${blue}`]);
  });

  it('a stepped release moves 4 pods of v1 to 4 of v2 with never more than 5, analysing each step', async () => {
    const fake = fakeCluster({ live: 'blue', preview: 'blue', deployments: { blue: { version: 'v1', replicas: 4 } } });
    const { status } = await runRelease(h, fake, testSpec({ replicas: 4, stepped: { extraPods: 1, window: '20s' } }), undefined, 'stepped');
    expect(status.phase).toBe('Succeeded');
    expect(fake.peakPods).toBe(5);
    expect(fake.state).toEqual({ live: 'green', preview: 'green', deployments: { green: { version: 'v2', replicas: 4 } } });
    const moves = fake.calls.filter((c) => /^(applyCandidate|scaleSlot|switchTraffic|switchSelector|monitor)/.test(c));
    expect(moves).toEqual([
      'applyCandidate green', 'switchTraffic blue->both',
      'scaleSlot blue 3', 'monitor step',
      'scaleSlot green 2', 'scaleSlot blue 2', 'monitor step',
      'scaleSlot green 3', 'scaleSlot blue 1', 'monitor step',
      'scaleSlot green 4', 'scaleSlot blue 0', 'monitor step',
      'switchSelector both->green', 'switchTraffic both->green', 'monitor',
    ]);
    expect(status.timeline.filter((e) => e.event === 'step').map((e) => e.detail)).toEqual([
      `step 1 of 4: 1 pods of v2, 3 of ${status.oldDeployment}`, `step 2 of 4: 2 pods of v2, 2 of ${status.oldDeployment}`,
      `step 3 of 4: 3 pods of v2, 1 of ${status.oldDeployment}`, `step 4 of 4: 4 pods of v2, 0 of ${status.oldDeployment}`,
    ]);
    expect(status.steps).toEqual({ done: 4, candidate: 4, old: 0 });
  });

  it('a failed step analysis undoes the steps one by one, within the budget, back to 4 pods of v1', async () => {
    const fake = fakeCluster({ live: 'blue', preview: 'blue', deployments: { blue: { version: 'v1', replicas: 4 } } });
    const failed = { ok: false, runs: 2, failures: 2, checks: [{ name: 'error-rate', ok: false, detail: '0.3 >= 0.05' }] };
    fake.analyses.push(fake.analysis, failed);
    const { status } = await runRelease(h, fake, testSpec({ replicas: 4, stepped: { extraPods: 1, window: '20s' } }), undefined, 'stepped-step-failed');
    expect(status.phase).toBe('RolledBack');
    expect(status.reason).toContain('analysis of step 2 failed 2 of 2 times: error-rate: 0.3 >= 0.05');
    expect(fake.peakPods).toBe(5);
    expect(fake.state).toEqual({ live: 'blue', preview: 'blue', deployments: { blue: { version: 'v1', replicas: 4 } } });
    const undo = fake.calls.slice(fake.calls.lastIndexOf('monitor step') + 1).filter((c) => /^(scaleSlot|switchTraffic|deleteSlot)/.test(c));
    expect(undo).toEqual(['scaleSlot blue 3', 'scaleSlot green 1', 'scaleSlot blue 4', 'scaleSlot green 1', 'switchTraffic both->blue', 'deleteSlot green']);
  });

  it('an abort after a stepped release\'s switch goes back through both slots to the old one', async () => {
    const fake = fakeCluster({ live: 'blue', preview: 'blue', deployments: { blue: { version: 'v1', replicas: 2 } } });
    fake.blockOn('monitor');
    fake.analyses.push(fake.analysis, fake.analysis);
    const spec = testSpec({ replicas: 2, stepped: { extraPods: 1, window: '20s' } });
    // The first two monitor calls are the steps' (answered), the block is the window's.
    let blockedOnce = false;
    const monitor = fake.activities.monitor;
    fake.activities.monitor = async (input) => {
      if (input.spec.monitor.window === '20s') return fake.analyses.shift() ?? fake.analysis;
      blockedOnce = true;
      return monitor(input);
    };
    const { status } = await runRelease(h, fake, spec, async ({ handle, reach }) => {
      await reach('Monitoring', () => blockedOnce);
      await handle.signal(abortSignal, abort);
    });
    expect(status.phase).toBe('RolledBack');
    expect(fake.peakPods).toBe(3);
    expect(fake.state).toEqual({ live: 'blue', preview: 'blue', deployments: { blue: { version: 'v1', replicas: 2 } } });
    expect(fake.calls.filter((c) => c.startsWith('switchTraffic'))).toEqual(['switchTraffic blue->both', 'switchTraffic both->green', 'switchTraffic green->both', 'switchTraffic both->blue']);
  });

  it('keeps the old slot at standbyReplicas after promotion, and grows it back before an abort switches back', async () => {
    const fake = fakeCluster({ live: 'blue', preview: 'blue', deployments: { blue: { version: 'v1', replicas: 4 } } });
    const { status } = await runRelease(h, fake, testSpec({ replicas: 4, standbyReplicas: 1, scaleDownDelay: '10m' }), async ({ handle, reach }) => {
      const s = await reach('Finalizing', (st) => st.standby !== undefined);
      expect(s.standby).toEqual({ replicas: 1, toStart: 3, startupSeconds: 12 });
      expect(fake.state.deployments.blue?.replicas).toBe(1);
      await handle.signal(abortSignal, abort);
    });
    expect(status.phase).toBe('RolledBack');
    expect(status.standby).toBeUndefined();
    expect(fake.state).toEqual({ live: 'blue', preview: 'blue', deployments: { blue: { version: 'v1', replicas: 4 } } });
    const after = fake.calls.slice(fake.calls.indexOf('standBy blue 1') + 1).filter((c) => /^(scaleSlot|switchTraffic)/.test(c));
    expect(after).toEqual(['scaleSlot blue 4', 'switchTraffic green->blue']);
  });

  it('drains the old slot before deleting it, and the timeline says how long its pods took', async () => {
    const fake = fakeCluster({ live: 'blue', preview: 'blue', deployments: { blue: { version: 'v1', replicas: 2 } } });
    const spec = testSpec({ drain: { timeout: '30s', inFlight: 'vllm' } });
    const { status } = await runRelease(h, fake, spec, undefined, 'drained');
    expect(status.phase).toBe('Succeeded');
    expect(fake.calls.slice(-2)).toEqual(['drainSlot blue', 'deleteSlot blue']);
    const drained = status.timeline.filter((e) => e.event.startsWith('drain')).map((e) => `${e.event}: ${e.detail}`);
    expect(drained).toEqual([
      `draining: old slot ${spec.model}-blue: its pods are told to stop; up to 30s for their answers to end`,
      `drained: old slot ${spec.model}-blue: its 2 pods ended by themselves in 1.5s`,
    ]);
    expect(fake.state.deployments).toEqual({ green: { version: 'v2', replicas: 2 } });
  });

  it('names the pods a drain stopped at drain.timeout with their requests in flight; the release still succeeds', async () => {
    const fake = fakeCluster({ live: 'blue', preview: 'blue', deployments: { blue: { version: 'v1', replicas: 2 } } });
    fake.drain = { drained: false, tookMs: 30_400, pods: 2, cut: [{ pod: 'old-7d9-abcde', inFlight: 2 }, { pod: 'old-7d9-fghij' }] };
    const spec = testSpec({ drain: { timeout: '30s' } });
    const { status } = await runRelease(h, fake, spec);
    expect(status.phase).toBe('Succeeded');
    expect(status.timeline.find((e) => e.event === 'drain cut')?.detail).toBe(
      `old slot ${spec.model}-blue: drain.timeout 30s ended with 2 pods still running, 2 requests in flight; told to stop at once: old-7d9-abcde (2 in flight), old-7d9-fghij (requests in flight unknown)`,
    );
    expect(fake.calls.at(-1)).toBe('deleteSlot blue');
  });

  it('a rollback drains the candidate once it took traffic, and not before', async () => {
    const after = fakeCluster({ live: 'blue', preview: 'blue', deployments: { blue: { version: 'v1', replicas: 2 } } });
    after.blockOn('monitor');
    const aborted = await runRelease(h, after, testSpec({ drain: { timeout: '1m' } }), async ({ handle, reach }) => {
      await reach('Monitoring', () => after.calls.includes('monitor'));
      await handle.signal(abortSignal, abort);
    }, 'rollback-drains-candidate');
    expect(aborted.status.phase).toBe('RolledBack');
    const undo = after.calls.slice(after.calls.indexOf('switchTraffic green->blue'));
    expect(undo.filter((c) => /^(drainSlot|deleteSlot)/.test(c))).toEqual(['drainSlot green', 'deleteSlot green']);
    expect(after.state.deployments).toEqual({ blue: { version: 'v1', replicas: 2 } });

    const before = fakeCluster({ live: 'blue', preview: 'blue', deployments: { blue: { version: 'v1', replicas: 2 } } });
    before.verifyOk = false;
    const refused = await runRelease(h, before, testSpec({ drain: { timeout: '1m' } }));
    expect(refused.status.phase).toBe('RolledBack');
    expect(before.calls.filter((c) => /^(drainSlot|deleteSlot)/.test(c))).toEqual(['deleteSlot green']);
  });

  it('leaves nothing behind when a first release is aborted after the switch', async () => {
    const fake = fakeCluster({ deployments: {} });
    fake.blockOn('monitor');
    const { status } = await runRelease(h, fake, testSpec(), async ({ handle, reach }) => {
      await reach('Monitoring', () => fake.calls.includes('monitor'));
      await handle.signal(abortSignal, abort);
    });
    expect(status.phase).toBe('RolledBack');
    expect(fake.state).toEqual({ deployments: {} });
  });

  it('refuses an abort once the old slot is being deleted', async () => {
    const fake = fakeCluster(live());
    fake.blockOn('deleteSlot');
    await expect(runRelease(h, fake, testSpec({ scaleDownDelay: '1s' }), async ({ handle, reach }) => {
      await reach('Finalizing', () => fake.calls.includes('deleteSlot blue'));
      await handle.signal(abortSignal, abort);
      const s = await reach('Finalizing', (st) => st.timeline.some((e) => e.event === 'abort'));
      expect(s.timeline).toContainEqual(expect.objectContaining({ event: 'abort', accepted: false, detail: 'refused: the old slot is being deleted; there is nothing to go back to' }));
      expect(s.abortedBy).toBeUndefined();
      await handle.terminate('test over');
    })).rejects.toThrow(WorkflowFailedError);
  });

  it('rolls back when the workflow is cancelled', async () => {
    const fake = fakeCluster(live());
    fake.blockOn('monitor');
    const { status } = await runRelease(h, fake, testSpec(), async ({ handle, reach }) => {
      await reach('Monitoring', () => fake.calls.includes('monitor'));
      await handle.cancel();
    });
    expect(status.phase).toBe('RolledBack');
    expect(status.reason).toBe('the release was cancelled');
    expect(fake.state).toEqual(restored);
  });
});

describe('a failing step rolls back and says why', () => {
  it('refused in preflight: nothing changes', async () => {
    const fake = fakeCluster(live());
    fake.failOn('inspect', 'Deployment ml/m-green exists beside the live blue slot', 'PreflightRefused');
    const { status } = await runRelease(h, fake, testSpec());
    expect(status.phase).toBe('RolledBack');
    expect(status.reason).toContain('[PreflightRefused]: Deployment ml/m-green exists');
    expect(fake.calls).toEqual(['inspect']);
  });

  it('candidate apply keeps failing: retries are bounded, then rollback', async () => {
    const fake = fakeCluster(live());
    fake.failOn('applyCandidate', 'HTTP 503: etcdserver: leader changed');
    const { status } = await runRelease(h, fake, testSpec());
    expect(status.phase).toBe('RolledBack');
    expect(fake.calls.filter((c) => c === 'applyCandidate green')).toHaveLength(8);
    expect(status.reason).toContain('applyCandidate failed');
    expect(fake.state).toEqual(restored);
  });

  it('rollout fails (image pull): rolls back at once', async () => {
    const fake = fakeCluster(live());
    fake.failOn('waitForRollout', 'pod m-green-1 container model-server: ImagePullBackOff', 'RolloutFailed');
    const { status } = await runRelease(h, fake, testSpec(), undefined, 'rollout-failed');
    expect(status.phase).toBe('RolledBack');
    expect(status.reason).toBe('waitForRollout failed [RolloutFailed]: pod m-green-1 container model-server: ImagePullBackOff');
    expect(fake.calls.filter((c) => c.startsWith('waitForRollout'))).toHaveLength(1);
    expect(fake.state).toEqual(restored);
  });

  it('verification fails: never switches, rolls back', async () => {
    const fake = fakeCluster(live());
    fake.verifyOk = false;
    const { status } = await runRelease(h, fake, testSpec());
    expect(status.phase).toBe('RolledBack');
    expect(status.reason).toContain('verification failed: request golden: output-0[0]: expected 1');
    expect(fake.calls.some((c) => c.startsWith('switchTraffic'))).toBe(false);
    expect(fake.state).toEqual(restored);
  });

  it('the selector changed under the release: rolls back without overwriting', async () => {
    const fake = fakeCluster(live());
    fake.failOn('switchTraffic', 'selector changed between read and patch', 'SelectorConflict', 1);
    const { status } = await runRelease(h, fake, testSpec());
    expect(status.phase).toBe('RolledBack');
    expect(status.reason).toContain('[SelectorConflict]');
  });

  it('analysis fails during monitoring: switches back', async () => {
    const fake = fakeCluster(live());
    fake.analysis = { ok: false, runs: 2, failures: 1, checks: [{ name: 'health', ok: false, detail: 'HTTP 503' }] };
    const { status } = await runRelease(h, fake, testSpec(), undefined, 'analysis-failed');
    expect(status.phase).toBe('RolledBack');
    expect(status.reason).toBe('analysis failed 1 of 2 times: health: HTTP 503');
    expect(fake.calls).toContain('switchTraffic green->blue');
    expect(fake.state).toEqual(restored);
  });

  describe('an inconclusive analysis waits for a person', () => {
    const inconclusive = {
      ok: true, runs: 1, failures: 0, inconclusive: true,
      checks: [{ name: 'prometheus error-rate', ok: false, detail: 'inconclusive: no data: the query matched no series', bound: 'success: result < 0.01' }],
    };
    it('and approve promotes', async () => {
      const fake = fakeCluster(live());
      fake.analysis = inconclusive;
      const { status } = await runRelease(h, fake, testSpec(), async ({ handle, reach }) => {
        const waiting = await reach('Monitoring', (s) => s.waitingFor === 'analysis');
        expect(waiting.analysis?.inconclusive).toBe(true);
        expect(fake.calls).not.toContain('deleteSlot blue');
        await handle.signal(approveSignal, approve);
      });
      expect(status.phase).toBe('Succeeded');
      expect(status.timeline).toContainEqual(expect.objectContaining({ event: 'approve', accepted: true, detail: 'approved at an inconclusive analysis: metrics look fine' }));
      expect(fake.state.deployments).toEqual({ green: { version: 'v2', replicas: 2 } });
    });
    it('and abort rolls back', async () => {
      const fake = fakeCluster(live());
      fake.analysis = inconclusive;
      const { status } = await runRelease(h, fake, testSpec(), async ({ handle, reach }) => {
        await reach('Monitoring', (s) => s.waitingFor === 'analysis');
        await handle.signal(abortSignal, { by: 'ana', reason: 'no data, not worth the risk' });
      });
      expect(status.phase).toBe('RolledBack');
      expect(status.reason).toBe('aborted by ana: no data, not worth the risk');
      expect(fake.state).toEqual(restored);
    });
    it('and without an answer rolls back, even when onTimeout is promote', async () => {
      const fake = fakeCluster(live());
      fake.analysis = inconclusive;
      const { status } = await runRelease(h, fake, testSpec({ approval: { timeout: '20m', onTimeout: 'promote' } }));
      expect(status.phase).toBe('RolledBack');
      expect(status.reason).toBe('analysis inconclusive and no approval within 20m: prometheus error-rate: inconclusive: no data: the query matched no series');
      expect(fake.state).toEqual(restored);
    });
  });

  it('old slot cannot be deleted: Failed, saying the candidate serves', async () => {
    const fake = fakeCluster(live());
    fake.failOn('deleteSlot', 'HTTP 403: forbidden', 'KubernetesRejected');
    const { status, handle } = await runRelease(h, fake, testSpec(), undefined, 'failed-release');
    expect(status.phase).toBe('Failed');
    expect(status.reason).toContain('the candidate was promoted, but the old slot blue (Deployment model-');
    expect(fake.state.live).toBe('green');
    // Temporal's own tooling sees the failure; the result is in its details, for clients.
    expect((await handle.describe()).status.name).toBe('FAILED');
    expect(await releaseResult(handle)).toMatchObject({ phase: 'Failed', liveSlot: 'green', reason: status.reason });
  });

  it('a rollback step fails: Failed, naming what the cluster still needs', async () => {
    const fake = fakeCluster(live());
    fake.verifyOk = false;
    fake.failOn('deleteSlot', 'HTTP 403: forbidden', 'KubernetesRejected');
    const { status } = await runRelease(h, fake, testSpec());
    expect(status.phase).toBe('Failed');
    expect(status.reason).toMatch(/rollback stopped at "delete candidate Deployment model-\d+-green"/);
    expect(status.timeline.at(-1)?.detail).toMatch(/^the cluster still needs: delete candidate Deployment model-\d+-green$/);
    expect(fake.state.preview).toBe('blue');
  });
});

describe('one release per model service', () => {
  it('refuses a second start while one runs, naming its phase', async () => {
    const fake = fakeCluster(live());
    const spec = testSpec({ approval: { beforeSwitch: true } });
    await runRelease(h, fake, spec, async ({ handle, reach }) => {
      await reach('AwaitingApproval');
      const second = startRelease(h.env.client, { ...spec, version: 'v3' }, TASK_QUEUE);
      await expect(second).rejects.toThrow(UserError);
      await expect(second).rejects.toThrow(`a release of ml/${spec.model} is already running (version v2, phase AwaitingApproval)`);
      await handle.signal(approveSignal, approve);
    });
  });
});

describe('safety: each gate, each delete, each rollback does what it says', () => {
  it('an approval at the gate before the switch does not also pass monitoring', async () => {
    const fake = fakeCluster(live());
    const spec = testSpec({ approval: { beforeSwitch: true, afterSwitch: 'manual' } });
    const { status } = await runRelease(h, fake, spec, async ({ handle, reach }) => {
      await reach('AwaitingApproval', (s) => s.waitingFor === 'beforeSwitch');
      await handle.signal(approveSignal, approve);
      const monitoring = await reach('Monitoring', (s) => s.waitingFor === 'afterSwitch' && s.analysis !== undefined);
      expect(fake.calls).toContain('monitor');
      expect(fake.calls).not.toContain('deleteSlot blue');
      expect(monitoring.timeline.filter((e) => e.event === 'approve').map((e) => e.detail)).toEqual(['approved at the gate before the switch: metrics look fine']);
      await handle.signal(approveSignal, { by: 'cara' });
    }, 'approved-at-both-gates');
    expect(status.phase).toBe('Succeeded');
    expect(status.timeline.filter((e) => e.event === 'approve' && e.accepted).map((e) => [e.by, e.detail])).toEqual([
      ['ana', 'approved at the gate before the switch: metrics look fine'], ['cara', 'approved at monitoring'],
    ]);
  });

  it('does not delete the old slot when the live Service was moved back to it', async () => {
    const fake = fakeCluster(live());
    const { status } = await runRelease(h, fake, testSpec({ scaleDownDelay: '10m' }), async ({ reach }) => {
      await reach('Finalizing');
      fake.state.live = 'blue'; // an on-call kubectl patch during the delay
    });
    expect(status.phase).toBe('Failed');
    expect(status.reason).toContain('[SlotIsLive]');
    expect(fake.state.deployments).toEqual({ blue: { version: 'v1', replicas: 2 }, green: { version: 'v2', replicas: 2 } });
  });

  it('a rollback restores the replicas of an old slot scaled to 0 before switching back', async () => {
    const fake = fakeCluster(live());
    fake.blockOn('monitor');
    const { status } = await runRelease(h, fake, testSpec(), async ({ handle, reach }) => {
      await reach('Monitoring', () => fake.calls.includes('monitor'));
      fake.state.deployments.blue!.replicas = 0; // scaled down to free GPUs
      await handle.signal(abortSignal, abort);
    });
    expect(status.phase).toBe('RolledBack');
    expect(fake.state).toEqual(restored);
  });

  it('an abort accepted right after an approve still rolls a first release back', async () => {
    const fake = fakeCluster({ deployments: {} });
    fake.blockOn('monitor');
    const { status } = await runRelease(h, fake, testSpec(), async ({ handle, reach }) => {
      await reach('Monitoring', () => fake.calls.includes('monitor'));
      await handle.signal(approveSignal, approve);
      await handle.signal(abortSignal, abort);
    });
    const abortEntry = status.timeline.find((e) => e.event === 'abort');
    if (abortEntry?.accepted) {
      expect(status.phase).toBe('RolledBack');
      expect(fake.state).toEqual({ deployments: {} });
    } else {
      expect(status.phase).toBe('Succeeded');
      expect(abortEntry?.detail).toMatch(/^refused: /);
    }
  });

  it('ignores an approve or abort pinned to another version', async () => {
    const fake = fakeCluster(live());
    const { status } = await runRelease(h, fake, testSpec({ approval: { beforeSwitch: true } }), async ({ handle, reach }) => {
      await reach('AwaitingApproval');
      await handle.signal(approveSignal, { ...approve, version: 'v1' });
      await handle.signal(abortSignal, { ...abort, version: 'v1' });
      await reach('AwaitingApproval', (s) => s.timeline.filter((e) => e.accepted === false).length === 2);
      await handle.signal(approveSignal, { ...approve, version: 'v2' });
    });
    expect(status.phase).toBe('Succeeded');
    expect(status.timeline.filter((e) => e.accepted === false).map((e) => e.detail)).toEqual([
      'ignored: meant for version v1; this release is v2', 'refused: meant for version v1; this release is v2',
    ]);
  });

  it('with approval.notByStarter, the one who started the release cannot approve it', async () => {
    const fake = fakeCluster(live());
    const spec = testSpec({ approval: { beforeSwitch: true, notByStarter: true } });
    const { status } = await runRelease(h, fake, spec, async ({ handle, reach }) => {
      await reach('AwaitingApproval');
      await handle.signal(approveSignal, { by: 'ana' });
      await reach('AwaitingApproval', (s) => s.timeline.some((e) => e.event === 'approve'));
      await handle.signal(approveSignal, { by: 'ben' });
    }, undefined, 'ana');
    expect(status.phase).toBe('Succeeded');
    expect(status.startedBy).toBe('ana');
    expect(status.timeline.filter((e) => e.event === 'approve').map((e) => [e.by, e.accepted, e.detail])).toEqual([
      ['ana', false, 'ignored: ana started this release, and approval.notByStarter asks for someone else'], ['ben', true, 'approved at the gate before the switch'],
    ]);
  });

  it('a monitor window outlasts several worker restarts (attempts that end without a verdict)', async () => {
    const fake = fakeCluster(live());
    fake.failOn('monitor', 'worker shut down', undefined, 6);
    const { status } = await runRelease(h, fake, testSpec());
    expect(status.phase).toBe('Succeeded');
    expect(fake.calls.filter((c) => c === 'monitor')).toHaveLength(7);
  });

  it('compound durations work at every place one is used', async () => {
    const fake = fakeCluster(live());
    const spec = testSpec({
      approval: { beforeSwitch: true, timeout: '1h30m', onTimeout: 'promote' },
      monitor: { window: '2m30s', interval: '1m15s' }, scaleDownDelay: '1m30s', rolloutTimeout: '5m30s', switchTimeout: '1m5s',
    });
    const { status } = await runRelease(h, fake, spec);
    expect(status.phase).toBe('Succeeded');
    expect(status.timeline).toContainEqual(expect.objectContaining({ event: 'approval timed out' }));
    expect(fake.state.deployments).toEqual({ green: { version: 'v2', replicas: 2 } });
  });

  it('an invalid input from another client ends the release with the field errors, changing nothing', async () => {
    const fake = fakeCluster(live());
    const { Worker } = await import('@temporalio/worker');
    const worker = await Worker.create({ connection: h.env.nativeConnection, taskQueue: TASK_QUEUE, workflowBundle: h.bundle, activities: fake.activities });
    const result = await worker.runUntil(async () => releaseResult(await h.env.client.workflow.start(WORKFLOW_TYPE, {
      taskQueue: TASK_QUEUE, workflowId: 'bluegreen/ml/raw-input', args: [{ model: 'Not_A_Name', version: 'v1', image: 'x:1', replicas: 0 }],
    })));
    expect(result.phase).toBe('Failed');
    expect(result.reason).toMatch(/^invalid release spec: model: must be a DNS-1035 label.*; replicas: /);
    expect(fake.calls).toEqual([]);
  });

  it('a raw input from another client gets its defaults from the check in the worker', async () => {
    const fake = fakeCluster(live());
    const { Worker } = await import('@temporalio/worker');
    const worker = await Worker.create({ connection: h.env.nativeConnection, taskQueue: TASK_QUEUE, workflowBundle: h.bundle, activities: fake.activities });
    const status = await worker.runUntil(async () => {
      const handle = await h.env.client.workflow.start(WORKFLOW_TYPE, {
        taskQueue: TASK_QUEUE, workflowId: 'bluegreen/ml/raw-defaults', args: [{ model: 'fraud', version: 'v2', image: 'x:2', scaleDownDelay: '0s', monitor: { window: '0s' } }],
      });
      await releaseResult(handle);
      return handle.query(statusQuery);
    });
    expect(status.phase).toBe('Succeeded');
    // The namespace, the monitor's interval and the rest came from the schema's defaults.
    expect(status.namespace).toBe('default');
    expect(fake.calls).toContain('switchTraffic blue->green');
  });
});

describe('notices: each gate, rollback and outcome is sent once, beside the release', () => {
  it('a gate, then success: two notices, keyed by their place in the run, the gate\'s with what it waits for', async () => {
    const fake = fakeCluster(live());
    const spec = testSpec({ approval: { beforeSwitch: true } });
    const { status } = await runRelease(h, fake, spec, async ({ handle, reach }) => {
      await reach('AwaitingApproval', (s) => s.waitingFor === 'beforeSwitch');
      await handle.signal(approveSignal, approve);
    }, 'notified');
    expect(status.phase).toBe('Succeeded');
    expect(fake.notices.map((n) => [n.kind, n.key, n.phase, n.gate])).toEqual([
      ['waiting', `${status.releaseId}#1`, 'AwaitingApproval', 'beforeSwitch'],
      ['succeeded', `${status.releaseId}#2`, 'Succeeded', undefined],
    ]);
    expect(fake.notices[1]).toMatchObject({ namespace: spec.namespace, service: spec.model, version: 'v2', liveSlot: 'green' });
  });

  it('a failed check: rolling back names the check with its figure, then rolled back names what serves', async () => {
    const fake = fakeCluster(live());
    fake.verifyOk = false;
    const { status } = await runRelease(h, fake, testSpec());
    expect(status.phase).toBe('RolledBack');
    expect(fake.notices.map((n) => n.kind)).toEqual(['rolling-back', 'rolled-back']);
    expect(fake.notices[0]!.failing).toEqual(['request golden: output-0[0]: expected 1 ± 0.001, got 2']);
    expect(fake.notices[0]!.reason).toContain('verification failed');
    expect(fake.notices[1]).toMatchObject({ liveSlot: 'blue', phase: 'RolledBack' });
  });

  it('an abort at the gate: the notices say who aborted and why', async () => {
    const fake = fakeCluster(live());
    const { status } = await runRelease(h, fake, testSpec({ approval: { beforeSwitch: true } }), async ({ handle, reach }) => {
      await reach('AwaitingApproval', (s) => s.waitingFor === 'beforeSwitch');
      await handle.signal(abortSignal, abort);
    });
    expect(status.phase).toBe('RolledBack');
    expect(fake.notices.map((n) => [n.kind, n.reason])).toEqual([
      ['waiting', undefined], ['rolling-back', 'aborted by ben: p99 latency regressed'], ['rolled-back', 'aborted by ben: p99 latency regressed'],
    ]);
  });

  it('a webhook that never answers does not hold the release: it succeeds, and the timeline says the notice was not sent', async () => {
    const fake = fakeCluster(live());
    fake.failOn('notify', 'POST json webhook 1 (hooks.example) failed: ECONNREFUSED', 'NotifyFailed', 5);
    const { status } = await runRelease(h, fake, testSpec({ approval: { beforeSwitch: true } }), async ({ handle, reach }) => {
      await reach('AwaitingApproval', (s) => s.waitingFor === 'beforeSwitch');
      await handle.signal(approveSignal, approve);
    });
    expect(status.phase).toBe('Succeeded');
    const unsent = status.timeline.filter((e) => e.event === 'notice not sent').map((e) => e.detail);
    expect(unsent).toEqual([
      'waiting: notify failed [NotifyFailed]: POST json webhook 1 (hooks.example) failed: ECONNREFUSED',
      'succeeded: notify failed [NotifyFailed]: POST json webhook 1 (hooks.example) failed: ECONNREFUSED',
    ]);
  });

  it('a webhook still retried when the release ends holds its end a minute at most: the next release can start', async () => {
    const fake = fakeCluster(live());
    fake.failOn('notify', 'POST json webhook 1 (hooks.example) answered HTTP 503', undefined, 1_000);
    // The release ends with the notice still retried: on a server of its own, as a release that ends with an activity open.
    fake.blocks = true;
    const { status } = await runRelease(h, fake, testSpec());
    expect(status.phase).toBe('Succeeded');
    expect(status.timeline.at(-1)).toMatchObject({ event: 'notice not sent', detail: '1 still retried when the release ended; it waits for its notices 60s at most' });
  });
});
