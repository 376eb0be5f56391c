#!/usr/bin/env node
// A small Open Inference Protocol (v2) model server: a logistic-regression model
// read from a JSON file. Two model files answer differently, so a release from
// one to the other is visible in the answers.
//
//   node examples/model-server/server.mjs --model examples/model-server/models/fraud-v1.json --port 9001
//
// GET /v2/health/live, GET /v2/health/ready, GET /v2/models/{name}, GET /v2/models/{name}/ready,
// POST /v2/models/{name}/infer with one FP32 input of shape [rows, features].
// GET /metrics: Prometheus metrics, requests by model, version and outcome and a latency histogram.
// The same model over the OpenAI API, as LLM servers (vLLM, TGI, llama.cpp) answer it: GET /v1/models,
// POST /v1/chat/completions and /v1/completions, streamed (SSE) when asked. A prompt holding a JSON
// array of the features is answered "The fraud probability is P."; anything else is echoed. One word is
// one token, TOKEN_MS apart (env, default 5): streamed one by one, or whole when the last is ready;
// max_tokens cuts the answer (finish_reason "length"); --delay-ms delays the first token.
// POST /admin/health {"ready": false} makes it report not ready (for trying analysis failures);
// --not-ready starts it reporting not ready (a candidate whose readiness probe never passes).
//
// Faults, to watch each check catch a bad model, at start or at run time
// (POST /admin/faults with any of {"delayMs", "errorRate", "outputShift", "inputName"}):
//   --delay-ms N       every inference answer N ms late (latency bounds, crashes mid-verification)
//   --error-rate R     a fraction R (0 to 1) of inferences answer HTTP 500
//   --output-shift X   X added to every output (wrong answers, shadow disagreement)
//   --input-name NAME  the signature names the input NAME instead of "features" (a breaking change;
//                      inference still reads the first input, whatever its name)
//
// --api-key KEY (API_KEY): model routes answer HTTP 401 unless the request carries
// `Authorization: Bearer KEY`, as vLLM's --api-key does; health and metrics stay open.
//
// SIGTERM (a pod told to stop) is a graceful stop, as a server needs for zero failed requests:
// it keeps answering what is in flight (streams too), answers every request from then on with
// `Connection: close` (a keep-alive client reconnects, through the Service, to a pod that stays),
// closes idle connections after a second, and exits once no request is in flight and no
// connection is open. GET /metrics shows model_requests_in_flight throughout.
// In a container: MODEL_FILE, PORT, HOST, DELAY_MS, ERROR_RATE, OUTPUT_SHIFT, INPUT_NAME and API_KEY stand in for the flags.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: process.env.MODEL_FILE }, port: { type: 'string', default: process.env.PORT ?? '8080' },
    host: { type: 'string', default: process.env.HOST ?? '127.0.0.1' }, 'delay-ms': { type: 'string', default: process.env.DELAY_MS ?? '0' },
    'error-rate': { type: 'string', default: process.env.ERROR_RATE ?? '0' }, 'output-shift': { type: 'string', default: process.env.OUTPUT_SHIFT ?? '0' },
    'input-name': { type: 'string', default: process.env.INPUT_NAME ?? 'features' }, 'not-ready': { type: 'boolean', default: false },
    'api-key': { type: 'string', default: process.env.API_KEY },
  },
});
if (!args.model) {
  console.error('usage: server.mjs --model FILE [--port 8080] [--host 127.0.0.1] [--delay-ms 0] [--error-rate 0] [--output-shift 0] [--input-name features] [--not-ready] [--api-key KEY]');
  process.exit(2);
}
const model = JSON.parse(readFileSync(args.model, 'utf8'));
if (!Array.isArray(model.weights) || typeof model.bias !== 'number' || typeof model.name !== 'string') {
  console.error(`${args.model}: expected {"name", "version", "weights": [numbers], "bias": number}`);
  process.exit(2);
}
let ready = !args['not-ready'];
const faults = {
  delayMs: Number(args['delay-ms']), errorRate: Number(args['error-rate']), outputShift: Number(args['output-shift']), inputName: args['input-name'],
};

// Prometheus text format: requests by outcome, and a latency histogram.
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const requests = new Map();
const latency = { buckets: BUCKETS.map(() => 0), sum: 0, count: 0 };
function observe(outcome, seconds) {
  requests.set(outcome, (requests.get(outcome) ?? 0) + 1);
  BUCKETS.forEach((le, i) => { if (seconds <= le) latency.buckets[i] += 1; });
  latency.sum += seconds;
  latency.count += 1;
}
let inFlight = 0;
function metricsText() {
  const labels = `model="${model.name}",version="${model.version}"`;
  const lines = ['# HELP model_requests_in_flight Inference requests being answered (streams until their last event).', '# TYPE model_requests_in_flight gauge'];
  lines.push(`model_requests_in_flight{${labels}} ${inFlight}`);
  lines.push('# HELP model_requests_total Inference requests by outcome.', '# TYPE model_requests_total counter');
  for (const outcome of ['success', 'error']) lines.push(`model_requests_total{${labels},outcome="${outcome}"} ${requests.get(outcome) ?? 0}`);
  lines.push('# HELP model_request_duration_seconds Inference latency.', '# TYPE model_request_duration_seconds histogram');
  BUCKETS.forEach((le, i) => lines.push(`model_request_duration_seconds_bucket{${labels},le="${le}"} ${latency.buckets[i]}`));
  lines.push(`model_request_duration_seconds_bucket{${labels},le="+Inf"} ${latency.count}`);
  lines.push(`model_request_duration_seconds_sum{${labels}} ${latency.sum}`, `model_request_duration_seconds_count{${labels}} ${latency.count}`);
  return `${lines.join('\n')}\n`;
}

const sigmoid = (z) => 1 / (1 + Math.exp(-z));

function infer(body) {
  const input = body?.inputs?.[0];
  const features = model.weights.length;
  if (!input || input.datatype !== 'FP32' || !Array.isArray(input.data) || input.shape?.length !== 2 || input.shape[1] !== features) {
    return [400, { error: `expected one FP32 input of shape [rows, ${features}]` }];
  }
  const [rows] = input.shape;
  const data = input.data.flat(Infinity);
  if (data.length !== rows * features || data.some((v) => typeof v !== 'number')) return [400, { error: 'data does not match shape' }];
  if (faults.errorRate > 0 && Math.random() < faults.errorRate) return [500, { error: 'injected fault (error rate)' }];
  const out = [];
  for (let r = 0; r < rows; r += 1) {
    let z = model.bias;
    for (let f = 0; f < features; f += 1) z += model.weights[f] * data[r * features + f];
    out.push(Number((sigmoid(z) + faults.outputShift).toFixed(6)));
  }
  return [200, {
    model_name: model.name, model_version: model.version, id: body.id,
    outputs: [{ name: 'probability', shape: [rows, 1], datatype: 'FP32', data: out }],
  }];
}

/** The model's answer to a prompt, as an LLM server would give it: words, each one token. */
function completion(prompt) {
  const features = prompt.match(/\[[-\d.,\s]+\]/)?.[0];
  const row = features === undefined ? undefined : JSON.parse(features);
  if (Array.isArray(row) && row.length === model.weights.length) {
    const z = row.reduce((acc, v, f) => acc + model.weights[f] * v, model.bias);
    return `The fraud probability is ${Number((sigmoid(z) + faults.outputShift).toFixed(6))}.`;
  }
  return `${model.name} ${model.version} heard: ${prompt}`;
}

let completions = 0;
/** An OpenAI-API request: [status, payload, ms to generate it] to answer whole, or { stream: [chunks], answer } to stream. */
function openAi(path, body) {
  const chat = path === '/v1/chat/completions';
  if (body?.model !== model.name) return [404, { error: { message: `The model \`${body?.model}\` does not exist.`, type: 'NotFoundError', code: 404 } }];
  const prompt = chat ? body.messages?.filter((m) => m.role === 'user').at(-1)?.content : body.prompt;
  if (typeof prompt !== 'string') return [400, { error: { message: chat ? 'messages must hold a user message' : 'prompt must be a string', type: 'BadRequestError', code: 400 } }];
  if (faults.errorRate > 0 && Math.random() < faults.errorRate) return [500, { error: { message: 'injected fault (error rate)', type: 'InternalServerError', code: 500 } }];
  const words = completion(prompt).split(' ');
  const limit = Number.isInteger(body.max_tokens) ? body.max_tokens : words.length;
  const tokens = words.slice(0, limit);
  const finish = tokens.length < words.length ? 'length' : 'stop';
  completions += 1;
  const head = { id: `${chat ? 'chatcmpl' : 'cmpl'}-${completions}`, created: Math.floor(Date.now() / 1000), model: model.name };
  const choice = (text, finishReason) => (chat ? { index: 0, [body.stream ? 'delta' : 'message']: { role: 'assistant', content: text }, finish_reason: finishReason } : { index: 0, text, finish_reason: finishReason });
  if (body.stream) {
    const object = chat ? 'chat.completion.chunk' : 'text_completion';
    return { stream: [...tokens.map((t, i) => ({ ...head, object, choices: [choice(i === 0 ? t : ` ${t}`, null)] })), { ...head, object, choices: [choice('', finish)] }] };
  }
  const usage = { prompt_tokens: prompt.split(' ').length, completion_tokens: tokens.length, total_tokens: prompt.split(' ').length + tokens.length };
  // Whole, it comes when its last token would have streamed: a long answer is a slow request.
  return [200, { ...head, object: chat ? 'chat.completion' : 'text_completion', choices: [choice(tokens.join(' '), finish)], usage }, tokens.length * TOKEN_MS];
}

function route(method, path, body) {
  if (method === 'GET' && path === '/v1/models') return [200, { object: 'list', data: [{ id: model.name, object: 'model', owned_by: 'bluegreen-example', max_model_len: 4096 }] }];
  if (method === 'POST' && (path === '/v1/chat/completions' || path === '/v1/completions')) return openAi(path, body);
  if (method === 'GET' && path === '/v2/health/live') return [200, { live: true }];
  if (method === 'GET' && path === '/v2/health/ready') return ready ? [200, { ready: true }] : [503, { ready: false }];
  if (method === 'POST' && path === '/admin/health') { ready = body?.ready !== false; return [200, { ready }]; }
  if (method === 'POST' && path === '/admin/faults') {
    for (const key of Object.keys(faults)) if (body?.[key] !== undefined) faults[key] = key === 'inputName' ? String(body[key]) : Number(body[key]);
    return [200, faults];
  }
  const m = path.match(/^\/v2\/models\/([^/]+)(\/ready|\/infer)?$/);
  if (!m || decodeURIComponent(m[1]) !== model.name) return [404, { error: `no model at ${path}` }];
  if (method === 'GET' && m[2] === undefined) {
    return [200, { name: model.name, versions: [model.version], platform: 'bluegreen-example', inputs: [{ name: faults.inputName, datatype: 'FP32', shape: [-1, model.weights.length] }], outputs: [{ name: 'probability', datatype: 'FP32', shape: [-1, 1] }] }];
  }
  if (method === 'GET' && m[2] === '/ready') return ready ? [200, { ready: true }] : [503, { ready: false }];
  if (method === 'POST' && m[2] === '/infer') return infer(body);
  return [405, { error: `${method} not allowed on ${path}` }];
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body;
    try {
      body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
    } catch {
      body = null;
    }
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method === 'GET' && path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', ...(stopping ? { connection: 'close' } : {}) });
      return res.end(metricsText());
    }
    const started = performance.now();
    const unauthorized = args['api-key'] !== undefined && /^\/(v2\/models|v1\/)/.test(path) && req.headers.authorization !== `Bearer ${args['api-key']}`;
    const answer = unauthorized ? [401, { error: 'missing or wrong API key (Authorization: Bearer KEY)' }]
      : body === null ? [400, { error: 'body is not JSON' }] : route(req.method ?? 'GET', path, body);
    const inference = path.endsWith('/infer') || path.endsWith('completions');
    if (inference) {
      inFlight += 1;
      res.on('close', () => { inFlight -= 1; });
    }
    if (!Array.isArray(answer)) return stream(res, answer.stream, started);
    const [status, payload, generateMs = 0] = answer;
    setTimeout(() => {
      res.writeHead(status, { 'content-type': 'application/json', ...(stopping ? { connection: 'close' } : {}) });
      res.end(JSON.stringify(payload));
      if (inference) observe(status < 400 ? 'success' : 'error', (performance.now() - started) / 1000);
    }, inference ? faults.delayMs + generateMs : 0);
  });
});
/** Server-sent events, one chunk per token: the first after --delay-ms, the rest TOKEN_MS apart. */
function stream(res, chunks, started) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...(stopping ? { connection: 'close' } : {}) });
  const { socket } = res;
  const send = (i) => {
    if (res.destroyed) return;
    if (i === chunks.length) {
      res.end('data: [DONE]\n\n');
      // Begun before the stop, so its headers kept the connection alive: it closes after its last event.
      if (stopping) socket?.end();
      observe('success', (performance.now() - started) / 1000);
      return;
    }
    res.write(`data: ${JSON.stringify(chunks[i])}\n\n`);
    setTimeout(() => send(i + 1), TOKEN_MS);
  };
  setTimeout(() => send(0), faults.delayMs);
}
const TOKEN_MS = Number(process.env.TOKEN_MS ?? 5);

server.listen(Number(args.port), args.host, () => {
  console.log(`model server: ${model.name} ${model.version} on http://${args.host}:${server.address().port}`);
});
// The graceful stop (see the top).
let stopping = false;
let open = 0;
server.on('connection', (socket) => {
  open += 1;
  socket.on('close', () => { open -= 1; });
});
function stop() {
  if (stopping) return;
  stopping = true;
  ready = false;
  console.log(`model server: stopping, ${inFlight} requests in flight, ${open} connections open`);
  let idleFor = 0;
  const check = setInterval(() => {
    idleFor += 100;
    // A busy keep-alive client has had its `Connection: close` by now; what is left idle is closed.
    if (idleFor >= 1_000) server.closeIdleConnections();
    if (inFlight > 0 || open > 0) return;
    clearInterval(check);
    server.close(() => process.exit(0));
  }, 100);
}
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, stop);
