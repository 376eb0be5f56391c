// `bluegreen ui`: the releases, one release's live view with approve and abort,
// and a model's history, served to a browser. It needs Temporal only (never the
// Kubernetes credentials): every figure is what `status` and `history` read.
//
// Who the user is: the header an authenticating proxy sets (oauth2-proxy's
// X-Forwarded-User), or, without a proxy, whoever holds the token printed at
// start. A request without either is refused. Approve and abort are POSTs of
// JSON with a custom header from the page's own origin, so another site cannot
// send them; the release records the user as `by`, and Temporal records it as
// the signal's identity.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Client } from '@temporalio/client';
import { releaseHistory } from '../client/history.js';
import { runningSteps } from '../client/live-view.js';
import { listReleases, readStatus, sendMessage, UserError, type ReleaseRef } from '../client/releases.js';
import { parseReleaseId, parseWorkflowId } from '../release/ids.js';
import { FINAL_PHASES, PHASES } from '../release/status.js';
import { SCRIPT, STYLE } from './assets.js';
import { historyPage, layout, listPage, releasePage, releaseView, steeringOf, type ListFilters, type ListRow } from './pages.js';
import { html } from './html.js';

export interface UiOptions {
  client: Client;
  /** the header an authenticating proxy sets to the user's name; every request must carry it */
  userHeader?: string;
  /** without a proxy: the token every request must carry (the cookie its link sets, or `Authorization: Bearer`) */
  token?: string;
  /** who a token holder acts as */
  tokenUser?: string;
  /** how often a release's view is read while a page follows it */
  pollMs?: number;
}

const COOKIE = 'bluegreen_ui';
const MAX_BODY = 16 * 1024;

/** Headers of every answer: no framing, no inline script, nothing loaded from elsewhere. */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

class HttpError extends Error {
  constructor(readonly code: number, message: string) { super(message); }
}

const sameText = (a: string, b: string): boolean => {
  const [x, y] = [Buffer.from(a), Buffer.from(b)];
  return x.length === y.length && timingSafeEqual(x, y);
};

const cookieOf = (req: IncomingMessage, name: string): string | undefined =>
  req.headers.cookie?.split(';').map((c) => c.trim().split('=')).find(([k]) => k === name)?.[1];

/** The user a request acts as, or why it is refused. */
function userOf(req: IncomingMessage, url: URL, opts: UiOptions): { user: string } | { refused: string } | { login: string } {
  if (opts.userHeader !== undefined) {
    const value = req.headers[opts.userHeader.toLowerCase()];
    const user = (Array.isArray(value) ? value[0] : value)?.trim();
    return user ? { user: user.slice(0, 200) } : { refused: `no ${opts.userHeader} header: this page is served behind an authenticating proxy that sets it` };
  }
  const token = opts.token ?? '';
  const given = url.searchParams.get('token');
  if (given !== null && sameText(given, token)) return { login: given };
  const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  const presented = cookieOf(req, COOKIE) ?? bearer;
  if (presented !== undefined && sameText(presented, token)) return { user: opts.tokenUser ?? 'unknown' };
  return { refused: 'no valid token: open the link bluegreen ui printed when it started' };
}

/** A release id from the query, as a ref readStatus and sendMessage take. */
function refOf(url: URL): ReleaseRef & { releaseId: string } {
  const releaseId = url.searchParams.get('id') ?? '';
  const { workflowId, runId } = parseReleaseId(releaseId);
  const target = parseWorkflowId(workflowId);
  // A run id is a UUID: anything else is no release (and the server would answer a bad argument).
  if (target === undefined || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(runId)) {
    throw new HttpError(400, `"${releaseId}" is not a release id (bluegreen/NAMESPACE/SERVICE[@CLUSTER]/RUN-ID)`);
  }
  return { ...target, runId, releaseId };
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, `a request body of at most ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  try {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (typeof body === 'object' && body !== null && !Array.isArray(body)) return body as Record<string, unknown>;
  } catch { /* said below */ }
  throw new HttpError(400, 'the body must be a JSON object');
}

/**
 * A write comes from this page only: JSON (a cross-site form cannot send it
 * without a preflight this server never answers), the page's header, and an
 * Origin, when the browser sends one, that is this server's own.
 */
function checkSameOrigin(req: IncomingMessage): void {
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) throw new HttpError(415, 'writes are JSON (content-type: application/json)');
  if (req.headers['x-bluegreen-ui'] !== '1') throw new HttpError(403, 'writes come from the page (the x-bluegreen-ui header)');
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new HttpError(403, `a write from another site (${site}) is refused`);
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== 'null' && new URL(origin).host !== req.headers.host) throw new HttpError(403, `a write from ${origin} is refused`);
}

const text = (v: unknown, max: number): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim().slice(0, max) : undefined);

/** What every route needs: the options, and a Temporal client per user. */
interface Ui {
  opts: UiOptions;
  pollMs: number;
  clientFor: (user: string) => Client;
}

export function uiServer(opts: UiOptions): Server {
  // One Temporal client per user, on the one connection: the signal's identity names who sent it.
  const clients = new Map<string, Client>();
  const clientFor = (user: string): Client => {
    let c = clients.get(user);
    if (c === undefined) {
      const { connection, options } = opts.client;
      c = new Client({ connection, namespace: options.namespace, identity: `${user} via bluegreen ui` });
      clients.set(user, c);
    }
    return c;
  };
  const ui: Ui = { opts, pollMs: opts.pollMs ?? 1_000, clientFor };
  return createServer((req, res) => {
    route(ui, req, res).catch((err: unknown) => {
      const code = err instanceof HttpError ? err.code : err instanceof UserError ? 409 : 502;
      const message = err instanceof Error ? err.message.split('\n')[0]! : String(err);
      if (res.headersSent) return res.end();
      if ((req.url ?? '').startsWith('/api/')) return json(res, code, { accepted: false, message });
      const page = html`<h1>${code === 404 ? 'Not found' : 'Cannot do that'}</h1><p class="reason">${message}</p>
<p><a href="/">All releases</a></p>`;
      send(res, code, 'text/html; charset=utf-8', layout('Error', '', page));
    });
  });
}

function send(res: ServerResponse, code: number, type: string, body: string, more: Record<string, string> = {}): void {
  res.writeHead(code, { ...SECURITY_HEADERS, 'content-type': type, ...more });
  res.end(body);
}

const json = (res: ServerResponse, code: number, body: unknown) => send(res, code, 'application/json; charset=utf-8', JSON.stringify(body));

async function list(ui: Ui, url: URL, user: string): Promise<{ rows: ListRow[]; filters: ListFilters }> {
  const phase = url.searchParams.get('phase') || undefined;
  if (phase !== undefined && !(PHASES as readonly string[]).includes(phase)) {
    throw new HttpError(400, `phase "${phase}" is not one of ${PHASES.join(', ')}`);
  }
  const filters: ListFilters = {
    namespace: url.searchParams.get('namespace') || undefined, model: url.searchParams.get('model') || undefined, phase,
    all: url.searchParams.get('all') === '1',
  };
  const listed = await listReleases(ui.clientFor(user), { ...filters, all: filters.all === true || phase !== undefined, limit: 200 });
  // What a running release waits for is in its status; read for the first 50 running.
  const rows = await Promise.all(listed.map(async (r, i): Promise<ListRow> => {
    const target = parseWorkflowId(r.workflowId);
    if (r.status !== 'RUNNING' || target === undefined || i >= 50) return r;
    const status = await readStatus(ui.clientFor(user), { ...target, runId: r.runId }).catch(() => undefined);
    return status?.waitingFor === undefined ? r : { ...r, waitingFor: status.waitingFor };
  }));
  return { rows, filters };
}

async function view(ui: Ui, user: string, ref: ReleaseRef) {
  const client = ui.clientFor(user);
  const status = await readStatus(client, ref);
  const steps = FINAL_PHASES.includes(status.phase) ? [] : await runningSteps(client, ref).catch(() => []);
  return { status, steps };
}

/** Server-sent events: the view each time it changes, until the release ends or the page goes. */
async function follow(ui: Ui, res: ServerResponse, user: string, ref: ReleaseRef): Promise<void> {
  res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive' });
  let open = true;
  // The response closes when the page goes away (the request closes once read, at once for a GET).
  res.on('close', () => { open = false; });
  const event = (name: string, data: unknown) => res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  let last = '';
  let quietSince = Date.now();
  while (open) {
    try {
      const { status, steps } = await view(ui, user, ref);
      const fragment = releaseView(status, steps, Date.now());
      // The age in the view changes each second; send when anything else did, or every 5s for the age.
      const key = fragment.replace(/ for \d+[smhd]\S*/, '');
      if (key !== last || Date.now() - quietSince > 5_000) {
        event('view', { html: fragment, steering: steeringOf(status) });
        last = key;
        quietSince = Date.now();
      }
      if (FINAL_PHASES.includes(status.phase)) {
        event('end', status.phase);
        break;
      }
    } catch (err) {
      event('note', `cannot read the release (${(err as Error).message.split('\n')[0]}); retrying: the release goes on in the worker`);
    }
    await new Promise((r) => setTimeout(r, ui.pollMs));
  }
  res.end();
}

async function steer(ui: Ui, req: IncomingMessage, res: ServerResponse, user: string, kind: 'approve' | 'abort'): Promise<void> {
  checkSameOrigin(req);
  const body = await readBody(req);
  const ref = refOf(new URL(`http://x/?id=${encodeURIComponent(String(body.id ?? ''))}`));
  const version = text(body.version, 63);
  const comment = text(body.comment, 2000);
  const reason = text(body.reason, 2000);
  if (kind === 'abort' && reason === undefined) throw new HttpError(400, 'an abort needs a reason');
  const message = kind === 'approve'
    ? { kind, by: user, ...(comment === undefined ? {} : { comment }), ...(version === undefined ? {} : { version }) }
    : { kind, by: user, reason: reason!, ...(version === undefined ? {} : { version }) };
  const out = await sendMessage(ui.clientFor(user), ref, message);
  if ('pending' in out) {
    return json(res, 202, { accepted: false, pending: true, message: `${kind} recorded, but no worker has acted on it yet: it is acted on when one runs the release` });
  }
  const said = out.accepted
    ? `${kind} acted on by the release (phase ${out.entry.phase}), recorded as by ${user}`
    : `${kind} not acted on: ${out.entry.detail ?? 'see the timeline'}`;
  json(res, 200, { accepted: out.accepted, message: said, entry: out.entry });
}

async function route(ui: Ui, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://ui.local');
  const who = userOf(req, url, ui.opts);
  if ('login' in who) {
    // The token travels once in the link; from then on in a cookie no other site's request carries.
    url.searchParams.delete('token');
    return send(res, 303, 'text/plain', 'signed in', {
      location: `${url.pathname}${url.search}`, 'set-cookie': `${COOKIE}=${who.login}; HttpOnly; SameSite=Strict; Path=/`,
    });
  }
  if ('refused' in who) return send(res, 401, 'text/plain; charset=utf-8', `bluegreen ui: ${who.refused}\n`);
  const { user } = who;
  const get = req.method === 'GET' || req.method === 'HEAD';
  if (!get && req.method !== 'POST') throw new HttpError(405, `${req.method} is not served`);
  const path = url.pathname;
  if (req.method === 'POST' && (path === '/api/release/approve' || path === '/api/release/abort')) {
    return steer(ui, req, res, user, path.endsWith('approve') ? 'approve' : 'abort');
  }
  if (!get) throw new HttpError(404, `nothing at ${path}`);
  return read(ui, url, res, user);
}

/** The pages and the reads: everything a GET is served. */
async function read(ui: Ui, url: URL, res: ServerResponse, user: string): Promise<void> {
  const path = url.pathname;
  const page = (body: string) => send(res, 200, 'text/html; charset=utf-8', body);
  if (path === '/ui.js') return send(res, 200, 'text/javascript; charset=utf-8', SCRIPT);
  if (path === '/ui.css') return send(res, 200, 'text/css; charset=utf-8', STYLE);
  if (path === '/') {
    const { rows, filters } = await list(ui, url, user);
    return page(listPage(rows, filters, user, Date.now()));
  }
  if (path === '/api/releases') {
    const { rows } = await list(ui, url, user);
    return json(res, 200, rows.map((r) => ({ ...r, releaseId: `${r.workflowId}/${r.runId}`, startTime: r.startTime.toISOString() })));
  }
  if (path === '/release') {
    const { status, steps } = await view(ui, user, refOf(url));
    return page(releasePage(status, steps, user, Date.now()));
  }
  if (path === '/api/release') {
    const { status, steps } = await view(ui, user, refOf(url));
    return json(res, 200, { ...status, running: steps, steering: steeringOf(status) });
  }
  if (path === '/api/release/events') return follow(ui, res, user, refOf(url));
  if (path === '/history') {
    const namespace = url.searchParams.get('namespace') ?? '';
    const service = url.searchParams.get('service') ?? '';
    if (namespace === '' || service === '') throw new HttpError(400, 'history needs namespace and service');
    const cluster = url.searchParams.get('cluster');
    const target = { namespace, service, ...(cluster ? { cluster } : {}) };
    return page(historyPage(target, await releaseHistory(ui.clientFor(user), target), user));
  }
  throw new HttpError(404, `nothing at ${path}`);
}

/** A token for a page served without a proxy: 128 random bits. */
export const newToken = (): string => randomBytes(16).toString('hex');
