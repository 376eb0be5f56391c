// Sends inference requests through a Service's ClusterIP all through a release,
// each on a new connection (as a new client would), and counts failed requests
// and which model version answered. Bounded: at most one request in flight,
// `everyMs` apart, until stopped. Runs inside the test run's network namespace.
import { request } from 'node:http';

export interface TrafficReport {
  sent: number;
  failed: number;
  /** answers per model version */
  versions: Record<string, number>;
  /** the versions in the order they answered, runs collapsed: v1, v2, v1 ... (an answer from the wrong version shows as an extra run) */
  sequence: string[];
  examples: string[];
}

const BODY = JSON.stringify({ inputs: [{ name: 'features', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] });

function infer(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({
      host, port, method: 'POST', path: '/v2/models/fraud/infer', agent: false, timeout: 5_000,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY), connection: 'close' },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}`));
        try {
          resolve(String((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { model_version?: string }).model_version));
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out after 5s')));
    req.on('error', reject);
    req.end(BODY);
  });
}

export function watchTraffic(host: string, port: number, everyMs = 10) {
  const report: TrafficReport = { sent: 0, failed: 0, versions: {}, sequence: [], examples: [] };
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = Date.now();
      report.sent += 1;
      try {
        const version = await infer(host, port);
        report.versions[version] = (report.versions[version] ?? 0) + 1;
        if (report.sequence.at(-1) !== version) report.sequence.push(version);
      } catch (err) {
        report.failed += 1;
        if (report.examples.length < 5) report.examples.push(`${new Date().toISOString()} ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (Date.now() - started))));
    }
  })();
  return {
    report,
    /** waits until an answer of `version` arrives (or throws after timeoutMs) */
    async until(version: string, timeoutMs = 60_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (report.sequence.at(-1) !== version) {
        if (Date.now() > deadline) throw new Error(`no answer from ${version} within ${timeoutMs} ms: ${JSON.stringify(report)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop(): Promise<TrafficReport> {
      running = false;
      await loop;
      return report;
    },
  };
}
