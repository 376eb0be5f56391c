// README's Prometheus queries for vLLM and TGI, asked of a real Prometheus that
// scrapes pages in each server's own metric names, labelled as Kubernetes
// discovery labels a pod's series (`namespace`, `pod`). A query with a typo, a
// metric name the server does not export, or more than one series fails here;
// so does drain.prometheus's ready-made query for vLLM.
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseCondition } from '../../src/release/condition.js';
import { inFlightMetrics } from '../../src/release/drain.js';
import { renderQuery } from '../../src/release/model-checks.js';
import { prometheusValue, type PrometheusAnswer } from '../../src/rules/analysis.js';
import { inFlightQuery, valuesByPod } from '../../src/rules/drain.js';
import { prometheusBinary, startPrometheus, type Prometheus } from './prometheus.js';

const NAMESPACE = 'ml';
const POD = { vllm: 'llm-blue-7d9f8c6b5-abcde', tgi: 'llm-blue-7d9f8c6b5-fghij' };
const ARGS = { model: 'llm', namespace: NAMESPACE, service: 'llm', version: 'v2', slot: 'blue', deployment: 'llm-blue' };

/** Counters that grow with time, as a server under steady load has them. */
const started = Date.now();
const seconds = () => (Date.now() - started) / 1000;

/** vLLM's /metrics as it names them: a time-to-first-token histogram and its request gauges. */
function vllmPage(): string {
  const n = Math.round(seconds() * 20);
  const labels = 'model_name="llama-3-8b-instruct"';
  const buckets: [string, number][] = [['0.1', 0.5], ['0.5', 0.9], ['1.0', 0.99], ['2.5', 1], ['+Inf', 1]];
  return [
    '# TYPE vllm:time_to_first_token_seconds histogram',
    ...buckets.map(([le, share]) => `vllm:time_to_first_token_seconds_bucket{${labels},le="${le}"} ${Math.round(n * share)}`),
    `vllm:time_to_first_token_seconds_sum{${labels}} ${n * 0.2}`,
    `vllm:time_to_first_token_seconds_count{${labels}} ${n}`,
    '# TYPE vllm:num_requests_waiting gauge',
    `vllm:num_requests_waiting{${labels}} 3`,
    '# TYPE vllm:num_requests_running gauge',
    `vllm:num_requests_running{${labels}} 5`,
    '',
  ].join('\n');
}

/** TGI's /metrics: requests and failures (by error kind) as counters. */
function tgiPage(): string {
  const n = Math.round(seconds() * 200);
  return [
    '# TYPE tgi_request_count counter', `tgi_request_count ${n}`,
    '# TYPE tgi_request_failure counter', `tgi_request_failure{err="validation"} ${Math.floor(n / 400)}`,
    '# TYPE tgi_queue_size gauge', 'tgi_queue_size 1',
    '',
  ].join('\n');
}

const servers: Server[] = [];
async function serve(page: () => string): Promise<string> {
  const server = createServer((_, res) => res.end(page()));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** README's analysis metrics for the LLM servers: the yaml block that holds ttft-p95. */
function readmeAnalysis(): { name: string; provider: { prometheus: { query: string } }; successCondition: string }[] {
  const blocks = readFileSync(new URL('../../README.md', import.meta.url), 'utf8').split('```yaml\n').map((b) => b.split('```')[0]!);
  const block = blocks.find((b) => b.includes('name: ttft-p95'));
  if (block === undefined) throw new Error('README has no yaml block with ttft-p95');
  return parse(block).monitor.analysis;
}

let prom: Prometheus;
const ask = async (query: string): Promise<PrometheusAnswer> =>
  (await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(query)}`)).json() as Promise<PrometheusAnswer>;

/** What `read` gives once `ready` says so (a rate needs two scrapes), or its last answer after 30 s. */
async function settled<T>(read: () => Promise<T>, ready: (value: T) => boolean): Promise<T> {
  const until = Date.now() + 30_000;
  for (;;) {
    const value = await read();
    if (ready(value) || Date.now() > until) return value;
    await new Promise((r) => setTimeout(r, 500));
  }
}

beforeAll(async () => {
  const binary = prometheusBinary();
  if ('missing' in binary) throw new Error(binary.missing);
  prom = await startPrometheus(binary.path);
  const targets = [await serve(vllmPage), await serve(tgiPage)];
  await prom.scrape(targets, [{ namespace: NAMESPACE, pod: POD.vllm }, { namespace: NAMESPACE, pod: POD.tgi }]);
});
afterAll(async () => {
  await prom?.stop();
  for (const s of servers) s.close();
});

describe('README\'s queries for LLM servers, on a real Prometheus', () => {
  it.each(readmeAnalysis().map((m) => [m.name, m] as const))('%s returns one value, and its condition holds for a healthy server', async (_, metric) => {
    const query = renderQuery(metric.provider.prometheus.query, ARGS);
    const value = await settled(async () => prometheusValue(await ask(query)), (v) => typeof v === 'number');
    console.log(`readme query ${metric.name}: ${value} (${metric.successCondition})`);
    expect(typeof value, String(value)).toBe('number');
    expect(parseCondition(metric.successCondition).holds(value as number)).toBe(true);
  });

  it('drain.prometheus\'s ready-made query for vLLM gives each pod its running and waiting requests', async () => {
    const query = renderQuery(inFlightQuery(inFlightMetrics('vllm')), ARGS);
    const byPod = await settled(async () => valuesByPod(await ask(query)), (v) => v instanceof Map && v.size > 0);
    // The TGI pod exports no vLLM gauge: it is not in the answer, and its figure stays unknown.
    expect(byPod).toEqual(new Map([[POD.vllm, 8]]));
  });
});
