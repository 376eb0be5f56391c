// Whole releases with everything real: the Temporal dev server, the worker as its
// own process, the Kubernetes test cluster, model servers, and the CLI. A watcher
// samples the live Service throughout and fails a test on any downtime.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { apiReads, readDeployment, serviceEndpoints } from '../../src/activities/cluster.js';
import { freePort } from './processes.js';
import { World } from './world.js';

let w: World;
let metrics: string;
beforeAll(async () => {
  metrics = `127.0.0.1:${await freePort()}`;
  w = await new World({
    prefix: 'e2e', temporalAddress: inject('temporalAddress'), kubeconfig: inject('kubeconfig'), workerEnv: { BLUEGREEN_METRICS_ADDRESS: metrics },
  }).start();
});
afterAll(async () => {
  if (w) console.log(w.report('e2e'));
  await w?.close();
});

describe('end-to-end releases', () => {
  it('bootstraps v1, then releases v2 with a manual approval from the CLI', async () => {
    const watch = await w.bootstrap('fraud-approve');
    expect((await w.snapshot('fraud-approve')).selector).toEqual({ 'bluegreen.dev/service': 'fraud-approve', slot: 'blue' });

    const started = await w.cli(['start', '-f', w.specFile('fraud-approve', 'v2', { approval: { afterSwitch: 'manual' } })]);
    expect(started.code).toBe(0);
    await w.waitFor('fraud-approve', (s) => s.waitingFor === 'afterSwitch' && s.analysis?.ok === true, 'waiting for approval after analysis');
    // Live traffic is on the candidate while it waits; the old slot is still there for instant rollback.
    const waiting = await w.snapshot('fraud-approve');
    expect(waiting.selector?.slot).toBe('green');
    expect(waiting.blue?.labels?.['bluegreen.dev/version']).toBe('v1');

    const approved = await w.cli(['approve', 'fraud-approve', '-n', w.namespace, '--comment', 'looks good']);
    expect(approved.stderr).toBe('');
    expect(approved).toMatchObject({ code: 0, stdout: `approved: the release of ${w.namespace}/fraud-approve goes on from Monitoring\n` });

    const done = await w.waitForPhase('fraud-approve', 'Succeeded');
    expect(done.approvedBy).toBe('e2e');
    const after = await w.snapshot('fraud-approve');
    expect(after.selector).toEqual({ 'bluegreen.dev/service': 'fraud-approve', slot: 'green' });
    expect(after.preview?.selector).toEqual({ 'bluegreen.dev/service': 'fraud-approve', slot: 'green' });
    expect(after.blue).toBeUndefined();
    expect(after.green?.labels?.['bluegreen.dev/version']).toBe('v2');
    expect(await serviceEndpoints(apiReads(w.kube, w.target('fraud-approve').namespace), 'fraud-approve', (await readDeployment(w.kube, w.target('fraud-approve'), 'fraud-approve-green'))!)).toEqual({ ready: 2, strangers: [], podsReady: 2, changedAt: expect.any(Number) });

    const status = await w.cli(['status', 'fraud-approve', '-n', w.namespace]);
    expect(status.stdout).toMatch(/phase\s+Succeeded/);
    // The sender as it stated itself, and as the Temporal server recorded it (the CLI's client identity: pid@host).
    expect(status.stdout).toMatch(/approve by e2e \[Temporal saw \d+@\S+\]: approved at monitoring: looks good/);
    await watch.done();
  });

  it('the worker logs each step of a release as a JSON line carrying its release id', async () => {
    const { releaseId } = (await w.status('fraud-approve'))!;
    const lines = w.worker!.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => String(l.message).startsWith('bluegreen worker: Temporal'))).toMatchObject({ level: 'INFO', time: expect.any(String) });
    const mine = lines.filter((l) => l.releaseId === releaseId);
    expect(mine.map((l) => l.message)).toEqual(expect.arrayContaining([
      'phase', expect.stringMatching(/^verified: \d+ checks passed/), expect.stringMatching(/^approve: approved at monitoring/), expect.stringMatching(/^phase: v2 is live in green/),
    ]));
    expect(mine[0]).toMatchObject({ level: 'INFO', workflowType: 'release', model: 'fraud-approve', phase: expect.any(String), event: expect.any(String) });
  });

  it('abort during monitoring restores the Service, the old Deployment and the preview exactly', async () => {
    const watch = await w.bootstrap('fraud-abort');
    const before = await w.snapshot('fraud-abort');
    await w.cli(['start', '-f', w.specFile('fraud-abort', 'v2', { monitor: { window: '10m', interval: '2s', endpoint: w.url('v2') } })]);
    await w.waitForPhase('fraud-abort', 'Monitoring');
    expect((await w.snapshot('fraud-abort')).selector?.slot).toBe('green');

    const aborted = await w.cli(['abort', 'fraud-abort', '-n', w.namespace, '--reason', 'p99 latency regressed']);
    expect(aborted.stderr).toBe('');
    expect(aborted.code).toBe(0);
    expect(aborted.stdout).toContain('aborted: the release of');

    const end = await w.waitForPhase('fraud-abort', 'RolledBack');
    expect(end.reason).toBe('aborted by e2e: p99 latency regressed');
    const after = await w.snapshot('fraud-abort');
    expect(after).toEqual({ ...before, green: undefined });
    expect(after.blue).toEqual(before.blue);
    expect(after.preview).toEqual(before.preview);
    await watch.done();
  });

  it('a release whose image cannot be pulled rolls back by itself and says why', async () => {
    const watch = await w.bootstrap('fraud-badimage');
    const before = await w.snapshot('fraud-badimage');
    const result = await w.cli(['start', '-f', w.specFile('fraud-badimage', 'v2', { image: 'fail.invalid/model:image-pull-backoff' }), '--wait']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^bluegreen: release RolledBack: waitForRollout failed \[RolloutFailed\]: pod fraud-badimage-green-\S+ container model-server: ImagePullBackOff/);
    expect(await w.snapshot('fraud-badimage')).toEqual({ ...before, green: undefined });
    await watch.done();
  });

  it('refuses a second start for the same model while the first runs', async () => {
    const watch = await w.bootstrap('fraud-twice');
    await w.cli(['start', '-f', w.specFile('fraud-twice', 'v2', { approval: { beforeSwitch: true } })]);
    await w.waitForPhase('fraud-twice', 'AwaitingApproval');
    const second = await w.cli(['start', '-f', w.specFile('fraud-twice', 'v2')]);
    expect(second.code).toBe(1);
    expect(second.stderr).toBe(`bluegreen: a release of ${w.namespace}/fraud-twice is already running (version v2, phase AwaitingApproval): bluegreen/${w.namespace}/fraud-twice; wait for it to end or abort it\n`);
    const missing = await w.cli(['approve', 'fraud-nothing', '-n', w.namespace]);
    expect(missing).toMatchObject({ code: 1, stderr: `bluegreen: no release of ${w.namespace}/fraud-nothing found (workflow bluegreen/${w.namespace}/fraud-nothing)\n` });
    const first = await w.status('fraud-twice');
    await w.cli(['abort', 'fraud-twice', '-n', w.namespace, '--reason', 'test over']);
    await w.waitForPhase('fraud-twice', 'RolledBack');
    const watched = await w.cli(['status', 'fraud-twice', '-n', w.namespace, '--watch']);
    expect(watched).toMatchObject({ code: 1, stderr: 'bluegreen: release RolledBack\n' });

    // An approve meant for the release that ended never reaches the next one.
    await w.cli(['start', '-f', w.specFile('fraud-twice', 'v2', { approval: { beforeSwitch: true } })]);
    await w.waitFor('fraud-twice', (s) => s.phase === 'AwaitingApproval' && s.releaseId !== first?.releaseId, 'the next release at its gate');
    const stale = await w.cli(['approve', 'fraud-twice', '-n', w.namespace, '--run', first!.releaseId.split('/').at(-1)!]);
    expect(stale).toMatchObject({ code: 1 });
    expect(stale.stderr).toMatch(/has ended \(RolledBack\); nothing to approve|has ended; nothing sent/);
    const wrongVersion = await w.cli(['approve', 'fraud-twice', '-n', w.namespace, '--version', 'v9']);
    expect(wrongVersion).toMatchObject({ code: 1, stderr: `bluegreen: the release of ${w.namespace}/fraud-twice is of version v2, not v9; nothing sent\n` });
    expect((await w.status('fraud-twice'))?.phase).toBe('AwaitingApproval');
    await w.cli(['abort', 'fraud-twice', '-n', w.namespace, '--reason', 'test over']);
    await w.waitForPhase('fraud-twice', 'RolledBack');
    await watch.done();
  });

  it('history lists past releases with who approved; rollback releases the version before with its pod template', async () => {
    const watch = await w.bootstrap('fraud-hist');
    await w.cli(['start', '-f', w.specFile('fraud-hist', 'v2', { approval: { beforeSwitch: true } })]);
    await w.waitForPhase('fraud-hist', 'AwaitingApproval');
    expect((await w.cli(['approve', 'fraud-hist', '-n', w.namespace, '--comment', 'golden set passed'])).code).toBe(0);
    await w.waitForPhase('fraud-hist', 'Succeeded');

    const text = await w.cli(['history', 'fraud-hist', '-n', w.namespace]);
    expect(text.code, text.stderr).toBe(0);
    const rows = text.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^VERSION\s+OUTCOME\s+STARTED\s+DURATION\s+BY\s+WHY$/);
    expect(rows.slice(1).map((r) => r.split(/\s+/).slice(0, 2))).toEqual([['v2', 'Succeeded'], ['v1', 'Succeeded']]);
    expect(rows[1]).toContain('started by e2e, approved by e2e');
    const json = JSON.parse((await w.cli(['history', 'fraud-hist', '-n', w.namespace, '-o', 'json'])).stdout) as Array<{ version: string; outcome: string; running: boolean; messages: unknown[]; durationSeconds: number }>;
    expect(json.map((r) => [r.version, r.outcome, r.running])).toEqual([['v2', 'Succeeded', false], ['v1', 'Succeeded', false]]);
    expect(json[0]!.messages).toEqual([expect.objectContaining({ kind: 'approve', by: 'e2e', comment: 'golden set passed', identity: expect.stringContaining('@') })]);
    expect(json[0]!.durationSeconds).toBeGreaterThan(0);

    const unknown = await w.cli(['rollback', 'fraud-hist', '-n', w.namespace, '--to', 'v9']);
    expect(unknown).toMatchObject({ code: 1, stderr: `bluegreen: version v9 was never released successfully for ${w.namespace}/fraud-hist (released: v2, v1)\n` });
    const back = await w.cli(['rollback', 'fraud-hist', '-n', w.namespace, '--wait']);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toMatch(/^rolling back to v1: the spec and pod template of bluegreen\/.*\/fraud-hist\/\S+ \(/);
    expect(back.stdout).toContain('release Succeeded: v1 is live in blue');
    const blue = await readDeployment(w.kube, w.target('fraud-hist'), 'fraud-hist-blue');
    expect(blue?.metadata?.labels?.['bluegreen.dev/version']).toBe('v1');
    expect(blue?.spec?.template?.spec?.containers?.[0]?.image).toBe('registry.example.com/ml/fraud:v1');
    expect((await w.snapshot('fraud-hist')).green).toBeUndefined();
    const again = await w.cli(['rollback', 'fraud-hist', '-n', w.namespace, '--to', 'v1']);
    expect(again).toMatchObject({ code: 1, stderr: `bluegreen: ${w.namespace}/fraud-hist already serves v1\n` });

    const listed = JSON.parse((await w.cli(['list', '--all', '--model', 'fraud-hist', '-o', 'json'])).stdout) as Array<Record<string, string>>;
    expect(listed.map((r) => [r.version, r.phase])).toEqual([['v1', 'Succeeded'], ['v2', 'Succeeded'], ['v1', 'Succeeded']]);
    const badPhase = await w.cli(['list', '--phase', 'Done']);
    expect(badPhase.code).toBe(1);
    expect(badPhase.stderr).toContain("option '--phase <phase>' argument 'Done' is invalid. allowed: Pending,");
    await watch.done();
  });

  it('start warns when no worker polls the task queue; the release waits for one', async () => {
    const nobody = `${w.taskQueue}-nobody`;
    const started = await w.cli(['start', '-f', w.specFile('fraud-noworker', 'v1')], { BLUEGREEN_TASK_QUEUE: nobody });
    expect(started.code, started.stderr).toBe(0);
    expect(started.stderr).toBe(`bluegreen: no worker polls task queue "${nobody}" in this Temporal namespace: the release waits until one starts (npm run worker, or BLUEGREEN_TASK_QUEUE)\n`);
    const handle = w.client.workflow.getHandle(`bluegreen/${w.namespace}/fraud-noworker`);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await handle.terminate('test over');
    expect(await w.snapshot('fraud-noworker')).toEqual({ selector: undefined, preview: undefined, blue: undefined, green: undefined });
  });

  it('Ctrl-C while following says the release goes on, and it does', async () => {
    // A monitor window keeps the release running while the follower is interrupted
    // (the steps before it can pass faster than a status poll).
    await w.cli(['start', '-f', w.specFile('fraud-ctrlc', 'v1', { monitor: { window: '10s', interval: '1s', endpoint: w.url('v1') } })]);
    const watching = w.spawnCli(['status', 'fraud-ctrlc', '-n', w.namespace, '--watch']);
    await w.waitForPhase('fraud-ctrlc', 'Monitoring', 60_000);
    // Its first frame says it follows (and handles Ctrl-C); a busy machine may take a while to start it.
    for (let i = 0; i < 600 && watching.stdout() === ''; i += 1) await new Promise((r) => setTimeout(r, 100));
    expect(watching.stdout()).not.toBe('');
    watching.child.kill('SIGINT');
    const interrupted = await watching.result;
    expect(interrupted.code).toBe(130);
    expect(interrupted.stderr).toContain(`bluegreen: stopped following; the release of ${w.namespace}/fraud-ctrlc goes on in the worker.`);
    expect(interrupted.stderr).toContain(`follow again: bluegreen status fraud-ctrlc -n ${w.namespace} --watch`);
    await w.waitForPhase('fraud-ctrlc', 'Succeeded');
  });

  it('status --watch on a terminal redraws one frame in place, with the commands to approve, until the end', async () => {
    const watch = await w.bootstrap('fraud-live');
    expect((await w.cli(['start', '-f', w.specFile('fraud-live', 'v2', { approval: { beforeSwitch: true } })])).code).toBe(0);
    const live = w.spawnCli(['status', 'fraud-live', '-n', w.namespace, '--watch'], true);
    const deadline = Date.now() + 60_000;
    while (!live.stdout().includes(`bluegreen approve fraud-live -n ${w.namespace}`)) {
      if (Date.now() > deadline) throw new Error(`no approve command in the live view:\n${live.stdout()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(live.stdout()).toContain(`${w.namespace}/fraud-live v2: AwaitingApproval for`);
    expect((await w.cli(['approve', 'fraud-live', '-n', w.namespace])).code).toBe(0);
    const end = await live.result;
    expect(end.code, end.stdout).toBe(0);
    // Each frame after the first goes back over the last one and clears it.
    expect(end.stdout).toMatch(/\x1b\[\d+F\x1b\[J/);
    expect(end.stdout).toContain(`${w.namespace}/fraud-live v2: Succeeded for`);
    await watch.done();
  });

  it('the worker serves Prometheus metrics: releases by outcome, time in each phase, failed checks, the SDK\'s own', async () => {
    const watch = await w.bootstrap('fraud-metrics');
    // v1's golden answers against the v2 server: verification fails and the release rolls back.
    const failing = await w.cli(['start', '-f', w.specFile('fraud-metrics', 'v2', { verify: w.verify('v1', w.url('v2')) }), '--wait']);
    expect(failing.code).toBe(1);
    const series = async (): Promise<string[]> => (await (await fetch(`http://${metrics}/metrics`)).text()).split('\n').filter((l) => l.includes('model="fraud-metrics"'));
    // The runtime exports on its own schedule: wait for the rollback to show.
    const deadline = Date.now() + 15_000;
    let lines = await series();
    while (!lines.some((l) => l.includes('outcome="RolledBack"')) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      lines = await series();
    }
    const value = (name: string, ...labels: string[]): number | undefined => {
      const line = lines.find((l) => l.startsWith(`${name}{`) && labels.every((label) => l.includes(label)));
      return line === undefined ? undefined : Number(line.split(' ').at(-1));
    };
    expect(value('bluegreen_releases_started_total'), lines.join('\n')).toBe(2);
    expect(value('bluegreen_releases_finished_total', 'outcome="Succeeded"')).toBe(1);
    expect(value('bluegreen_releases_finished_total', 'outcome="RolledBack"')).toBe(1);
    expect(value('bluegreen_checks_failed_total', 'stage="verification"', 'kind="request"')).toBe(1);
    expect(value('bluegreen_phase_seconds_count', 'phase="Deploying"')).toBe(2);
    expect(value('bluegreen_phase_seconds_sum', 'phase="Monitoring"')).toBeGreaterThan(2);
    const all = await (await fetch(`http://${metrics}/metrics`)).text();
    expect(all).toMatch(/^temporal_workflow_completed_total\{/m);
    await watch.done();
  });

  it('status of an ended release while no worker runs: the outcome and slots come from the history', async () => {
    const watch = await w.bootstrap('fraud-noworker');
    await w.killWorker();
    try {
      const out = await w.cli(['status', 'fraud-noworker', '-n', w.namespace, '-o', 'json']);
      expect(out.code, out.stderr).toBe(0);
      const status = JSON.parse(out.stdout) as { phase: string; liveSlot?: string; candidateSlot?: string; reason?: string; timeline: unknown[] };
      expect(status).toMatchObject({ phase: 'Succeeded', liveSlot: 'blue', candidateSlot: 'blue', timeline: [] });
      expect(status.reason).toMatch(/^no worker answered the status query/);
    } finally {
      await w.startWorker();
    }
    await watch.done();
  });

  it('survives SIGKILL of the worker mid-rollout: a new worker completes the release', async () => {
    const watch = await w.bootstrap('fraud-crash');
    await w.cli(['start', '-f', w.specFile('fraud-crash', 'v2', { image: 'slow.invalid/model:slow-start' })]);
    const t = w.target('fraud-crash');
    await w.waitForPhase('fraud-crash', 'Deploying');
    for (let i = 0; i < 50 && (await readDeployment(w.kube, t, 'fraud-crash-green')) === undefined; i += 1) await new Promise((r) => setTimeout(r, 100));
    expect((await readDeployment(w.kube, t, 'fraud-crash-green'))?.status?.availableReplicas ?? 0).toBe(0);

    await w.killWorker();
    await w.startWorker();

    const done = await w.waitForPhase('fraud-crash', 'Succeeded');
    expect(done.liveSlot).toBe('green');
    const after = await w.snapshot('fraud-crash');
    expect(after.selector?.slot).toBe('green');
    expect(after.blue).toBeUndefined();
    expect(after.green?.generation).toBe(1);
    await watch.done();
  }, 180_000);
});
