// A fault-injecting proxy on loopback between the worker and the API server: plain
// HTTP in, the admin's TLS client certificate out. At a set rate it answers 500,
// 503 or 429 (Retry-After), resets the connection, answers slowly, or answers
// 409 to a write, and counts what it did.
import { createServer, type Server } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export type Fault = 'http500' | 'http503' | 'http429' | 'reset' | 'slow' | 'conflict409';
export const FAULTS: readonly Fault[] = ['http500', 'http503', 'http429', 'reset', 'slow', 'conflict409'];
const READ_FAULTS = FAULTS.filter((f) => f !== 'conflict409');

export interface FaultProxy {
  url: string;
  rate: number;
  /** when set, faults are drawn from these kinds only */
  only?: Fault[];
  requests: number;
  injected: Record<Fault, number>;
  close(): Promise<void>;
}

export async function startFaultProxy(admin: KubeConfig, rate: number, random: () => number = Math.random): Promise<FaultProxy> {
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error('the admin kubeconfig has no current cluster');
  const upstream = new URL(cluster.server);
  // CA and client certificate, from files or inline data, as the kubeconfig gives them.
  const tls: RequestOptions = {};
  await admin.applyToHTTPSOptions(tls);
  const proxy: FaultProxy = {
    url: '', rate, requests: 0,
    injected: Object.fromEntries(FAULTS.map((f) => [f, 0])) as Record<Fault, number>,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  let turn = 0;
  const server: Server = createServer((req, res) => {
    proxy.requests += 1;
    const write = req.method !== 'GET';
    // Faults take turns so each kind happens; writes get a 409 every other time,
    // as it is the answer a write most needs to survive.
    let fault: Fault | undefined;
    if (random() < proxy.rate) {
      const kinds = proxy.only ?? READ_FAULTS;
      fault = write && proxy.only === undefined && proxy.injected.conflict409 <= turn / 2 ? 'conflict409' : kinds[turn % kinds.length];
      turn += 1;
    }
    if (fault !== undefined) proxy.injected[fault] += 1;
    const status = (code: number, reason: string, headers: Record<string, string> = {}) => {
      res.writeHead(code, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: `injected fault: ${reason}`, reason, code }));
    };
    if (fault === 'http500') return status(500, 'InternalError');
    if (fault === 'http503') return status(503, 'ServiceUnavailable');
    if (fault === 'http429') return status(429, 'TooManyRequests', { 'retry-after': '1' });
    if (fault === 'conflict409') return status(409, 'Conflict');
    if (fault === 'reset') return req.socket.destroy();
    const forward = () => {
      const out = httpsRequest({
        host: upstream.hostname, port: upstream.port, path: req.url, method: req.method,
        ...tls, headers: { ...req.headers, host: upstream.host },
      }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      out.on('error', () => req.socket.destroy());
      req.pipe(out);
    };
    if (fault === 'slow') setTimeout(forward, 2_000);
    else forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  proxy.url = `http://127.0.0.1:${port}`;
  return proxy;
}
