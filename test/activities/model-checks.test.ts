// Model verification against real HTTP servers on loopback, for the cases the
// example model server does not show: the plain-HTTP protocol, partial shadow
// agreement, a live model that answers some inputs only, a live model without
// metadata, and an answer whose outputs do not fit the model's own signature.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyModel } from '../../src/activities/model-checks.js';
import type { ReleaseSpecInput } from '../../src/release/spec.js';
import { validateSpec } from '../../src/release/validate.js';
import { startModelServer } from '../e2e/processes.js';

const servers: Server[] = [];
afterAll(() => { for (const s of servers) s.close(); });

type Handler = (path: string, body: unknown) => [number, unknown];

/** An HTTP server on loopback answering JSON by `handler`; its base URL. */
async function serve(handler: Handler): Promise<string> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown : undefined;
      const [status, answer] = req.url === '/v2/health/ready' ? [200, { ready: true }] : handler(req.url ?? '/', body);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

const spec = (verify: NonNullable<ReleaseSpecInput['verify']>) => validateSpec({ model: 'scorer', version: 'v2', image: 'x:1', verify });
const byName = <C extends { name: string }>(checks: C[], name: string): C | undefined => checks.find((c) => c.name === name);

describe('verifying a model over plain HTTP', () => {
  // A scorer that labels amounts; the candidate disagrees on large ones.
  const label = (amount: number, threshold: number) => ({ label: amount > threshold ? 'review' : 'ok', score: Math.round(amount / 10) / 100 });
  const scorer = (threshold: number): Handler => (path, body) => {
    if (path !== '/predict') return [404, { error: path }];
    const amount = (body as { amount: number }).amount;
    if (amount < 0) return [422, { error: 'negative amount' }];
    return [200, label(amount, threshold)];
  };

  it('reports the agreement rate over the answers the live model gave, with the first disagreements', async () => {
    const [live, candidate] = await Promise.all([serve(scorer(100)), serve(scorer(500))]);
    const checks = await verifyModel(spec({
      protocol: 'http', path: '/predict',
      requests: [{ name: 'small', body: { amount: 10 }, expected: { label: 'ok' } }],
      latency: { requests: 20, concurrency: 2, p95Ms: 1000 },
      shadow: { minAgreement: 0.5, tolerance: 0.001, inputs: [{ name: 'large', body: { amount: 300 } }, { name: 'huge', body: { amount: 900 } }, { name: 'bad', body: { amount: -1 } }] },
    }), { fetch, endpoint: candidate, liveEndpoint: live });
    expect(checks.map((c) => [c.name, c.ok])).toEqual([['health', true], ['request small', true], ['latency', true], ['shadow agreement', true]]);
    expect(byName(checks, 'shadow agreement')).toMatchObject({
      value: 0.6667, bound: '>= 0.5',
      detail: '2 of 3 outputs agree: 66.7% >= 50.0% (1 inputs the live model did not answer are left out); first disagreements: large answer: live {"label":"review","score":0.3}, candidate {"label":"ok","score":0.3}',
    });
    expect(byName(checks, 'latency')?.detail).toMatch(/^p95 \d+ ms <= 1000 over 20 requests at concurrency 2$/);
  });

  it('fails the latency check when requests fail, saying how many', async () => {
    const failing = await serve(() => [500, { error: 'overloaded' }]);
    const checks = await verifyModel(spec({
      protocol: 'http', requests: [{ body: { amount: 1 }, expected: {} }], latency: { requests: 5, concurrency: 5, p50Ms: 1000 },
    }), { fetch, endpoint: failing });
    expect(byName(checks, 'latency')).toMatchObject({ ok: false, detail: expect.stringMatching(/^5 of 5 requests failed over 5 requests at concurrency 5; first: POST http:\/\/127\.0\.0\.1:\d+\/predict answered HTTP 500/) });
  });
});

describe('verifying a model over the Open Inference Protocol', () => {
  const metadata = { name: 'scorer', inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 2] }], outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 1] }] };
  const model = (answer: object, meta: object | null = metadata): Handler => (path) => {
    if (path === '/v2/models/scorer') return meta === null ? [404, { error: 'no metadata here' }] : [200, meta];
    return [200, { outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 1], data: [0.5], ...answer }] }];
  };
  const verify = { requests: [{ name: 'one', inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32' as const, data: [1, 2] }], expected: { y: [0.5] } }] };

  it('a live model without metadata fails the signature check with what to do, unless changes are allowed', async () => {
    const [live, candidate] = await Promise.all([serve(model({}, null)), serve(model({}))]);
    const refused = await verifyModel(spec(verify), { fetch, endpoint: candidate, liveEndpoint: live });
    expect(byName(refused, 'signature')).toMatchObject({ ok: false, detail: expect.stringMatching(/^the live model metadata could not be read: GET .* answered HTTP 404: .*; set verify\.liveEndpoint, or verify\.allowSignatureChange: true/) });
    const allowed = await verifyModel(spec({ ...verify, allowSignatureChange: true }), { fetch, endpoint: candidate, liveEndpoint: live });
    expect(byName(allowed, 'signature')).toMatchObject({ ok: true, detail: expect.stringMatching(/^not compared \(allowSignatureChange\): the live model metadata could not be read/) });
  });

  it('an answer whose output does not fit the model\'s own signature fails the golden request, though its values match', async () => {
    const candidate = await serve(model({ shape: [1] }));
    const checks = await verifyModel(spec(verify), { fetch, endpoint: candidate });
    expect(byName(checks, 'request one')).toMatchObject({ ok: false, detail: 'output y: shape [1] does not fit the signature\'s [-1,1]' });
    // No live model (a first release): no signature comparison at all.
    expect(byName(checks, 'signature')).toBeUndefined();
  });
});

describe('requests as servers need them', () => {
  const fraudRequest = { name: 'one', inputs: [{ name: 'features', shape: [1, 3], datatype: 'FP32' as const, data: [0.5, 0.1, 0.2] }], expected: { probability: [0.5] }, tolerance: 1 };
  const fraud = (verify: Partial<NonNullable<ReleaseSpecInput['verify']>>) => validateSpec({ model: 'fraud', version: 'v2', image: 'x:1', verify: { requests: [fraudRequest], ...verify } });

  it('verify.headers reach every request: a server that wants an API key answers 401 without it and passes with it', async () => {
    const server = await startModelServer('examples/model-server/models/fraud-v1.json', 0, ['--api-key', 'k3y']);
    try {
      const without = await verifyModel(fraud({}), { fetch, endpoint: server.url });
      // The model's metadata is the first request that needs the key.
      expect(without.map((c) => [c.name, c.ok])).toEqual([['health', true], ['signature', false]]);
      expect(byName(without, 'signature')?.detail).toMatch(/answered HTTP 401: .*missing or wrong API key/);
      // The headers' values as the activity hands them in (a Secret's read by the worker).
      const headers = { Authorization: 'Bearer k3y' };
      const checks = await verifyModel(fraud({ latency: { requests: 4, concurrency: 2, p95Ms: 5_000 } }), { fetch, endpoint: server.url, liveEndpoint: server.url, headers });
      expect(checks.map((c) => [c.name, c.ok])).toEqual([['health', true], ['signature', true], ['request one', true], ['latency', true]]);
    } finally {
      server.stop();
    }
  });

  it('verify.timeout bounds each request, and the failure says so', async () => {
    const slow = await startModelServer('examples/model-server/models/fraud-v1.json', 1_500);
    try {
      const cut = await verifyModel(fraud({ timeout: '300ms' }), { fetch, endpoint: slow.url });
      expect(byName(cut, 'request one')).toMatchObject({ ok: false, detail: expect.stringMatching(/^POST http:\S+\/infer failed: no answer within 0\.3s$/) });
      const waited = await verifyModel(fraud({ timeout: '5s' }), { fetch, endpoint: slow.url });
      expect(byName(waited, 'request one')).toMatchObject({ ok: true });
    } finally {
      slow.stop();
    }
  });

  it('raw bytes with their content type, PUT as TorchServe\'s documented `curl -T kitten.jpg` sends them, and its JSON answer compared', async () => {
    // A JPEG's first bytes: not text, not JSON.
    const image = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x80, 0xfe]);
    const got: { method?: string; type?: string; bytes?: Buffer }[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url === '/ping') return void res.end('{"status":"Healthy"}');
        got.push({ method: req.method, type: req.headers['content-type'], bytes: Buffer.concat(chunks) });
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ tabby: 0.4101, tiger_cat: 0.3466 }));
      });
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const torchserve = (expected: object) => validateSpec({
      model: 'resnet', version: 'v2', image: 'x:1', readinessPath: '/ping',
      verify: { protocol: 'http', path: '/predictions/resnet-18', requests: [{ name: 'kitten', method: 'PUT', bodyBase64: image.toString('base64'), contentType: 'image/jpeg', expected, tolerance: 0.001 }] },
    });
    const passed = await verifyModel(torchserve({ tabby: 0.41, tiger_cat: 0.347 }), { fetch, endpoint: url });
    expect(passed.map((c) => [c.name, c.ok])).toEqual([['health', true], ['request kitten', true]]);
    expect(got[0]).toEqual({ method: 'PUT', type: 'image/jpeg', bytes: image });
    const wrong = await verifyModel(torchserve({ tabby: 0.9 }), { fetch, endpoint: url });
    expect(byName(wrong, 'request kitten')).toMatchObject({ ok: false, detail: expect.stringMatching(/^tabby: expected 0\.9 ± 0\.001, got 0\.4101/) });
  });

  it('verify.ignore leaves out what differs in every answer, so shadow agreement can compare the rest', async () => {
    let n = 0;
    // An OpenAI-shaped answer: an id and a time of its own each time, the same text.
    const answering: Handler = () => [200, { id: `cmpl-${n += 1}`, created: Date.now() + n, choices: [{ index: 0, text: 'ok' }], usage: { total_tokens: n } }];
    const [live, candidate] = await Promise.all([serve(answering), serve(answering)]);
    const base = { protocol: 'http' as const, path: '/v1/completions', requests: [{ name: 'hello', body: { prompt: 'hi' }, expected: { choices: [{ text: 'ok' }] } }], shadow: { minAgreement: 1 } };
    const strict = await verifyModel(validateSpec({ model: 'llm', version: 'v2', image: 'x:1', verify: base }), { fetch, endpoint: candidate, liveEndpoint: live });
    expect(byName(strict, 'shadow agreement')).toMatchObject({ ok: false, detail: expect.stringMatching(/^0 of 1 outputs agree/) });
    const tolerant = await verifyModel(validateSpec({ model: 'llm', version: 'v2', image: 'x:1', verify: { ...base, ignore: ['id', 'created', 'usage'] } }), { fetch, endpoint: candidate, liveEndpoint: live });
    expect(byName(tolerant, 'shadow agreement')).toMatchObject({ ok: true, detail: expect.stringMatching(/^1 of 1 outputs agree/) });
    expect(byName(tolerant, 'request hello')).toMatchObject({ ok: true });
  });
});

describe('verifying an LLM server over the OpenAI API (the example server speaks it)', () => {
  const llm = (verify: Partial<NonNullable<ReleaseSpecInput['verify']>>) => validateSpec({
    model: 'fraud', version: 'v2', image: 'x:1',
    verify: {
      protocol: 'openai',
      requests: [
        { name: 'score', messages: [{ role: 'system', content: 'You score card payments.' }, { role: 'user', content: 'Score [1, 2, 3]' }], expected: { contains: '0.731059', finishReason: 'stop' } },
        { name: 'echo', prompt: 'say hello to the new model', maxTokens: 3, expected: { matches: '^fraud v2 heard:$', finishReason: 'length' } },
      ],
      ...verify,
    },
  });

  it('a correct model passes every golden prompt, whole and streamed, the served model and its context, and the time to first token', async () => {
    const [v1, v2] = await Promise.all([startModelServer('examples/model-server/models/fraud-v1.json'), startModelServer('examples/model-server/models/fraud-v2.json', 100)]);
    try {
      const checks = await verifyModel(llm({ latency: { requests: 6, concurrency: 2, p95Ms: 5_000, ttftP95Ms: 2_000 } }), { fetch, endpoint: v2.url, liveEndpoint: v1.url });
      expect(checks.map((c) => [c.name, c.ok, c.detail])).toEqual([
        ['health', true, expect.any(String)],
        ['signature', true, 'compatible with the live model: inputs context TOKENS[4096]; outputs not declared'],
        ['request score', true, expect.stringMatching(/^matched in \d+ ms$/)],
        ['request score (streamed)', true, expect.stringMatching(/^matched in \d+ ms$/)],
        ['request echo', true, expect.any(String)],
        ['request echo (streamed)', true, expect.any(String)],
        ['latency', true, expect.stringMatching(/^p95 \d+ ms <= 5000, ttft p95 (1\d\d|[2-9]\d\d|1\d\d\d) ms <= 2000 over 6 requests at concurrency 2$/)],
      ]);
    } finally {
      v1.stop();
      v2.stop();
    }
  });

  it('shadow agreement on texts: exact, or alike enough word by word (shadow.similarity), with both rates in the figure', async () => {
    const [v1, v2] = await Promise.all([startModelServer('examples/model-server/models/fraud-v1.json'), startModelServer('examples/model-server/models/fraud-v2.json')]);
    try {
      // "fraud v1 heard:" against "fraud v2 heard:": one word of three differs.
      const echo = { requests: [{ name: 'echo', prompt: 'say hello to the new model', maxTokens: 3, expected: { finishReason: 'length' as const } }] };
      const exact = await verifyModel(llm({ ...echo, shadow: { minAgreement: 1 } }), { fetch, endpoint: v2.url, liveEndpoint: v1.url });
      expect(byName(exact, 'shadow agreement')).toMatchObject({ ok: false, value: 0, detail: '0 of 1 outputs agree: 0.0% < 100.0%; first disagreements: echo text: live "fraud v1 heard:", candidate "fraud v2 heard:"' });
      const alike = await verifyModel(llm({ ...echo, shadow: { minAgreement: 1, similarity: 0.6 } }), { fetch, endpoint: v2.url, liveEndpoint: v1.url });
      expect(byName(alike, 'shadow agreement')).toMatchObject({ ok: true, value: 1, detail: '1 of 1 outputs agree (texts 0.6 alike; 0 exactly): 100.0% >= 100.0%' });
      const strict = await verifyModel(llm({ ...echo, shadow: { minAgreement: 1, similarity: 0.9 } }), { fetch, endpoint: v2.url, liveEndpoint: v1.url });
      expect(byName(strict, 'shadow agreement')?.detail).toBe('0 of 1 outputs agree (texts 0.9 alike; 0 exactly): 0.0% < 100.0%; first disagreements: echo text: similarity 0.67: live "fraud v1 heard:", candidate "fraud v2 heard:"');
    } finally {
      v1.stop();
      v2.stop();
    }
  });

  it('a wrong answer, a late first token, or a model the server does not serve is refused, naming the check', async () => {
    const slow = await startModelServer('examples/model-server/models/fraud-v1.json', 400);
    try {
      const checks = await verifyModel(llm({ latency: { requests: 4, concurrency: 2, ttftP95Ms: 200 } }), { fetch, endpoint: slow.url });
      expect(byName(checks, 'request score')).toMatchObject({ ok: false, detail: 'the answer does not contain "0.731059": "The fraud probability is 0.562177."' });
      expect(byName(checks, 'request score (streamed)')).toMatchObject({ ok: false, detail: 'the answer does not contain "0.731059": "The fraud probability is 0.562177."' });
      expect(byName(checks, 'request echo')).toMatchObject({ ok: false, detail: 'the answer does not match /^fraud v2 heard:$/: "fraud v1 heard:"' });
      expect(byName(checks, 'latency')).toMatchObject({ ok: false, bound: 'ttft p95 <= 200 ms', detail: expect.stringMatching(/^ttft p95 (4\d\d|[5-9]\d\d|\d{4,}) ms > 200 over 4 requests/) });
      const other = await verifyModel(validateSpec({ ...llm({}), verify: { ...llm({}).verify, modelName: 'llama-3' } }), { fetch, endpoint: slow.url });
      expect(other.map((c) => [c.name, c.ok])).toEqual([['health', true], ['signature', false]]);
      expect(byName(other, 'signature')?.detail).toBe('the candidate\'s server serves no model named "llama-3" (it serves fraud)');
    } finally {
      slow.stop();
    }
  });
});
