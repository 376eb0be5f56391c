// The crash matrix: at each point of a release, SIGKILL the worker (or restart the
// Temporal server on the same database file), bring it back, and check that the
// release ends right and the cluster holds exactly what it should.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { readService } from '../../src/activities/cluster.js';
import { searchAttributes } from '../../src/release/ids.js';
import { temporalCli } from '../helpers/binaries.js';
import { freePort, startModelServer, startWorker, stop } from './processes.js';
import { World } from './world.js';

/** A Temporal dev server of this file's own, so it can be restarted on the same database. */
class DevServer {
  child?: ChildProcess;
  constructor(readonly port: number, readonly dbFile: string) {}
  get address() { return `127.0.0.1:${this.port}`; }

  async start(): Promise<void> {
    const cli = temporalCli();
    if (cli === undefined) throw new Error('crash tests need the temporal CLI: set TEMPORAL_CLI_PATH or put `temporal` on PATH');
    const attrs = Object.values(searchAttributes).flatMap((k) => ['--search-attribute', `${k.name}=Keyword`]);
    this.child = spawn(cli.path, ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(this.port), '--db-filename', this.dbFile, '--log-level', 'error', ...attrs], { stdio: 'ignore' });
    for (let i = 0; i < 100; i += 1) {
      if (await portOpen(this.port)) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`Temporal dev server did not listen on ${this.address}`);
  }

  async restart(): Promise<void> {
    if (this.child) await stop(this.child, 'SIGKILL');
    await this.start();
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(true));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(false)));
  });
}

/**
 * One row of the matrix: a Temporal dev server, a worker, model servers, a
 * namespace and a task queue of its own, so rows run side by side and one
 * row's kill or restart never reaches another's release.
 */
class Row {
  private constructor(readonly server: DevServer, readonly w: World) {}

  static async start(prefix: string): Promise<Row> {
    const server = new DevServer(await freePort(), join(mkdtempSync(join(tmpdir(), 'bluegreen-crash-')), 'temporal.db'));
    await server.start();
    const w = await new World({ prefix, temporalAddress: server.address, kubeconfig: inject('kubeconfig'), modelDelayMs: 0 }).start()
      .catch(async (err: unknown) => { if (server.child) await stop(server.child); throw err; });
    rows.push(w);
    return new Row(server, w);
  }

  /** The cluster after a successful v2 release: green live, blue gone. */
  async expectPromoted(model: string): Promise<void> {
    const after = await this.w.snapshot(model);
    expect(after.selector).toEqual({ 'bluegreen.dev/service': model, slot: 'green' });
    expect(after.preview?.selector).toEqual({ 'bluegreen.dev/service': model, slot: 'green' });
    expect(after.blue).toBeUndefined();
    expect(after.green?.labels?.['bluegreen.dev/version']).toBe('v2');
  }

  async killAndRestartWorker(): Promise<void> {
    await this.w.killWorker();
    await this.w.startWorker();
  }

  async restartServer(): Promise<void> {
    await this.server.restart();
    await this.w.connect();
  }

  async close(): Promise<void> {
    await this.w.close();
    if (this.server.child) await stop(this.server.child);
  }
}

/** Every row's World, for the zero-downtime watcher's report over the whole matrix. */
const rows: World[] = [];
afterAll(() => {
  const all = rows.map((w) => w.downtime);
  const sum = (k: 'samples' | 'noReady' | 'mixed') => all.reduce((n, d) => n + d[k], 0);
  console.log(`zero-downtime watcher (crash matrix): ${sum('samples')} samples, ${sum('noReady')} without a ready pod, ${sum('mixed')} with both slots`);
});

/** A test that runs on a row of its own, closed when it ends. */
function row(name: string, body: (r: Row) => Promise<void>, timeoutMs = 180_000): void {
  it(name, async ({ onTestFinished }) => {
    const r = await Row.start('crash');
    onTestFinished(() => r.close());
    await body(r);
  }, timeoutMs);
}

// Rows run side by side (vitest's maxConcurrency of them at a time): most of a row is waiting.
describe.concurrent('crash matrix', () => {
  describe('worker killed with SIGKILL', () => {
    row('right after preflight: the rollout goes on and the release succeeds', async (r) => {
      const { w } = r;
      const watch = await w.bootstrap('k-preflight');
      await w.cli(['start', '-f', w.specFile('k-preflight', 'v2', { image: 'slow.invalid/model:slow-start' })]);
      await w.waitFor('k-preflight', (s) => s.timeline.some((e) => e.event === 'plan'), 'plan');
      await r.killAndRestartWorker();
      await w.waitForPhase('k-preflight', 'Succeeded');
      await r.expectPromoted('k-preflight');
      await watch.done();
    });

    row('mid verification: the new worker verifies again and the release succeeds', async (r) => {
      const { w } = r;
      const slow = await startModelServer('examples/model-server/models/fraud-v2.json', 6_000);
      try {
        const watch = await w.bootstrap('k-verify');
        await w.cli(['start', '-f', w.specFile('k-verify', 'v2', { verify: w.verify('v2', slow.url) })]);
        await w.waitForPhase('k-verify', 'Verifying');
        await r.killAndRestartWorker();
        expect((await w.snapshot('k-verify')).selector?.slot).toBe('blue');
        // Right after a kill, a query can wait out the dead worker's sticky queue, and the status then
        // comes from the search attributes, without the checks: wait for the worker's own answer.
        const done = await w.waitFor('k-verify', (s) => s.phase === 'Succeeded' && s.verification !== undefined, 'Succeeded, as the worker tells it');
        expect(done.verification?.ok).toBe(true);
        await r.expectPromoted('k-verify');
        await watch.done();
      } finally {
        slow.stop();
      }
    });

    row('at the gate before the switch: approve reaches the new worker, nothing switched before', async (r) => {
      const { w } = r;
      const watch = await w.bootstrap('k-gate');
      await w.cli(['start', '-f', w.specFile('k-gate', 'v2', { approval: { beforeSwitch: true } })]);
      await w.waitForPhase('k-gate', 'AwaitingApproval');
      await r.killAndRestartWorker();
      expect((await w.snapshot('k-gate')).selector?.slot).toBe('blue');
      const approved = await w.cli(['approve', 'k-gate', '-n', w.namespace]);
      expect(approved.code, approved.stderr).toBe(0);
      await w.waitForPhase('k-gate', 'Succeeded');
      await r.expectPromoted('k-gate');
      await watch.done();
    });

    row('in Switching, while the candidate scales up before the selector patch', async (r) => {
      const { w } = r;
      const watch = await w.bootstrap('k-switch');
      // previewReplicas 1 and a slow-start image keep the release in Switching for ~10s.
      await w.cli(['start', '-f', w.specFile('k-switch', 'v2', { image: 'slow.invalid/model:slow-start', previewReplicas: 1 })]);
      await w.waitForPhase('k-switch', 'Switching');
      await r.killAndRestartWorker();
      await w.waitForPhase('k-switch', 'Succeeded');
      await r.expectPromoted('k-switch');
      await watch.done();
    });

    row('between the selector patch and the EndpointSlices settling: the switch is finished, not redone wrong', async (r) => {
      const { w } = r;
      // The window runs from the patch (in the workflow task that took the approval)
      // to switchTraffic's end (its wait for the EndpointSlices, which a watch ends
      // within milliseconds): a kill that lands after it has closed tests nothing,
      // so such a try is run again.
      for (let tryNo = 1; ; tryNo += 1) {
        const model = `k-settle-${tryNo}`;
        const watch = await w.bootstrap(model);
        await w.cli(['start', '-f', w.specFile(model, 'v2')]);
        // Kill the moment the API server holds the patched selector.
        const t = w.target(model);
        const deadline = Date.now() + 60_000;
        while ((await readService(w.kube, t, model))?.spec?.selector?.slot !== 'green') {
          if (Date.now() > deadline) throw new Error('the selector never switched');
        }
        await w.killWorker();
        // What the dead worker had finished: the switch step, or not yet.
        const history = await w.client.workflow.getHandle(`bluegreen/${w.namespace}/${model}`).fetchHistory();
        const scheduled = new Map((history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes).map((e) => [String(e.eventId), e.activityTaskScheduledEventAttributes?.activityType?.name]));
        const switched = (history.events ?? []).some((e) => scheduled.get(String(e.activityTaskCompletedEventAttributes?.scheduledEventId)) === 'switchTraffic');
        await w.startWorker();
        await w.waitForPhase(model, 'Succeeded');
        await r.expectPromoted(model);
        await watch.done();
        if (!switched) break;
        console.log(`crash matrix: try ${tryNo} killed the worker after the switch step had ended; trying again`);
        expect(tryNo, 'five kills in a row landed after the switch step had ended').toBeLessThan(5);
      }
    }, 600_000);

    row('during monitoring: analysis resumes on the new worker and the release promotes', async (r) => {
      const { w } = r;
      const watch = await w.bootstrap('k-monitor');
      await w.cli(['start', '-f', w.specFile('k-monitor', 'v2', { monitor: { window: '8s', interval: '1s', endpoint: w.url('v2') } })]);
      await w.waitForPhase('k-monitor', 'Monitoring');
      await r.killAndRestartWorker();
      const done = await w.waitFor('k-monitor', (s) => s.phase === 'Succeeded' && s.analysis !== undefined, 'Succeeded, as the worker tells it');
      expect(done.analysis?.ok).toBe(true);
      await r.expectPromoted('k-monitor');
      await watch.done();
    });

    row('during the scale-down delay: the old slot is deleted by the new worker', async (r) => {
      const { w } = r;
      const watch = await w.bootstrap('k-delay');
      await w.cli(['start', '-f', w.specFile('k-delay', 'v2', { scaleDownDelay: '6s' })]);
      await w.waitForPhase('k-delay', 'Finalizing');
      await r.killAndRestartWorker();
      expect((await w.snapshot('k-delay')).blue).toBeDefined();
      await w.waitForPhase('k-delay', 'Succeeded');
      await r.expectPromoted('k-delay');
      await watch.done();
    });

    row('mid rollback: the new worker finishes restoring exactly what served before', async (r) => {
      const { w } = r;
      const watch = await w.bootstrap('k-rollback');
      const before = await w.snapshot('k-rollback');
      await w.cli(['start', '-f', w.specFile('k-rollback', 'v2', { monitor: { window: '10m', interval: '1s', endpoint: w.url('v2') } })]);
      await w.waitForPhase('k-rollback', 'Monitoring');
      const aborted = await w.cli(['abort', 'k-rollback', '-n', w.namespace, '--reason', 'crash test']);
      expect(aborted.code, aborted.stderr).toBe(0);
      await r.killAndRestartWorker();
      await w.waitForPhase('k-rollback', 'RolledBack');
      expect(await w.snapshot('k-rollback')).toEqual({ ...before, green: undefined });
      await watch.done();
    });
  });

  describe('Temporal faults', () => {
    it('a worker started while the server is down waits for it and connects', async () => {
      const later = new DevServer(await freePort(), join(mkdtempSync(join(tmpdir(), 'bluegreen-late-')), 'temporal.db'));
      let sawWaiting = (): void => {};
      const waiting = new Promise<void>((r) => { sawWaiting = r; });
      const worker = startWorker({
        temporalAddress: later.address, kubeconfig: inject('kubeconfig'), taskQueue: 'late', waitForTemporal: '60s',
        onOutput: (out) => { if (out.includes('waiting for Temporal')) sawWaiting(); },
      });
      // The server comes up only once the worker has found it down (a busy machine can take seconds to start a worker).
      await waiting;
      await later.start();
      const started = await worker;
      expect(started.output()).toContain(`bluegreen worker: waiting for Temporal at ${later.address}`);
      await stop(started.child);
      if (later.child) await stop(later.child);
    }, 120_000);

    row('a worker gone longer than the monitor window: on its return the spec\'s policy decides (manual, timeout, rollback)', async (r) => {
      const { w } = r;
      const watch = await w.bootstrap('k-gone');
      const before = await w.snapshot('k-gone');
      await w.cli(['start', '-f', w.specFile('k-gone', 'v2', {
        monitor: { window: '4s', interval: '1s', endpoint: w.url('v2') },
        approval: { afterSwitch: 'manual', timeout: '3s', onTimeout: 'rollback' },
      })]);
      await w.waitForPhase('k-gone', 'Monitoring');
      await w.killWorker();
      await new Promise((r) => setTimeout(r, 8_000));
      // No worker answers queries now; `status` still tells the phase, from the search attributes.
      const status = await w.cli(['status', 'k-gone', '-n', w.namespace]);
      expect(status.code).toBe(0);
      expect(status.stdout).toMatch(/phase\s+Monitoring\n/);
      expect(status.stdout).toContain('no worker answered the status query');
      await w.startWorker();
      const end = await w.waitForPhase('k-gone', 'RolledBack');
      expect(end.reason).toBe('no approval within 3s after the monitor window');
      expect(await w.snapshot('k-gone')).toEqual({ ...before, green: undefined });
      await watch.done();
    });
  });

  describe('Temporal server restarted on the same database', () => {
    row('at the gate before the switch', async (r) => {
      const { w } = r;
      const watch = await w.bootstrap('s-gate');
      await w.cli(['start', '-f', w.specFile('s-gate', 'v2', { approval: { beforeSwitch: true } })]);
      await w.waitForPhase('s-gate', 'AwaitingApproval');
      await r.restartServer();
      const approved = await w.cli(['approve', 's-gate', '-n', w.namespace]);
      expect(approved.code, approved.stderr).toBe(0);
      await w.waitForPhase('s-gate', 'Succeeded');
      await r.expectPromoted('s-gate');
      await watch.done();
    });

    row('during monitoring', async (r) => {
      const { w } = r;
      const watch = await w.bootstrap('s-monitor');
      await w.cli(['start', '-f', w.specFile('s-monitor', 'v2', { monitor: { window: '8s', interval: '1s', endpoint: w.url('v2') } })]);
      await w.waitForPhase('s-monitor', 'Monitoring');
      await r.restartServer();
      await w.waitForPhase('s-monitor', 'Succeeded');
      await r.expectPromoted('s-monitor');
      await watch.done();
    });

    row('a CLI following the release rides out the outage and reports the end once', async (r) => {
      const { w } = r;
      const watch = await w.bootstrap('s-follow');
      const following = w.spawnCli(['start', '-f', w.specFile('s-follow', 'v2', { monitor: { window: '8s', interval: '1s', endpoint: w.url('v2') } }), '--wait']);
      await w.waitForPhase('s-follow', 'Monitoring');
      // Down longer than the client's own gRPC retries (about 20s), then back on the same database.
      if (r.server.child) await stop(r.server.child, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 30_000));
      await r.server.start();
      await w.connect();
      const end = await following.result;
      expect(end.code, end.stderr).toBe(0);
      expect(end.stderr).toMatch(/^bluegreen: cannot read the release \(.*\); retrying for 120s: the release goes on in the worker\n$/);
      expect(end.stdout).toContain('release Succeeded: v2 is live in green');
      const lines = end.stdout.split('\n').filter((l) => l !== '');
      expect(lines.length).toBe(new Set(lines).size);
      await r.expectPromoted('s-follow');
      await watch.done();
    });

    row('during the scale-down delay', async (r) => {
      const { w } = r;
      const watch = await w.bootstrap('s-delay');
      await w.cli(['start', '-f', w.specFile('s-delay', 'v2', { scaleDownDelay: '6s' })]);
      await w.waitForPhase('s-delay', 'Finalizing');
      await r.restartServer();
      await w.waitForPhase('s-delay', 'Succeeded');
      await r.expectPromoted('s-delay');
      await watch.done();
    });
  });
});
