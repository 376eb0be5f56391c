// Requests against model servers: health, golden inputs with expected outputs,
// and a latency bound. Used for verification before the switch and for analysis
// during monitoring.
import type { ReleaseSpec } from '../release/spec.js';
import type { CheckResult } from '../release/status.js';

export type Fetch = typeof fetch;
const REQUEST_TIMEOUT_MS = 10_000;
/** Largest answer read from a model server; a bigger one fails the check unread. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;
/** Longest text of an answer reflected into a check (and so into the history and status). */
const MAX_REFLECTED = 200;

export const clip = (text: string, max = MAX_REFLECTED): string => (text.length > max ? `${text.slice(0, max - 3)}...` : text);

/** The body of an answer, at most MAX_RESPONSE_BYTES, read as it streams in. */
async function readCapped(res: Response): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (declared > MAX_RESPONSE_BYTES) {
    await res.body?.cancel();
    throw new Error(`answer of ${declared} bytes; at most ${MAX_RESPONSE_BYTES} are read`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += chunk.byteLength;
    if (size > MAX_RESPONSE_BYTES) {
      await res.body?.cancel().catch(() => undefined);
      throw new Error(`answer longer than ${MAX_RESPONSE_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export interface ProbeOptions {
  fetch: Fetch;
  endpoint: string;
  /** extra tries for the health check, for servers that have only just become ready */
  healthRetries?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** Health plus every golden request; each result names what it checked. */
export async function probeModelServer(spec: ReleaseSpec, options: ProbeOptions): Promise<CheckResult[]> {
  const { fetch, endpoint } = options;
  const base = endpoint.replace(/\/+$/, '');
  const checks: CheckResult[] = [];
  let health = await healthCheck(fetch, `${base}${spec.readinessPath}`);
  for (let i = 0; !health.ok && i < (options.healthRetries ?? 0); i += 1) {
    await (options.sleep ?? delay)(1_000);
    health = await healthCheck(fetch, `${base}${spec.readinessPath}`);
  }
  checks.push(health);
  if (!health.ok) return checks;

  const modelName = spec.verify.modelName ?? spec.model;
  for (const [i, request] of spec.verify.requests.entries()) {
    const name = `request ${request.name ?? i}`;
    const url = spec.verify.protocol === 'v2' ? `${base}/v2/models/${encodeURIComponent(modelName)}/infer` : `${base}${spec.verify.path}`;
    const body = spec.verify.protocol === 'v2' ? { inputs: request.inputs } : request.body;
    const started = performance.now();
    let answer: unknown;
    try {
      const res = await fetch(url, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await readCapped(res);
      if (!res.ok) {
        checks.push({ name, ok: false, detail: clip(`POST ${url} answered HTTP ${res.status}: ${text}`) });
        continue;
      }
      answer = JSON.parse(text);
    } catch (err) {
      checks.push({ name, ok: false, detail: clip(`POST ${url} failed: ${errorText(err)}`) });
      continue;
    }
    const latencyMs = Math.round(performance.now() - started);
    const actual = spec.verify.protocol === 'v2' ? v2Outputs(answer) : answer;
    const mismatch = compareJson(request.expected, actual, request.tolerance, '');
    const slow = spec.verify.maxLatencyMs !== undefined && latencyMs > spec.verify.maxLatencyMs;
    const detail = mismatch !== undefined ? clip(mismatch) : (slow ? `took ${latencyMs} ms; maxLatencyMs is ${spec.verify.maxLatencyMs}` : `matched in ${latencyMs} ms`);
    checks.push({ name, ok: mismatch === undefined && !slow, detail, latencyMs });
  }
  return checks;
}

async function healthCheck(fetch: Fetch, url: string): Promise<CheckResult> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    await res.body?.cancel();
    return { name: 'health', ok: res.ok, detail: `GET ${url} answered HTTP ${res.status}` };
  } catch (err) {
    return { name: 'health', ok: false, detail: `GET ${url} failed: ${errorText(err)}` };
  }
}

/** An Open Inference Protocol response as output name -> data. */
function v2Outputs(answer: unknown): Record<string, unknown> {
  const outputs = (answer as { outputs?: { name?: string; data?: unknown }[] } | null)?.outputs;
  if (!Array.isArray(outputs)) return {};
  return Object.fromEntries(outputs.map((o) => [o.name ?? '', o.data]));
}

/** Deep comparison where numbers match within tolerance; the first difference, or undefined. */
export function compareJson(expected: unknown, actual: unknown, tolerance: number, at: string): string | undefined {
  const where = at === '' ? 'the answer' : at;
  if (typeof expected === 'number') {
    return typeof actual === 'number' && Math.abs(actual - expected) <= tolerance
      ? undefined
      : `${where}: expected ${expected} ± ${tolerance}, got ${JSON.stringify(actual)}`;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) {
      return `${where}: expected ${expected.length} items, got ${Array.isArray(actual) ? actual.length : JSON.stringify(actual)}`;
    }
    for (const [i, item] of expected.entries()) {
      const diff = compareJson(item, actual[i], tolerance, `${at}[${i}]`);
      if (diff !== undefined) return diff;
    }
    return undefined;
  }
  if (typeof expected === 'object' && expected !== null) {
    if (typeof actual !== 'object' || actual === null) return `${where}: expected an object, got ${JSON.stringify(actual)}`;
    for (const [key, value] of Object.entries(expected)) {
      const diff = compareJson(value, (actual as Record<string, unknown>)[key], tolerance, at === '' ? key : `${at}.${key}`);
      if (diff !== undefined) return diff;
    }
    return undefined;
  }
  return expected === actual ? undefined : `${where}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`;
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? err.message;
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
