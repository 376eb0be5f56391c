#!/usr/bin/env node
// A small Open Inference Protocol (v2) model server: a logistic-regression model
// read from a JSON file. Two model files answer differently, so a release from
// one to the other is visible in the answers.
//
//   node examples/model-server/server.mjs --model examples/model-server/models/fraud-v1.json --port 9001
//
// GET /v2/health/live, GET /v2/health/ready, GET /v2/models/{name}, GET /v2/models/{name}/ready,
// POST /v2/models/{name}/infer with one FP32 input of shape [rows, features].
// POST /admin/health {"ready": false} makes it report not ready (for trying analysis failures);
// --delay-ms slows every inference answer (for trying latency bounds and crashes mid-verification);
// --not-ready starts it reporting not ready (a candidate whose readiness probe never passes).
// In a container: MODEL_FILE, PORT and HOST stand in for --model, --port and --host.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: process.env.MODEL_FILE }, port: { type: 'string', default: process.env.PORT ?? '8080' },
    host: { type: 'string', default: process.env.HOST ?? '127.0.0.1' }, 'delay-ms': { type: 'string', default: '0' },
    'not-ready': { type: 'boolean', default: false },
  },
});
if (!args.model) {
  console.error('usage: server.mjs --model FILE [--port 8080] [--host 127.0.0.1] [--delay-ms 0] [--not-ready]');
  process.exit(2);
}
const model = JSON.parse(readFileSync(args.model, 'utf8'));
if (!Array.isArray(model.weights) || typeof model.bias !== 'number' || typeof model.name !== 'string') {
  console.error(`${args.model}: expected {"name", "version", "weights": [numbers], "bias": number}`);
  process.exit(2);
}
let ready = !args['not-ready'];

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
  const out = [];
  for (let r = 0; r < rows; r += 1) {
    let z = model.bias;
    for (let f = 0; f < features; f += 1) z += model.weights[f] * data[r * features + f];
    out.push(Number(sigmoid(z).toFixed(6)));
  }
  return [200, {
    model_name: model.name, model_version: model.version, id: body.id,
    outputs: [{ name: 'probability', shape: [rows, 1], datatype: 'FP32', data: out }],
  }];
}

function route(method, path, body) {
  if (method === 'GET' && path === '/v2/health/live') return [200, { live: true }];
  if (method === 'GET' && path === '/v2/health/ready') return ready ? [200, { ready: true }] : [503, { ready: false }];
  if (method === 'POST' && path === '/admin/health') { ready = body?.ready !== false; return [200, { ready }]; }
  const m = path.match(/^\/v2\/models\/([^/]+)(\/ready|\/infer)?$/);
  if (!m || decodeURIComponent(m[1]) !== model.name) return [404, { error: `no model at ${path}` }];
  if (method === 'GET' && m[2] === undefined) {
    return [200, { name: model.name, versions: [model.version], platform: 'bluegreen-example', inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, model.weights.length] }], outputs: [{ name: 'probability', datatype: 'FP32', shape: [-1, 1] }] }];
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
    const [status, payload] = body === null ? [400, { error: 'body is not JSON' }] : route(req.method ?? 'GET', path, body);
    setTimeout(() => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    }, path.endsWith('/infer') ? Number(args['delay-ms']) : 0);
  });
});
server.listen(Number(args.port), args.host, () => {
  console.log(`model server: ${model.name} ${model.version} on http://${args.host}:${server.address().port}`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
