// What a failed request to a model server or Prometheus says: a long URL (a
// Prometheus query) is clipped on its own, so the reason it failed still shows.
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { getJson } from '../../src/activities/http.js';

describe('a failed request', () => {
  it('names the request, its long URL clipped, and why it failed', async () => {
    const query = `sum by (pod) (${'model_requests_in_flight{namespace="ml"} + '.repeat(10)}0)`;
    // A port just let go on loopback: nothing listens there, the connection is refused at once.
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    await new Promise((r) => server.close(r));
    const answer = await getJson(fetch, `http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(query)}`, { timeoutMs: 2_000 });
    expect(answer.ok).toBe(false);
    const error = answer.ok ? '' : answer.error;
    expect(error).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/api\/v1\/query\?query=sum%20by%20\(pod\)[^ ]*\.\.\. failed: /);
    expect(error).toMatch(/ECONNREFUSED|refused/);
  });
});
