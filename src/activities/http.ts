// HTTP requests to model servers and Prometheus: bounded in time and in what is
// read, and each failure said in one line (what was sent where, what came back).
import { Context } from '@temporalio/activity';
import { REQUEST_TIMEOUT_MS } from '../release/bounds.js';
import { clip } from '../rules/compare.js';
import { tokenTimings } from '../rules/completion.js';

export type Fetch = typeof fetch;

/** What a request carries besides its URL and body: the spec's headers and timeout. */
export interface RequestOptions {
  /** at most this long (REQUEST_TIMEOUT_MS when unset) */
  timeoutMs?: number;
  headers?: Record<string, string>;
}

/**
 * A request's signal: it aborts at its timeout, or when the activity that
 * sends it is cancelled (an abort, or a timeout the server decided), so a
 * timed-out attempt's requests never overlap the next attempt's.
 */
function requestSignal(timeoutMs = REQUEST_TIMEOUT_MS): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs);
  let cancelled: AbortSignal | undefined;
  try {
    cancelled = Context.current().cancellationSignal;
  } catch {
    return timeout; // outside an activity (a CLI check, a test)
  }
  return AbortSignal.any([timeout, cancelled]);
}
/** Largest answer read from a model server; a bigger one fails the check unread. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

/** The body of an answer, at most MAX_RESPONSE_BYTES, read as it streams in; `onChunk` sees each piece arrive. */
async function readCapped(res: Response, onChunk?: (chunk: Uint8Array) => void): Promise<string> {
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
    onChunk?.(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Redirects are never followed: the endpoint allowlist is checked for the
 * configured URL only, so a candidate could otherwise send the worker anywhere
 * it reaches, and the answer would land in the history.
 */
const isRedirect = (res: Response): boolean => res.type === 'opaqueredirect' || (res.status >= 300 && res.status < 400);
const redirected = (res: Response): string =>
  `answered HTTP ${res.status} redirecting to ${res.headers.get('location') ?? 'an undisclosed address'}; redirects are not followed (verification stays on the allowed endpoints)`;

export const baseOf = (endpoint: string): string => endpoint.replace(/\/+$/, '');

/**
 * A JSON answer, or a streamed one (server-sent events, as LLM servers stream
 * tokens): then `answer` is `{ events: [...] }`, each event's JSON data in
 * order, `firstEventMs` when its first token arrived and `interEventMs` the
 * mean time between its tokens (tokenTimings).
 */
export type Answer =
  | { ok: true; answer: unknown; latencyMs: number; firstEventMs?: number; interEventMs?: number }
  | { ok: false; error: string };

/** The JSON data of each event of a server-sent event stream, up to `data: [DONE]`. */
export function sseEvents(text: string): unknown[] {
  const events: unknown[] = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const data = block.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
    if (data === '') continue;
    if (data === '[DONE]') break;
    events.push(JSON.parse(data));
  }
  return events;
}

/** POSTs JSON and reads a JSON answer; a failure says what was sent where and what came back. */
export const postJson = (
  fetch: Fetch, url: string, body: unknown, options: RequestOptions = {}, method: 'POST' | 'PUT' = 'POST',
): Promise<Answer> => requestJson(fetch, method, url, {
  method, headers: { ...options.headers, 'content-type': 'application/json' }, body: JSON.stringify(body),
}, options);

/**
 * A request as its failure names it: the URL clipped on its own, so a long
 * one (a Prometheus query) leaves room for what went wrong.
 */
const requestLine = (method: string, url: string): string => `${method} ${clip(url, 160)}`;

/** Sends raw bytes (an image, a file) with their content type and reads a JSON answer, as postJson. */
export const sendBytes = (
  fetch: Fetch, method: 'POST' | 'PUT', url: string, bytes: Uint8Array, contentType: string, options: RequestOptions = {},
): Promise<Answer> => requestJson(fetch, method, url, {
  method, headers: { ...options.headers, 'content-type': contentType }, body: bytes,
}, options);

/** GETs a JSON document, as postJson. */
export const getJson = (fetch: Fetch, url: string, options: RequestOptions = {}): Promise<Answer> =>
  requestJson(fetch, 'GET', url, { headers: { ...options.headers } }, options);

async function requestJson(fetch: Fetch, method: string, url: string, init: RequestInit, options: RequestOptions): Promise<Answer> {
  const started = performance.now();
  try {
    const res = await fetch(url, { ...init, redirect: 'manual', signal: requestSignal(options.timeoutMs) });
    if (isRedirect(res)) return { ok: false, error: clip(`${requestLine(method, url)} ${redirected(res)}`) };
    const streamed = res.ok && (res.headers.get('content-type') ?? '').startsWith('text/event-stream');
    // When each event arrived (ms since the request), as its chunk arrives.
    const arrivals: number[] = [];
    let pending = '';
    const text = await readCapped(res, streamed ? (chunk) => {
      pending += Buffer.from(chunk).toString('utf8');
      const done = pending.split(/\r?\n\r?\n/);
      pending = done.pop()!;
      const at = performance.now() - started;
      for (const block of done) if (/^data:/m.test(block)) arrivals.push(at);
    } : undefined);
    if (!res.ok) return { ok: false, error: clip(`${requestLine(method, url)} answered HTTP ${res.status}: ${text}`) };
    const latencyMs = Math.round(performance.now() - started);
    if (!streamed) return { ok: true, answer: JSON.parse(text), latencyMs };
    const events = sseEvents(text);
    return { ok: true, answer: { events }, latencyMs, ...tokenTimings(events, arrivals) };
  } catch (err) {
    return { ok: false, error: clip(`${requestLine(method, url)} failed: ${errorText(err, options.timeoutMs)}`) };
  }
}

/**
 * Reads an answer as text: GET, or with `body` a POST of it as JSON (a
 * webhook answers `ok` or nothing, not JSON). Its text, or what went wrong.
 */
export async function requestText(
  fetch: Fetch, url: string, options: RequestOptions & { body?: unknown } = {},
): Promise<{ ok: true; text: string } | { ok: false; error: string }> {
  const method = options.body === undefined ? 'GET' : 'POST';
  const sent = options.body === undefined ? {} : { method, body: JSON.stringify(options.body) };
  const headers = { ...options.headers, ...(options.body === undefined ? {} : { 'content-type': 'application/json' }) };
  try {
    const res = await fetch(url, { ...sent, headers, redirect: 'manual', signal: requestSignal(options.timeoutMs) });
    if (isRedirect(res)) {
      await res.body?.cancel();
      return { ok: false, error: `${requestLine(method, url)} ${redirected(res)}` };
    }
    const text = await readCapped(res);
    return res.ok ? { ok: true, text } : { ok: false, error: clip(`${requestLine(method, url)} answered HTTP ${res.status}: ${text}`) };
  } catch (err) {
    return { ok: false, error: clip(`${requestLine(method, url)} failed: ${errorText(err, options.timeoutMs)}`) };
  }
}

/** GETs a text page (a metrics page): its text, or what went wrong. */
export const getText = (fetch: Fetch, url: string, options: RequestOptions = {}) => requestText(fetch, url, options);

/** GETs a URL and says whether it answered 2xx. */
export async function getOk(fetch: Fetch, url: string, options: RequestOptions = {}): Promise<{ ok: boolean; detail: string }> {
  try {
    const res = await fetch(url, { headers: { ...options.headers }, redirect: 'manual', signal: requestSignal(options.timeoutMs) });
    await res.body?.cancel();
    if (isRedirect(res)) return { ok: false, detail: `GET ${url} ${redirected(res)}` };
    return { ok: res.ok, detail: `GET ${url} answered HTTP ${res.status}` };
  } catch (err) {
    return { ok: false, detail: `GET ${url} failed: ${errorText(err, options.timeoutMs)}` };
  }
}

function errorText(err: unknown, timeoutMs = REQUEST_TIMEOUT_MS): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === 'TimeoutError') return `no answer within ${timeoutMs / 1000}s`;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? err.message;
}
