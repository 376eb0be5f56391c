// Every long step has a bound derived from its work, and a cancelled step stops
// its requests: a timed-out attempt never overlaps the next one's.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../src/activities/index.js';
import { MAX_VERIFICATION_MS, monitorBoundMs, verificationBoundMs } from '../../src/release/bounds.js';
import { InvalidSpecError, validateSpec } from '../../src/release/validate.js';

const tensor = { name: 'x', shape: [1], datatype: 'FP32', data: [1] };
const golden = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `r${i}`, inputs: [tensor], expected: { y: [0.5] } }));

describe('step bounds', () => {
  it('give an LLM verification the time its checks need, where a fixed 10 minutes cut it short for ever', () => {
    // 20 golden requests, 100 latency requests one at a time, 20 recorded inputs: 3-5 s an answer.
    const spec = validateSpec({
      model: 'llm', version: 'v2', image: 'x:1',
      verify: { requests: golden(20), latency: { requests: 100, concurrency: 1, p95Ms: 6000 }, shadow: { minAgreement: 0.8, inputs: golden(20).map(({ inputs }) => ({ inputs })) } },
    });
    const bound = verificationBoundMs(spec);
    expect(bound).toBeGreaterThan(162 * 5_000); // every request at 5 s fits
    expect(bound).toBeGreaterThan(10 * 60_000);
    expect(bound).toBeLessThanOrEqual(MAX_VERIFICATION_MS);
    expect(monitorBoundMs(spec)).toBeGreaterThan(5 * 60_000 + 20 * 10_000);
  });

  it('count a golden prompt sent whole and streamed (protocol openai) twice, at the spec\'s request timeout', () => {
    const prompts = (n: number, stream?: boolean) => Array.from({ length: n }, (_, i) => ({ name: `p${i}`, prompt: 'hi', stream, expected: { contains: 'x' } }));
    const both = validateSpec({ model: 'llm', version: 'v2', image: 'x:1', verify: { protocol: 'openai', timeout: '1m', requests: prompts(3) } });
    const once = validateSpec({ model: 'llm', version: 'v2', image: 'x:1', verify: { protocol: 'openai', timeout: '1m', requests: prompts(3, true) } });
    expect(verificationBoundMs(both) - verificationBoundMs(once)).toBe(3 * 60_000);
    expect(monitorBoundMs(both) - monitorBoundMs(once)).toBe(3 * 60_000);
  });

  it('refuse a spec whose checks cannot fit in the most verification may take, naming the field', () => {
    const input = { model: 'llm', version: 'v2', image: 'x:1', verify: { requests: golden(1), latency: { requests: 10_000, concurrency: 1, p95Ms: 100 } } };
    expect(() => validateSpec(input)).toThrow(InvalidSpecError);
    expect(() => validateSpec(input)).toThrow(/verify: its checks may need up to \d+ minutes \(each request may take 10s\), more than the 60 minutes verification may take: send fewer requests, raise latency.concurrency, or lower verify.timeout/);
  });
});

describe('a cancelled step', () => {
  it('stops its requests at once, not at their timeout', async () => {
    let closedAfter: number | undefined;
    let received: number | undefined;
    const hanging = createServer((req: IncomingMessage) => {
      received = Date.now();
      req.socket.on('close', () => { closedAfter = Date.now() - received!; });
    });
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`;
      const spec = validateSpec({ model: 'hung', version: 'v2', image: 'x:1', monitor: { window: '1m', initialDelay: '0s', endpoint }, verify: { requests: golden(1) } });
      const acts = createActivities({ kube: {} as never, allowedEndpointHosts: ['127.0.0.1'] });
      const env = new MockActivityEnvironment();
      const running = env.run(acts.monitor, { spec, port: 8080, argoFailureLimit: true });
      for (let i = 0; i < 100 && received === undefined; i += 1) await new Promise((r) => setTimeout(r, 20));
      env.cancel();
      await expect(running).rejects.toThrow();
      for (let i = 0; i < 100 && closedAfter === undefined; i += 1) await new Promise((r) => setTimeout(r, 20));
      expect(closedAfter).toBeLessThan(2_000);
    } finally {
      hanging.closeAllConnections();
      hanging.close();
    }
  }, 20_000);
});
