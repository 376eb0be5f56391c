// Requests against model servers: health, golden inputs with expected outputs,
// and a latency bound. Used for verification before the switch and for analysis
// during monitoring.
import type { ReleaseSpec } from '../release/spec.js';
import type { CheckResult } from '../release/status.js';
import { outputsAgainstSignature, type Signature } from './signature.js';

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
export async function probeModelServer(spec: ReleaseSpec, options: ProbeOptions, signature?: Signature): Promise<CheckResult[]> {
  const base = baseOf(options.endpoint);
  const health = await healthWithRetries(spec, options);
  if (!health.ok) return [health];
  return [health, ...await goldenChecks(spec, options.fetch, base, signature)];
}

export const baseOf = (endpoint: string): string => endpoint.replace(/\/+$/, '');

export async function healthWithRetries(spec: ReleaseSpec, options: ProbeOptions): Promise<CheckResult> {
  const url = `${baseOf(options.endpoint)}${spec.readinessPath}`;
  let health = await healthCheck(options.fetch, url);
  for (let i = 0; !health.ok && i < (options.healthRetries ?? 0); i += 1) {
    await (options.sleep ?? delay)(1_000);
    health = await healthCheck(options.fetch, url);
  }
  return health;
}

/** Where a request of the release's protocol goes, and its body. */
export function requestOf(spec: ReleaseSpec, base: string, request: { inputs?: unknown; body?: unknown }): { url: string; body: unknown } {
  if (spec.verify.protocol === 'http') return { url: `${base}${spec.verify.path}`, body: request.body };
  const modelName = spec.verify.modelName ?? spec.model;
  return { url: `${base}/v2/models/${encodeURIComponent(modelName)}/infer`, body: { inputs: request.inputs } };
}

export type Answer = { ok: true; answer: unknown; latencyMs: number } | { ok: false; error: string };

/** POSTs JSON and reads a JSON answer; a failure says what was sent where and what came back. */
export const postJson = (fetch: Fetch, url: string, body: unknown): Promise<Answer> =>
  requestJson(fetch, 'POST', url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** GETs a JSON document, as postJson. */
export const getJson = (fetch: Fetch, url: string): Promise<Answer> => requestJson(fetch, 'GET', url, {});

async function requestJson(fetch: Fetch, method: string, url: string, init: RequestInit): Promise<Answer> {
  const started = performance.now();
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const text = await readCapped(res);
    if (!res.ok) return { ok: false, error: clip(`${method} ${url} answered HTTP ${res.status}: ${text}`) };
    return { ok: true, answer: JSON.parse(text), latencyMs: Math.round(performance.now() - started) };
  } catch (err) {
    return { ok: false, error: clip(`${method} ${url} failed: ${errorText(err)}`) };
  }
}

/**
 * Every golden request: the expected values within tolerance, and (protocol v2,
 * given the model's signature) each output's name, datatype and shape.
 */
export async function goldenChecks(spec: ReleaseSpec, fetch: Fetch, base: string, signature?: Signature): Promise<CheckResult[]> {
  const checks: CheckResult[] = [];
  for (const [i, request] of spec.verify.requests.entries()) {
    const name = `request ${request.name ?? i}`;
    const { url, body } = requestOf(spec, base, request);
    const res = await postJson(fetch, url, body);
    if (!res.ok) {
      checks.push({ name, ok: false, detail: res.error });
      continue;
    }
    const { answer, latencyMs } = res;
    const actual = spec.verify.protocol === 'v2' ? v2Outputs(answer) : answer;
    const mismatch = compareJson(request.expected, actual, request.tolerance, '')
      ?? (spec.verify.protocol === 'v2' && signature !== undefined ? outputsAgainstSignature(answer, signature) : undefined);
    const slow = spec.verify.maxLatencyMs !== undefined && latencyMs > spec.verify.maxLatencyMs;
    const detail = mismatch !== undefined ? clip(mismatch) : (slow ? `took ${latencyMs} ms; maxLatencyMs is ${spec.verify.maxLatencyMs}` : `matched in ${latencyMs} ms`);
    checks.push({ name, ok: mismatch === undefined && !slow, detail, latencyMs });
  }
  return checks;
}

export async function healthCheck(fetch: Fetch, url: string): Promise<CheckResult> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    await res.body?.cancel();
    return { name: 'health', ok: res.ok, detail: `GET ${url} answered HTTP ${res.status}` };
  } catch (err) {
    return { name: 'health', ok: false, detail: `GET ${url} failed: ${errorText(err)}` };
  }
}

/** An Open Inference Protocol response as output name -> data. */
export function v2Outputs(answer: unknown): Record<string, unknown> {
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
