// Sends inference requests through a Service's ClusterIP all through a release,
// and counts failed requests and which model version answered: each on a new
// connection (as a new client would), on a few kept-alive connections (as a
// `requests.Session` or a Node agent would), or as streamed OpenAI chat answers
// held open for seconds (as an LLM client would). Bounded: one request in flight
// per client, until stopped. Runs inside the test run's network namespace.
import { Agent, request } from 'node:http';

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

function infer(host: string, port: number, agent?: Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({
      host, port, method: 'POST', path: '/v2/models/fraud/infer', agent: agent ?? false, timeout: 5_000,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY), ...(agent ? {} : { connection: 'close' }) },
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

/**
 * `connections` > 0: a pool of that many connections kept alive (a new one only
 * when the server closes one), as a `requests.Session` or a Node agent keeps
 * them: one request every `everyMs` from the pool, each connection in turn.
 */
export function watchTraffic(host: string, port: number, everyMs = 10, connections = 0) {
  const report: TrafficReport = { sent: 0, failed: 0, versions: {}, sequence: [], examples: [] };
  let running = true;
  const agent = connections > 0 ? new Agent({ keepAlive: true, maxSockets: connections }) : undefined;
  const client = async () => {
    while (running) {
      const started = Date.now();
      report.sent += 1;
      try {
        const version = await infer(host, port, agent);
        report.versions[version] = (report.versions[version] ?? 0) + 1;
        if (report.sequence.at(-1) !== version) report.sequence.push(version);
      } catch (err) {
        report.failed += 1;
        if (report.examples.length < 5) report.examples.push(`${new Date().toISOString()} ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, Math.max(0, everyMs * Math.max(1, connections) - (Date.now() - started))));
    }
  };
  const loop = Promise.all(Array.from({ length: Math.max(1, connections) }, client)).then(() => agent?.destroy());
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

export interface StreamReport {
  started: number;
  /** streams that ended with `data: [DONE]` */
  completed: number;
  /** streams cut before their end: an error, a closed connection, a missing [DONE] */
  broken: number;
  /** streams per model version (the answer names it: "fraud v2 heard: ...") */
  versions: Record<string, number>;
  longestMs: number;
  examples: string[];
}

/** Between one answer and the next question: a person reads, a pipeline parses. */
const PAUSE_MS = 200;

/** One streamed chat answer of `words` tokens: the version that answered, or why it broke. */
function chatStream(host: string, port: number, agent: Agent, words: number, whole = false): Promise<string> {
  const prompt = Array.from({ length: words }, (_, i) => `w${i}`).join(' ');
  const body = JSON.stringify({ model: 'fraud', stream: !whole, messages: [{ role: 'user', content: prompt }] });
  return new Promise((resolve, reject) => {
    const req = request({
      host, port, method: 'POST', path: '/v1/chat/completions', agent, timeout: 15_000,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('error', reject);
      res.on('aborted', () => reject(new Error(`stream cut after ${text.split('data:').length - 1} events`)));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}`));
        // A whole answer: "fraud v2 heard: w0 w1 ...".
        if (whole) return resolve((JSON.parse(text) as { choices: { message: { content: string } }[] }).choices[0]!.message.content.split(' ')[1] ?? 'unknown');
        if (!text.includes('data: [DONE]')) return reject(new Error(`stream ended without [DONE] after ${text.split('data:').length - 1} events`));
        const first = text.match(/"content":"([^"]*)"/g)?.slice(0, 2).map((c) => c.slice(11, -1).trim()) ?? [];
        resolve(first[1] ?? 'unknown');
      });
    });
    req.on('timeout', () => req.destroy(new Error(whole ? 'no answer for 15s' : 'no event for 15s')));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * `lengths.length` clients, each streaming chat answers of `lengths[i]` tokens
 * (the server's TOKEN_MS apart) one after another, PAUSE_MS between, on a
 * kept-alive connection, as an LLM client's pool does. With `whole`, each asks
 * for the answer whole: a plain request as long as the stream would be.
 */
export function watchStreams(host: string, port: number, lengths: number[], { whole = false } = {}) {
  const report: StreamReport = { started: 0, completed: 0, broken: 0, versions: {}, longestMs: 0, examples: [] };
  let running = true;
  const agent = new Agent({ keepAlive: true, maxSockets: lengths.length });
  const client = async (words: number) => {
    while (running) {
      const started = Date.now();
      report.started += 1;
      try {
        const version = await chatStream(host, port, agent, words, whole);
        report.completed += 1;
        report.versions[version] = (report.versions[version] ?? 0) + 1;
        report.longestMs = Math.max(report.longestMs, Date.now() - started);
      } catch (err) {
        report.broken += 1;
        if (report.examples.length < 5) report.examples.push(`${new Date().toISOString()} ${words}-token ${whole ? 'request' : 'stream'}: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, PAUSE_MS));
    }
  };
  const loop = Promise.all(lengths.map(client)).then(() => agent.destroy());
  return {
    report,
    /** waits until at least `n` streams have completed with an answer of `version` */
    async until(version: string, n = 1, timeoutMs = 120_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while ((report.versions[version] ?? 0) < n) {
        if (Date.now() > deadline) throw new Error(`fewer than ${n} streams from ${version} within ${timeoutMs} ms: ${JSON.stringify(report)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    /** lets each client finish the stream it holds, then stops */
    async stop(): Promise<StreamReport> {
      running = false;
      await loop;
      return report;
    },
  };
}
