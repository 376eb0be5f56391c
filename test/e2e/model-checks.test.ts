// Model-aware verification and analysis, end to end: real releases on the test
// cluster whose checks go to example model servers with fault settings, and a
// real Prometheus scraping them. Each bad model must be caught by the check
// meant for it, with its figure in the reason, and leave the cluster as before.
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ReleaseSpecInput } from '../../src/release/spec.js';
import { startModelServer } from './processes.js';
import { prometheusBinary, startPrometheus, type Prometheus } from './prometheus.js';
import { World } from './world.js';

const binary = prometheusBinary();
// CI (BLUEGREEN_REAL_NODE=required) installs Prometheus: there, a missing one is a failure.
const skip = 'missing' in binary && process.env.BLUEGREEN_REAL_NODE !== 'required';
if (skip) console.warn(`model-check tests skipped: ${(binary as { missing: string }).missing}`);

const ROWS = [{ name: 'features', shape: [2, 3], datatype: 'FP32' as const, data: [1, 2, 3, 0.5, 0, 1] }];
/** The candidate's error ratio, named by the release's version. */
const ERROR_RATE = 'sum(rate(model_requests_total{version="{{version}}",outcome="error"}[5s])) / sum(rate(model_requests_total{version="{{version}}"}[5s]))';

let w: World;
let prom: Prometheus;
const servers: { stop: () => void }[] = [];

beforeAll(async () => {
  if ('missing' in binary) throw new Error(binary.missing);
  w = await new World({ prefix: 'checks', temporalAddress: inject('temporalAddress'), kubeconfig: inject('kubeconfig') }).start();
  prom = await startPrometheus(binary.path);
});
afterAll(async () => {
  if (w) console.log(w.report('model checks'));
  for (const s of servers) s.stop();
  await prom?.stop();
  await w?.close();
});

/** A v2 model server with fault flags, scraped by Prometheus when `scraped`. */
async function candidate(faults: string[] = [], { delayMs = 0, scraped = false } = {}): Promise<{ url: string }> {
  const server = await startModelServer('examples/model-server/models/fraud-v2.json', delayMs, faults);
  servers.push(server);
  if (scraped) await prom.scrape([new URL(server.url).host]);
  return server;
}

/** Inference requests to `url` until stopped, as live traffic would send them. */
function traffic(url: string): { stop: () => Promise<{ sent: number; failed: number }> } {
  let running = true;
  const counts = { sent: 0, failed: 0 };
  const loop = (async () => {
    while (running) {
      const ok = await fetch(`${url}/v2/models/fraud/infer`, { method: 'POST', body: JSON.stringify({ inputs: ROWS }) }).then((r) => r.ok, () => false);
      counts.sent += 1;
      if (!ok) counts.failed += 1;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return { stop: async () => { running = false; await loop; return counts; } };
}

const errorRate = (more: object = {}) => ({
  name: 'error-rate', provider: { prometheus: { address: prom.url, query: ERROR_RATE } },
  successCondition: 'result < 0.05', failureCondition: 'result >= 0.2', interval: '1s', initialDelay: '0s', ...more,
});

/** A v2 release whose verification goes to `url`; `verify` and `monitor` are merged into the defaults. */
function spec(model: string, url: string, more: { verify?: object; monitor?: object; top?: Partial<ReleaseSpecInput> } = {}): string {
  return w.specFile(model, 'v2', {
    verify: { ...w.verify('v2', url), ...more.verify },
    monitor: { window: '3s', interval: '1s', initialDelay: '0s', endpoint: url, ...more.monitor },
    ...more.top,
  });
}

/** The figure that decided a scenario, in the run's output (the note quotes them). */
const decided = (scenario: string, what: string | undefined): void => console.log(`model checks ${scenario}: ${what}`);

/** Starts a release that must roll back, and checks that the cluster is as it was. */
async function rolledBack(model: string, file: string): Promise<string> {
  const before = await w.snapshot(model);
  const run = await w.cli(['start', '-f', file, '--wait']);
  expect(run.code, run.stdout + run.stderr).toBe(1);
  const status = await w.waitForPhase(model, 'RolledBack');
  expect(await w.snapshot(model)).toEqual(before);
  return status.reason ?? '';
}

describe.skipIf(skip)('model-aware checks', () => {
  it('(a) a good model passes every check, with its figures, and is promoted', async () => {
    const watch = await w.bootstrap('good');
    const good = await candidate([], { scraped: true });
    const load = traffic(good.url);
    const file = spec('good', good.url, {
      verify: { latency: { requests: 40, concurrency: 4, p50Ms: 250, p95Ms: 1000 }, shadow: { minAgreement: 1, tolerance: 0.2 } },
      monitor: { window: '8s', analysis: [errorRate({ inconclusiveLimit: 3 }), { name: 'golden', provider: { probe: {} }, interval: '2s' }] },
    });
    const run = await w.cli(['start', '-f', file, '--wait']);
    const { sent, failed } = await load.stop();
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('release Succeeded: v2 is live in green');
    expect(failed).toBe(0);
    expect(sent).toBeGreaterThan(50);
    await watch.done();

    const shown = await w.cli(['status', 'good', '-n', w.namespace]);
    decided('(a)', shown.stdout.split('\n').filter((l) => /^(verify|analysis|\s+ok)/.test(l)).join(' | '));
    expect(shown.stdout).toMatch(/^verify {4}ok {3}signature: compatible with the live model: inputs features FP32\[-1,3\]; outputs probability FP32\[-1,1\]$/m);
    expect(shown.stdout).toMatch(/^verify {4}ok {3}request two-rows: matched in \d+ ms$/m);
    expect(shown.stdout).toMatch(/^verify {4}ok {3}latency: p50 \d+ ms <= 250, p95 \d+ ms <= 1000 over 40 requests at concurrency 4$/m);
    expect(shown.stdout).toMatch(/^verify {4}ok {3}shadow agreement: 1 of 1 outputs agree: 100\.0% >= 100\.0%$/m);
    expect(shown.stdout).toMatch(/^analysis {2}ok: \d+ runs, 0 failed$/m);
    expect(shown.stdout).toMatch(/^ {10}ok {3}prometheus error-rate: passing: result 0: successCondition "result < 0.05" holds; query sum\(rate\(model_requests_total\{version="v2",outcome="error"\}/m);
    expect(shown.stdout).toMatch(/^ {10}ok {3}probe golden: passing: result 1: successCondition "result == 1" holds/m);
    const json = JSON.parse((await w.cli(['status', 'good', '-n', w.namespace, '-o', 'json'])).stdout) as { verification: { checks: { name: string; value?: number; bound?: string }[] } };
    expect(json.verification.checks).toContainEqual(expect.objectContaining({ name: 'shadow agreement', value: 1, bound: '>= 1' }));
    expect(json.verification.checks).toContainEqual(expect.objectContaining({ name: 'latency', value: expect.any(Number), bound: 'p95 <= 1000 ms' }));
  });

  it('(b) wrong outputs fail the golden set', async () => {
    const watch = await w.bootstrap('wrong');
    const wrong = await candidate(['--output-shift', '0.1']);
    const reason = await rolledBack('wrong', spec('wrong', wrong.url));
    decided('(b)', reason);
    expect(reason).toBe('verification failed: request two-rows: probability[0]: expected 0.731059 ± 0.0001, got 0.831059');
    await watch.done();
  });

  it('(c) a changed input signature fails the signature check, and passes with allowSignatureChange', async () => {
    const watch = await w.bootstrap('sig');
    const renamed = await candidate(['--input-name', 'feats']);
    const reason = await rolledBack('sig', spec('sig', renamed.url));
    decided('(c)', reason);
    expect(reason).toBe('verification failed: signature: would break the live model\'s callers: input features removed; input feats added (callers do not send it)');

    const allowed = await w.cli(['start', '-f', spec('sig', renamed.url, { verify: { allowSignatureChange: true } }), '--wait']);
    expect(allowed.stdout).toContain('release Succeeded: v2 is live in green');
    const status = await w.status('sig');
    expect(status?.verification?.checks).toContainEqual(expect.objectContaining({
      name: 'signature', ok: true, detail: 'changed, allowed by allowSignatureChange: input features removed; input feats added (callers do not send it)',
    }));
    await watch.done();
  });

  it('(d) a model that disagrees with the live one fails shadow agreement, with the rate and the first disagreements', async () => {
    const watch = await w.bootstrap('shadow');
    const drifted = await candidate(['--output-shift', '0.3']);
    // Recorded requests, as JSON lines; the CLI inlines them into the spec.
    const recorded = `${w.specFile('shadow-inputs', 'v2')}.jsonl`;
    writeFileSync(recorded, [
      { name: 'low', inputs: [{ name: 'features', shape: [1, 3], datatype: 'FP32', data: [0, 0, 0] }] },
      { name: 'mixed', inputs: [{ name: 'features', shape: [2, 3], datatype: 'FP32', data: [1, 0, 1, 0, 1, 0] }] },
      { name: 'high', inputs: [{ name: 'features', shape: [1, 3], datatype: 'FP32', data: [3, 3, 3] }] },
    ].map((r) => JSON.stringify(r)).join('\n'));
    const reason = await rolledBack('shadow', spec('shadow', drifted.url, { verify: { requests: [], shadow: { inputsFile: recorded, minAgreement: 0.9, tolerance: 0.25 } } }));
    expect(reason).toMatch(/^verification failed: shadow agreement: 0 of 3 outputs agree: 0\.0% < 90\.0%; first disagreements: low probability: live \[0\.\d+\], candidate \[0\.\d+\]; mixed probability: live \[0\.\d+,0\.\d+\], candidate \[0\.\d+,0\.\d+\]; high probability/);
    decided('(d)', reason);
    const status = await w.status('shadow');
    const check = status?.verification?.checks.find((c) => c.name === 'shadow agreement');
    expect(check).toMatchObject({ ok: false, value: 0, bound: '>= 0.9' });
    expect(check?.examples).toHaveLength(3);
    await watch.done();
  });

  it('(e) a slow model fails the latency percentiles', async () => {
    const watch = await w.bootstrap('slow');
    const slow = await candidate([], { delayMs: 150 });
    const reason = await rolledBack('slow', spec('slow', slow.url, { verify: { latency: { requests: 12, concurrency: 3, p50Ms: 1000, p95Ms: 100 } } }));
    decided('(e)', reason);
    // At least the server's 150 ms, and more on a busy machine (files run side by side).
    expect(reason).toMatch(/^verification failed: latency: p50 (1[5-9]\d|[2-9]\d\d) ms <= 1000, p95 (1[5-9]\d|[2-9]\d\d|\d{4,}) ms > 100 over 12 requests at concurrency 3$/);
    await watch.done();
  });

  it('(f) an error rate that rises after the switch is rolled back by the Prometheus analysis', async () => {
    const watch = await w.bootstrap('errors');
    const server = await candidate([], { scraped: true });
    const load = traffic(server.url);
    await w.cli(['start', '-f', spec('errors', server.url, { monitor: { window: '2m', analysis: [errorRate({ inconclusiveLimit: 30 })] } })]);
    await w.waitFor('errors', (s) => s.phase === 'Monitoring' && s.liveSlot === 'green', 'monitoring on green');
    // The model starts failing half its requests only once it takes the traffic.
    await fetch(`${server.url}/admin/faults`, { method: 'POST', body: JSON.stringify({ errorRate: 0.5 }) });
    const status = await w.waitForPhase('errors', 'RolledBack', 60_000);
    const { failed } = await load.stop();
    decided('(f)', status.reason);
    expect(failed).toBeGreaterThan(0);
    expect(status.reason).toMatch(/^analysis failed 1 of \d+ times: prometheus error-rate: failed: result 0\.\d+: failureCondition "result >= 0\.2" holds; query sum\(rate\(model_requests_total\{version="v2",outcome="error"\}\[5s\]\)\)/);
    expect(status.analysis?.checks[0]?.value).toBeGreaterThanOrEqual(0.2);
    // The old version serves again: the live Service selects blue, its EndpointSlices hold blue's pods.
    expect((await w.snapshot('errors')).selector).toMatchObject({ slot: 'blue' });
    await watch.done();
  });

  it('(h) a Prometheus behind a token: the query carries the header from a Secret; refused in preflight while the Secret is missing', async () => {
    const token = `t0ken-${w.namespace}`;
    // A gateway in front of the real Prometheus, as a managed service or Thanos behind an auth proxy is.
    const seen = { authorized: 0, refused: 0 };
    const gateway = createServer((req, res) => {
      if (req.headers.authorization !== `Bearer ${token}`) {
        seen.refused += 1;
        res.writeHead(401).end('unauthorized');
        return;
      }
      seen.authorized += 1;
      fetch(`${prom.url}${req.url}`).then(async (r) => res.writeHead(r.status, { 'content-type': 'application/json' }).end(await r.text()), () => res.destroy());
    });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    try {
      const address = `http://127.0.0.1:${(gateway.address() as { port: number }).port}`;
      const watch = await w.bootstrap('prom-token');
      const server = await candidate();
      const file = spec('prom-token', server.url, {
        monitor: {
          window: '3s', analysis: [{
            name: 'always-up', provider: { prometheus: { address, query: 'vector(1)', headers: [{ name: 'Authorization', secretKeyRef: { name: 'prometheus-token', key: 'header' } }] } },
            successCondition: 'result == 1', interval: '1s', initialDelay: '0s',
          }],
        },
      });
      const refused = await w.cli(['start', '-f', file, '--wait']);
      expect(refused.code).not.toBe(0);
      expect((await w.status('prom-token'))?.reason).toBe(`inspect failed [PreflightRefused]: monitor.analysis[0].provider.prometheus.headers[0] (Authorization): Secret ${w.namespace}/prometheus-token has no key "header" (or does not exist)`);
      expect(seen).toEqual({ authorized: 0, refused: 0 });

      await w.kube.core.createNamespacedSecret({ namespace: w.namespace, body: { metadata: { name: 'prometheus-token' }, stringData: { header: `Bearer ${token}` } } });
      const released = await w.cli(['start', '-f', file, '--wait']);
      const done = await w.status('prom-token');
      expect(released.code, done?.reason).toBe(0);
      expect(done?.analysis).toMatchObject({ ok: true, checks: [expect.objectContaining({ name: 'prometheus always-up', ok: true })] });
      expect(seen.authorized).toBeGreaterThanOrEqual(1);
      expect(seen.refused).toBe(0);
      const history = await w.client.workflow.getHandle(`bluegreen/${w.namespace}/prom-token`).fetchHistory();
      expect(JSON.stringify(history)).not.toContain(token);
      await watch.done();
    } finally {
      gateway.close();
    }
  });

  describe('(g) an inconclusive analysis waits for a person', () => {
    // No model server reports version v3: the query has no data.
    const inconclusive = (model: string) => w.specFile(model, 'v2', {
      version: 'v3', verify: w.verify('v2'),
      monitor: { window: '5m', interval: '1s', initialDelay: '0s', analysis: [errorRate()] },
    });

    it.each([
      ['approve', [] as string[], 'Succeeded', 'v3 is live in green'],
      ['abort', ['--reason', 'no data, no release'], 'RolledBack', 'aborted by e2e: no data, no release'],
    ])('and %s does what it says', async (verb, extra, phase, said) => {
      const model = `undecided-${verb}`;
      const watch = await w.bootstrap(model);
      const before = await w.snapshot(model);
      await w.cli(['start', '-f', inconclusive(model)]);
      const waiting = await w.waitFor(model, (s) => s.waitingFor === 'analysis', 'the inconclusive gate');
      decided(`(g) ${verb}`, waiting.analysis?.checks[0]?.detail);
      expect(waiting.analysis).toMatchObject({ ok: true, inconclusive: true });
      const shown = await w.cli(['status', model, '-n', w.namespace]);
      expect(shown.stdout).toContain('phase     Monitoring (waiting for a person: the analysis was inconclusive (approve promotes, abort rolls back))');
      expect(shown.stdout).toMatch(/^analysis {2}INCONCLUSIVE: 1 runs, 0 failed$/m);
      expect(shown.stdout).toMatch(/^ {10}FAIL prometheus error-rate: inconclusive: no data: the query matched no series; query sum\(rate\(model_requests_total\{version="v3"/m);
      const answered = await w.cli([verb, model, '-n', w.namespace, ...extra]);
      expect(answered.code, answered.stderr).toBe(0);
      const done = await w.waitForPhase(model, phase as 'Succeeded' | 'RolledBack');
      if (phase === 'Succeeded') expect(done.timeline.at(-1)?.detail).toBe(said);
      else {
        expect(done.reason).toBe(said);
        expect(await w.snapshot(model)).toEqual(before);
      }
      await watch.done();
    });
  });
});
