// Clients as they really are, on the real node: keep-alive connections (a
// pool of 4, a request every 10 ms, as a `requests.Session` would) and streamed
// OpenAI chat answers of 5, 12 and 30 seconds held open across a release (with
// plain requests of 5 and 12 seconds beside them, the answer whole), an
// abort after the switch, a drain that runs out of time, and a rollback whose
// drain reads Prometheus. After the switch these clients stay on the old pods
// (node proxies keep an open connection where it is): only the drain moves
// them, when the old pods stop and the server closes their connections after
// its last answer (docs/reliability.md has the figures).
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { readService } from '../../src/activities/cluster.js';
import type { ReleaseSpecInput } from '../../src/release/spec.js';
import type { ReleaseStatus } from '../../src/release/status.js';
import { prometheusBinary, startPrometheus } from './prometheus.js';
import { watchStreams, watchTraffic, type StreamReport, type TrafficReport } from './traffic-watcher.js';
import { World } from './world.js';
import { realNodeTemplate } from '../cluster/node/pod-template.mjs';

const realNode = inject('realNode');
let w: World;

beforeAll(async () => {
  if (!realNode) return;
  w = await new World({ prefix: 'clients', temporalAddress: inject('temporalAddress'), kubeconfig: inject('kubeconfig') }).start();
});
afterAll(async () => {
  if (realNode) await w?.close();
});

const GOLDEN = { v1: [0.562177, 0.53743], v2: [0.731059, 0.562177] };
/** 100 ms a token: answers of 50, 120 and 300 tokens stream for 5, 12 and 30 s. */
const TOKEN_MS = 100;
const STREAMS = [50, 120, 300];
const DRAIN = { timeout: '45s', inFlight: 'example' as const };

function spec(version: 'v1' | 'v2', more: Partial<ReleaseSpecInput> = {}): ReleaseSpecInput {
  return {
    model: 'chat', namespace: w.namespace, version, replicas: 2,
    template: realNodeTemplate({ modelFile: `/app/models/fraud-${version}.json`, tokenMs: TOKEN_MS, graceSeconds: 45 }),
    verify: { modelName: 'fraud', requests: [{ inputs: [{ name: 'features', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3, 0.5, 0, 1] }], expected: { probability: GOLDEN[version] }, tolerance: 1e-4 }] },
    monitor: { window: '3s', interval: '1s' }, scaleDownDelay: '2s', rolloutTimeout: '2m', drain: DRAIN,
    ...more,
  };
}

async function start(input: ReleaseSpecInput, wait = true) {
  const file = w.specFile(input.model, input.version as 'v1' | 'v2', input);
  writeFileSync(file, JSON.stringify(input));
  return w.cli(['start', '-f', file, ...(wait ? ['--wait'] : [])]);
}

async function liveAddress(): Promise<{ ip: string; port: number }> {
  const service = await readService(w.kube, w.target('chat'), 'chat');
  return { ip: service!.spec!.clusterIP!, port: service!.spec!.ports![0]!.port };
}

/** The drain events of the release's timeline, for the figures and the assertions. */
const drains = (s: ReleaseStatus | undefined) => (s?.timeline ?? []).filter((e) => e.event.startsWith('drain')).map((e) => `${e.event}: ${e.detail}`);

function figures(what: string, keepAlive: TrafficReport, streams: StreamReport, status?: ReleaseStatus): void {
  console.log(`long clients (${what}): keep-alive ${keepAlive.sent} requests, ${keepAlive.failed} failed, answers ${JSON.stringify(keepAlive.versions)}, order ${keepAlive.sequence.join(' ')}; `
    + `streams ${streams.started} started, ${streams.completed} completed, ${streams.broken} broken, answers ${JSON.stringify(streams.versions)}, longest ${streams.longestMs} ms; `
    + `${drains(status).join('; ')}${[...keepAlive.examples, ...streams.examples].map((e) => `\n  ${e}`).join('')}`);
}

describe.skipIf(!realNode)(`keep-alive and streaming clients on a real node${realNode ? '' : ` (skipped: ${inject('realNodeReason')})`}`, () => {
  it('a release drains the old slot: keep-alive clients move to v2 and every stream of up to 30 s in flight ends, with no failed request', async () => {
    // A first release has no old slot to share traffic with: monitor.traffic does not hold it.
    const counted = { window: '3s', interval: '1s', traffic: { requests: 'example' as const, minShare: 0.5 } };
    const first = await start(spec('v1', { monitor: counted }));
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const { ip, port } = await liveAddress();
    const probe = watchTraffic(ip, port, 100);
    await probe.until('v1', 30_000);
    await probe.stop();
    const keepAlive = watchTraffic(ip, port, 10, 4);
    const streams = watchStreams(ip, port, STREAMS);
    // Plain requests as slow as the streams, answered whole: in flight at the switch and at the drain.
    const slow = watchStreams(ip, port, [50, 120], { whole: true });
    await keepAlive.until('v1');
    await new Promise((r) => setTimeout(r, 3_000)); // every stream is mid-answer

    // The window counts what each slot answered: the keep-alive clients stay on v1, so v2 is judged on a trickle.
    const release = await start(spec('v2', { monitor: counted }), false);
    expect(release.code, release.stderr).toBe(0);
    const waiting = await w.waitFor('chat', (s) => s.waitingFor === 'analysis', 'the traffic share gate', 120_000);
    const share = waiting.analysis?.checks.find((c) => c.name === 'traffic share');
    console.log(`long clients (a release): ${share?.detail}`);
    expect(share).toMatchObject({ ok: false, bound: '>= 0.5', detail: expect.stringMatching(/^the candidate answered \d+ of the \d+ requests both slots answered in the window \(\d+\.\d%\) < monitor\.traffic\.minShare 50\.0%: judged on a trickle$/) });
    expect(waiting.analysis?.traffic?.old).toBeGreaterThan(waiting.analysis!.traffic!.candidate);
    expect((await w.cli(['approve', 'chat', '-n', w.namespace, '--comment', 'the keep-alive clients move at the drain'])).code).toBe(0);
    const done = await w.waitForPhase('chat', 'Succeeded', 180_000);
    // The 30 s streams begun before the switch kept the old pods busy: the drain waited for them.
    await keepAlive.until('v2');
    const streamed = await streams.stop();
    const plain = await slow.stop();
    const report = await keepAlive.stop();
    figures('a release', report, streamed, done);
    console.log(`long clients (a release): slow plain requests ${plain.started} started, ${plain.completed} answered, ${plain.broken} failed, answers ${JSON.stringify(plain.versions)}, longest ${plain.longestMs} ms${plain.examples.map((e) => `\n  ${e}`).join('')}`);
    expect(report.failed, report.examples.join('; ')).toBe(0);
    expect(streamed.broken, streamed.examples.join('; ')).toBe(0);
    expect(plain.broken, plain.examples.join('; ')).toBe(0);
    expect(plain.versions.v1).toBeGreaterThan(0);
    expect(report.sequence.at(-1)).toBe('v2');
    expect(streamed.versions.v1).toBeGreaterThan(0);
    expect(done?.timeline.map((e) => e.event)).toEqual(expect.arrayContaining(['draining', 'drained', 'deleted']));
    expect(drains(done).find((d) => d.startsWith('drained'))).toMatch(
      /^drained: old slot chat-blue: its 2 pods ended by themselves in \d+(\.\d)?s; at most [1-9]\d* requests? in flight$/,
    );
    expect(await w.kube.core.listNamespacedPod({ namespace: w.namespace, labelSelector: 'bluegreen.dev/service=chat,slot=blue' })).toHaveProperty('items', []);
  }, 300_000);

  it('an abort after the switch drains the candidate before deleting it, with no failed request or broken stream', async () => {
    const { ip, port } = await liveAddress();
    const keepAlive = watchTraffic(ip, port, 10, 4);
    const streams = watchStreams(ip, port, STREAMS);
    await keepAlive.until('v2');
    await start(spec('v1', { monitor: { window: '1h', interval: '2s' } }), false);
    await w.waitFor('chat', (s) => s.phase === 'Monitoring' && s.liveSlot === 'blue', 'monitoring on blue', 180_000);
    // New connections reach the candidate; the kept-alive ones stay where they were.
    const fresh = watchTraffic(ip, port, 50);
    await fresh.until('v1', 30_000);
    await fresh.stop();
    await w.cli(['abort', 'chat', '-n', w.namespace, '--reason', 'keep v2']);
    const end = await w.waitForPhase('chat', 'RolledBack', 180_000);
    const streamed = await streams.stop();
    const report = await keepAlive.stop();
    figures('an abort after the switch', report, streamed, end);
    expect(report.failed, report.examples.join('; ')).toBe(0);
    expect(streamed.broken, streamed.examples.join('; ')).toBe(0);
    expect(drains(end).find((d) => d.startsWith('drained'))).toMatch(/^drained: candidate chat-blue: /);
    expect(end.timeline.map((e) => e.event)).not.toContain('drain cut');
  }, 300_000);

  it('a stream longer than drain.timeout: the timeline names the pod that still answers it, told to stop at once', async () => {
    const { ip, port } = await liveAddress();
    const streams = watchStreams(ip, port, [300]);
    await new Promise((r) => setTimeout(r, 2_000));
    const release = start(spec('v1', { drain: { ...DRAIN, timeout: '3s' } }));
    await w.waitFor('chat', (s) => s.version === 'v1' && s.timeline.some((e) => e.event === 'draining'), 'draining', 180_000);
    const streamed = await streams.stop(); // the stream it holds now is the last
    expect((await release).code).toBe(0);
    const done = await w.status('chat');
    figures('drain.timeout 3s, a 30 s stream', { sent: 0, failed: 0, versions: {}, sequence: [], examples: [] }, streamed, done);
    // The idle pod has usually ended by then; on a busy machine it may still be there, its server gone.
    expect(drains(done).find((d) => d.startsWith('drain cut'))).toMatch(
      /^drain cut: old slot chat-green: drain\.timeout 3s ended with (1 pod|2 pods) still running, 1 request in flight; told to stop at once: (chat-green-[a-z0-9]+-[a-z0-9]+ \((0 in flight|requests in flight unknown)\), )?chat-green-[a-z0-9]+-[a-z0-9]+ \(1 in flight\)(, chat-green-[a-z0-9]+-[a-z0-9]+ \((0 in flight|requests in flight unknown)\))?$/,
    );
    // The pod is deleted with a grace period of 1s. This node's kubelet (1.33, containerd) keeps
    // the 45s it gave the stop already begun, so the answer still ends there (docs/reliability.md).
    expect(streamed.started).toBe(1);
  }, 180_000);

  it('a rollback on a failed analysis drains the candidate, its requests in flight read from Prometheus: no failed request or broken stream', async () => {
    const binary = prometheusBinary();
    if ('missing' in binary) throw new Error(binary.missing);
    const prom = await startPrometheus(binary.path);
    try {
      const { ip, port } = await liveAddress();
      // Clients kept alive before the release: mostly on the old slot throughout.
      const staying = watchTraffic(ip, port, 10, 4);
      await staying.until('v1');
      const latency = 'histogram_quantile(0.9, sum by (le) (rate(model_request_duration_seconds_bucket{version="{{version}}"}[5s])))';
      await start(spec('v2', {
        monitor: { window: '5m', interval: '1s', initialDelay: '2s', analysis: [{
          name: 'latency-p90', provider: { prometheus: { address: prom.url, query: latency } },
          successCondition: 'result < 0.3', failureCondition: 'result >= 0.3', interval: '1s', inconclusiveLimit: 240,
        }] },
        // The worker reads the draining pods' requests in flight from Prometheus, not from their pages.
        drain: { ...DRAIN, prometheus: { address: prom.url } },
      }), false);
      await w.waitFor('chat', (s) => s.phase === 'Monitoring' && s.liveSlot === 'green', 'monitoring on green', 180_000);
      // New connections reach the candidate once the node's proxy has the switch: kept alive and
      // streaming there when the rollback comes.
      const fresh = watchTraffic(ip, port, 50);
      await fresh.until('v2', 30_000);
      await new Promise((r) => setTimeout(r, 2_000));
      expect((await fresh.stop()).sequence.at(-1)).toBe('v2');
      const keepAlive = watchTraffic(ip, port, 10, 4);
      const streams = watchStreams(ip, port, STREAMS);
      await keepAlive.until('v2', 30_000);
      // Prometheus scrapes the candidate's pods with the labels Kubernetes discovery gives them.
      const pods = await w.kube.core.listNamespacedPod({ namespace: w.namespace, labelSelector: 'bluegreen.dev/service=chat,slot=green' });
      const targets = pods.items.map((p) => `${p.status!.podIP!}:8080`);
      expect(targets).toHaveLength(2);
      await prom.scrape(targets, pods.items.map((p) => ({ pod: p.metadata!.name!, namespace: w.namespace })));
      await new Promise((r) => setTimeout(r, 3_000)); // every stream is mid-answer on v2
      // The candidate slows down: every answer 500 ms late, none failed; the analysis catches it.
      await Promise.all(targets.map((t) => fetch(`http://${t}/admin/faults`, { method: 'POST', body: JSON.stringify({ delayMs: 500 }) })));
      const end = await w.waitForPhase('chat', 'RolledBack', 180_000);
      await keepAlive.until('v1');
      const streamed = await streams.stop();
      const report = await keepAlive.stop();
      const stayed = await staying.stop();
      figures('a rollback on a failed analysis, drain from Prometheus', report, streamed, end);
      console.log(`long clients (a rollback): clients kept alive on v1 before it, ${stayed.sent} requests, ${stayed.failed} failed, answers ${JSON.stringify(stayed.versions)}`);
      expect(end.reason).toMatch(/^analysis failed 1 of \d+ times: prometheus latency-p90: failed: result \d/);
      expect(report.failed, report.examples.join('; ')).toBe(0);
      expect(stayed.failed, stayed.examples.join('; ')).toBe(0);
      expect(streamed.broken, streamed.examples.join('; ')).toBe(0);
      expect(streamed.versions.v2).toBeGreaterThan(0);
      expect(report.sequence[0]).toBe('v2');
      expect(report.sequence.at(-1)).toBe('v1');
      // The 30 s stream begun on v2 was in flight: Prometheus' figure of it is in the timeline.
      expect(drains(end).find((d) => d.startsWith('drained'))).toMatch(
        /^drained: candidate chat-green: its 2 pods ended by themselves in \d+(\.\d)?s; at most [1-9]\d* requests? in flight$/,
      );
      expect(await w.kube.core.listNamespacedPod({ namespace: w.namespace, labelSelector: 'bluegreen.dev/service=chat,slot=green' })).toHaveProperty('items', []);
    } finally {
      await prom.stop();
    }
  }, 300_000);
});
