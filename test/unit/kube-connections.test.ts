// Every API call of a worker goes through one connection pool per API server
// and credentials: @kubernetes/client-node 2.0 alone builds a new one (a new TLS
// connection) for each request.
import { KubeConfig, RequestContext, HttpMethod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { kubeFromConfig } from '../../src/activities/cluster.js';

const config = (server: string, token: string): KubeConfig => {
  const c = new KubeConfig();
  c.loadFromOptions({
    clusters: [{ name: 'c', server, skipTLSVerify: false, caData: Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64') }], users: [{ name: 'u', token }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x',
  });
  return c;
};
const dispatcherOf = async (c: KubeConfig) => {
  const ctx = new RequestContext('https://127.0.0.1:6443/api', HttpMethod.GET);
  await c.applySecurityAuthentication(ctx);
  return ctx.getDispatcher();
};

describe('connections to the API server', () => {
  it('are pooled: two requests of a worker share one dispatcher, which client-node alone does not', async () => {
    const plain = config('https://127.0.0.1:6443', 't');
    expect(await dispatcherOf(plain)).not.toBe(await dispatcherOf(plain));
    const worker = config('https://127.0.0.1:6443', 't');
    kubeFromConfig(worker);
    const first = await dispatcherOf(worker);
    expect(first).toBeDefined();
    expect(await dispatcherOf(worker)).toBe(first);
  });
});
