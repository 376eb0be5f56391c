// Releases of an LLM verified over the OpenAI API against a server we did not
// write: llama.cpp through llama-cpp-python's OpenAI-compatible server (built
// from PyPI's source by scripts/model-servers.sh), serving tiny random-weight
// models this test writes with the gguf package. Their words are nonsense; the
// API, streaming, structured output and timing are the server's own. Model
// `good` (seed 1234) labels the golden message "ham"; model `unsure` (seed 99)
// labels it "unsure", which the expectation's JSON Schema does not allow.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ReleaseSpecInput } from '../../src/release/spec.js';
import { freePort, stop } from './processes.js';
import { World } from './world.js';

const MODELS = { good: 1234, unsure: 99 } as const;
const SERVED = 'tiny';
/** What the slow candidates' links add: before an answer starts, and between its streamed events. */
const SLOW_MS = 1_500;
const DRIP_MS = 400;

let w: World;
const servers: ChildProcess[] = [];
const url: Record<keyof typeof MODELS | 'slow' | 'drip', string> = { good: '', unsure: '', slow: '', drip: '' };
const links: Server[] = [];

async function startLlm(bin: string, model: string): Promise<string> {
  const port = await freePort();
  const child = spawn(join(bin, 'python'), ['-m', 'llama_cpp.server', '--model', model, '--model_alias', SERVED, '--host', '127.0.0.1', '--port', String(port),
    '--n_ctx', '512', '--n_threads', '1', '--verbose', 'False'], { stdio: 'ignore' });
  servers.push(child);
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (!(await fetch(`${base}/v1/models`).then((r) => r.ok, () => false))) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`llama-cpp-python's server did not start at ${base}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return base;
}

/**
 * A link to `upstream` that holds every request `startMs` before passing it on
 * (a candidate slow to its first token), or passes a streamed answer's events
 * on `eventMs` apart (a candidate slow between tokens).
 */
async function startSlowLink(upstream: string, { startMs = 0, eventMs = 0 }): Promise<string> {
  const to = new URL(upstream);
  const link = createServer((req, res) => {
    setTimeout(() => {
      const out = request({ host: to.hostname, port: to.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        if (eventMs === 0 || !String(answer.headers['content-type']).startsWith('text/event-stream')) return void answer.pipe(res);
        // One event at a time, each `eventMs` after the one before.
        let buffered = '';
        let queue = Promise.resolve();
        answer.on('data', (chunk: Buffer) => {
          buffered += chunk.toString('utf8');
          const events = buffered.split('\n\n');
          buffered = events.pop()!;
          for (const event of events) queue = queue.then(() => new Promise((r) => setTimeout(r, eventMs))).then(() => void res.write(`${event}\n\n`));
        });
        answer.on('end', () => void queue.then(() => res.end(buffered)));
      });
      out.on('error', () => res.destroy());
      req.pipe(out);
    }, startMs);
  });
  links.push(link);
  await new Promise<void>((resolve) => link.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(link.address() as { port: number }).port}`;
}

beforeAll(async () => {
  const installed = spawnSync('bash', ['scripts/model-servers.sh', 'llama'], { encoding: 'utf8' });
  if (installed.status !== 0) throw new Error(`scripts/model-servers.sh llama failed: ${installed.stderr}`);
  const bin = installed.stdout.trim();
  w = await new World({ prefix: 'llm-server', temporalAddress: inject('temporalAddress'), kubeconfig: inject('kubeconfig') }).start();
  for (const [name, seed] of Object.entries(MODELS)) {
    const file = join(w.dir, `${name}.gguf`);
    const written = spawnSync(join(bin, 'python'), ['test/servers/tiny-llm.py', file, String(seed)], { encoding: 'utf8' });
    expect(written.stdout.trim(), written.stderr).toBe(file);
    url[name as keyof typeof MODELS] = await startLlm(bin, file);
  }
  url.slow = await startSlowLink(url.good, { startMs: SLOW_MS });
  url.drip = await startSlowLink(url.good, { eventMs: DRIP_MS });
}, 300_000);
afterAll(async () => {
  for (const link of links) link.close();
  await Promise.all(servers.map((s) => stop(s)));
  await w?.close();
});

/** Labels the server may give (its structured output), and those a good model gives (the expectation). */
const MAY_SAY = { type: 'object', properties: { label: { enum: ['spam', 'ham', 'unsure'] } }, required: ['label'] };
const MUST_SAY = { type: 'object', properties: { label: { enum: ['spam', 'ham'] } }, required: ['label'] };

/** An LLM release whose candidate answers at `candidate`, the live model at the good server. */
function spec(candidate: string): Partial<ReleaseSpecInput> {
  return {
    readinessPath: '/v1/models',
    verify: {
      protocol: 'openai', modelName: SERVED, endpoint: candidate, liveEndpoint: url.good, timeout: '30s',
      ignore: ['id', 'created'],
      requests: [
        {
          name: 'classify',
          messages: [{ role: 'system', content: 'Label the message spam or ham, as JSON.' }, { role: 'user', content: 'win a prize now' }],
          body: { response_format: { type: 'json_object', schema: MAY_SAY } }, maxTokens: 30,
          expected: { json: MUST_SAY, finishReason: 'stop' },
        },
        // Free text runs to the token limit (the model never picks its end token).
        { name: 'complete', prompt: 'hello world', maxTokens: 8, expected: { matches: '\\S', finishReason: 'length' } },
      ],
      latency: { requests: 6, concurrency: 1, ttftP95Ms: 1_000, itlP95Ms: 250 },
      // The golden prompts to the live model too: answers alike word by word (an LLM's differ a little run to run).
      shadow: { minAgreement: 1, similarity: 0.8 },
    },
    monitor: { window: '1s', interval: '1s', initialDelay: '0s', endpoint: candidate },
  };
}

describe('llama.cpp (llama-cpp-python 0.3.36) over the OpenAI API', () => {
  it('a correct model passes its golden prompts, whole and streamed, its structured answer\'s schema and the time to first token', async () => {
    const { run, status } = await w.releaseOver('llm-ok', spec(url.good), spec(url.good));
    expect(run.code, status?.reason).toBe(0);
    expect(status?.phase).toBe('Succeeded');
    expect(status?.verification?.checks.map((c) => [c.name, c.ok])).toEqual([
      ['preview endpoints', true], ['health', true], ['signature', true],
      ['request classify', true], ['request classify (streamed)', true],
      ['request complete', true], ['request complete (streamed)', true],
      ['latency', true], ['shadow agreement', true],
    ]);
    const checks = Object.fromEntries(status!.verification!.checks.map((c) => [c.name, c.detail]));
    expect(checks.signature).toBe(`compatible with the live model: inputs context TOKENS[-1]; outputs not declared`);
    expect(checks.latency).toMatch(/^ttft p95 \d+ ms <= 1000, itl p95 [\d.]+ ms <= 250 over 6 requests at concurrency 1$/);
    console.log(`llm server (llama.cpp) latency: ${checks.latency}`);
    expect(checks['shadow agreement']).toBe('2 of 2 outputs agree (texts 0.8 alike; 2 exactly): 100.0% >= 100.0%');
  });

  it('a candidate whose structured answer breaks the JSON Schema is refused, naming the request and the value', async () => {
    const { run, status } = await w.releaseOver('llm-schema', spec(url.good), spec(url.unsure));
    expect(run.code).not.toBe(0);
    expect(status?.phase).toBe('RolledBack');
    const classify = status?.verification?.checks.filter((c) => c.name.startsWith('request classify'));
    expect(classify?.map((c) => [c.name, c.ok, c.detail])).toEqual(['request classify', 'request classify (streamed)'].map((name) => [name, false,
      expect.stringMatching(/^the answer does not fit the JSON Schema: \/label must be equal to one of the allowed values \("spam", "ham"\): "\{ ?\\"label\\" ?: ?\\"unsure\\" ?\}"$/)]));
    expect(status?.reason).toMatch(/^verification failed: request classify: the answer does not fit the JSON Schema: \/label must be equal to one of the allowed values/);
    // Another model's words: nothing like the live model's.
    expect(status?.verification?.checks.find((c) => c.name === 'shadow agreement')).toMatchObject({ ok: false, detail: expect.stringMatching(/^0 of 2 outputs agree \(texts 0\.8 alike; 0 exactly\): 0\.0% < 100\.0%; first disagreements: classify text: similarity 0\.\d\d: /) });
  });

  it(`a candidate ${SLOW_MS} ms slow to its first token is refused by the time-to-first-token bound`, async () => {
    const { run, status } = await w.releaseOver('llm-slow', spec(url.good), spec(url.slow));
    expect(run.code).not.toBe(0);
    expect(status?.phase).toBe('RolledBack');
    const latency = status?.verification?.checks.find((c) => c.name === 'latency');
    expect(latency).toMatchObject({ ok: false, bound: 'ttft p95 <= 1000 ms', detail: expect.stringMatching(/^ttft p95 (1[5-9]\d\d|[2-9]\d{3}|\d{5,}) ms > 1000, itl p95 [\d.]+ ms <= 250 over 6 requests/) });
    // Its answers are the good model's: only the time failed.
    expect(status?.verification?.checks.filter((c) => c.name.startsWith('request')).every((c) => c.ok)).toBe(true);
    expect(status?.reason).toMatch(/^verification failed: latency: ttft p95 \d+ ms > 1000/);
  });

  it(`a candidate whose tokens come ${DRIP_MS} ms apart is refused by the inter-token bound`, async () => {
    const dripping = spec(url.drip);
    // Fewer requests: each streamed answer takes seconds through this link.
    const latency = { requests: 2, concurrency: 1, ttftP95Ms: 1_000, itlP95Ms: 250 };
    const { run, status } = await w.releaseOver('llm-drip', spec(url.good), { ...dripping, verify: { ...dripping.verify, latency } });
    expect(run.code).not.toBe(0);
    expect(status?.phase).toBe('RolledBack');
    expect(status?.verification?.checks.find((c) => c.name === 'latency')).toMatchObject({
      ok: false, bound: 'itl p95 <= 250 ms', detail: expect.stringMatching(/^ttft p95 \d+ ms <= 1000, itl p95 (3[5-9]\d|[4-9]\d\d|\d{4,})(\.\d)? ms > 250 over 2 requests/),
    });
    expect(status?.reason).toMatch(/^verification failed: latency: .*itl p95 [\d.]+ ms > 250/);
  });
});
