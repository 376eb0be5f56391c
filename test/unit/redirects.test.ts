// Verification never follows a redirect: a candidate that answers 3xx cannot
// send the worker to a host outside the endpoint allowlist.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeModel } from '../../src/activities/model-checks.js';
import { validateSpec } from '../../src/release/validate.js';

let outside: Server;
let candidate: Server;
let outsideHits = 0;
const urlOf = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
const listen = (s: Server) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));

beforeAll(async () => {
  outside = createServer((_req, res) => { outsideHits += 1; res.end('{"outputs":[{"name":"y","data":[0.5]}]}'); });
  await listen(outside);
  candidate = createServer((req, res) => {
    res.writeHead(req.url === '/v2/health/ready' ? 200 : 307, { location: `${urlOf(outside)}${req.url}` });
    res.end();
  });
  await listen(candidate);
});
afterAll(() => { outside?.close(); candidate?.close(); });

describe('redirects', () => {
  it('are refused, named, and never followed', async () => {
    const spec = validateSpec({
      model: 'fraud', version: 'v2', image: 'x:1',
      verify: { requests: [{ name: 'row', inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }], expected: { y: [0.5] } }] },
    });
    const checks = await probeModel(spec, { fetch, endpoint: urlOf(candidate) });
    expect(checks[0]).toMatchObject({ name: 'health', ok: true });
    expect(checks[1]).toMatchObject({ name: 'request row', ok: false });
    expect(checks[1]?.detail).toContain(`answered HTTP 307 redirecting to ${urlOf(outside)}/v2/models/fraud/infer; redirects are not followed`);
    expect(outsideHits).toBe(0);
  });
});
