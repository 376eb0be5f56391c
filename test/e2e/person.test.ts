// The person in the loop, all real: `bluegreen ui` as its own process, a real
// browser (Debian's chromium, headless, driven by puppeteer-core) approving and
// aborting releases on the test cluster, and the worker's notices reaching a
// local webhook receiver, once per event even when the worker is killed mid-send.
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { withSenderIdentities } from '../../src/client/releases.js';
import { uiServer } from '../../src/ui/server.js';
import { freePort, spawnCli } from './processes.js';
import { World } from './world.js';

/** The webhook receiver: every delivery in order; `hold` keeps a delivery unanswered until released. */
class Receiver {
  readonly got: { path: string; key: string; event: string; body: Record<string, unknown> }[] = [];
  hold?: (event: string) => boolean;
  held: (() => void)[] = [];
  private server!: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c: Buffer) => { body += c.toString(); });
      req.on('end', () => {
        const event = String(req.headers['x-bluegreen-event']);
        this.got.push({ path: req.url ?? '', key: String(req.headers['idempotency-key']), event, body: JSON.parse(body) as Record<string, unknown> });
        const answer = () => { if (!res.destroyed) res.end('ok'); };
        if (this.hold?.(event)) this.held.push(answer);
        else answer();
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  /** Each event of a release, once: what a receiver that drops repeated keys keeps. */
  events(releaseId: string, path = '/json'): string[] {
    const seen = new Map<string, string>();
    for (const g of this.got) if (g.path === path && g.key.startsWith(`${releaseId}#`)) seen.set(g.key, g.event);
    return [...seen.values()];
  }

  /** Waits until both receivers hold `want` for the release: the activity posts json, then Slack, and the phase shows before the end's notice lands. */
  async settled(w: World, releaseId: string, want: string[]): Promise<void> {
    const both = () => ['/json', '/slack'].every((path) => this.events(releaseId, path).length >= want.length);
    await w.waitUntil(async () => both(), `notices ${want.join(', ')} at both receivers`, 60_000);
    expect(this.events(releaseId)).toEqual(want);
    expect(this.events(releaseId, '/slack')).toEqual(want);
  }

  close(): Promise<void> {
    this.held.forEach((answer) => answer());
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const TOKEN = 'e2e-ui-token-0123456789abcdef';
// README's screenshots, when asked for (BLUEGREEN_SCREENSHOTS=1); else a temporary directory.
const SHOTS = process.env.BLUEGREEN_SCREENSHOTS === '1' ? 'docs/images' : mkdtempSync(join(tmpdir(), 'bluegreen-shots-'));
mkdirSync(SHOTS, { recursive: true });

let w: World;
let receiver: Receiver;
let ui: { url: string; stop: () => void };
let browser: Browser;

beforeAll(async () => {
  if (CHROMIUM === undefined) throw new Error('the browser tests need Debian\'s chromium (apt-get install chromium): .ci/run installs it');
  receiver = await new Receiver().start();
  const port = await freePort();
  const temporalAddress = inject('temporalAddress');
  // The page as a user runs it: the CLI's verb, with a token and the name its holder acts as.
  const started = spawnCli(['ui', '--port', String(port), '--user', 'ava'], { TEMPORAL_ADDRESS: temporalAddress, BLUEGREEN_UI_TOKEN: TOKEN });
  for (let i = 0; i < 150 && !started.stdout().includes('bluegreen ui: open'); i += 1) await new Promise((r) => setTimeout(r, 100));
  expect(started.stdout()).toContain(`bluegreen ui: open http://127.0.0.1:${port}/?token=${TOKEN} (acting as ava;`);
  ui = { url: `http://127.0.0.1:${port}`, stop: () => started.child.kill('SIGTERM') };
  w = await new World({
    prefix: 'person', temporalAddress, kubeconfig: inject('kubeconfig'),
    workerEnv: { BLUEGREEN_NOTIFY: `json=${receiver.url}/json,slack=${receiver.url}/slack`, BLUEGREEN_UI_URL: ui.url },
  }).start();
  browser = await puppeteer.launch({
    executablePath: CHROMIUM, headless: true,
    // Root in a test namespace: no sandbox; no GPU, and /tmp for shared memory.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
});
afterAll(async () => {
  await browser?.close();
  ui?.stop();
  if (w) console.log(w.report('person'));
  await w?.close();
  await receiver?.close();
});

/** A page signed in with the token's link, as a user opens it. */
async function signedIn(path = '/'): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 900 });
  await page.goto(`${ui.url}${path}${path.includes('?') ? '&' : '?'}token=${TOKEN}`, { waitUntil: 'domcontentloaded' });
  return page;
}

/** Waits until an element of the page (the release's answer to a button, by default) shows `expected`. */
const shown = (page: Page, expected: RegExp, id = 'view') =>
  page.waitForFunction((source: string, at: string) => new RegExp(source).test((globalThis as unknown as { document: { getElementById(id: string): { textContent: string } | null } }).document.getElementById(at)?.textContent ?? ''), { timeout: 60_000 }, expected.source, id);
const answered = (page: Page, expected: RegExp) => shown(page, expected, 'answer');

const phaseShown = (page: Page, phase: string) => page.waitForSelector(`#view [data-phase="${phase}"]`, { timeout: 90_000 });

describe('a release page in a real browser', () => {
  it('shows a release waiting at each gate; approve there lets it go on, recorded as the page\'s user', async () => {
    const watch = await w.bootstrap('fraud-ui');
    const spec = w.specFile('fraud-ui', 'v2', { approval: { beforeSwitch: true, afterSwitch: 'manual' } });
    expect((await w.cli(['start', '-f', spec])).code).toBe(0);
    const waiting = await w.waitFor('fraud-ui', (s) => s.waitingFor === 'beforeSwitch', 'the gate');

    const list = await signedIn(`/?namespace=${w.namespace}`);
    const row = await list.waitForSelector(`tr[data-release="${waiting.releaseId}"]`);
    expect(await row!.evaluate((r) => r.textContent)).toMatch(/fraud-ui.*v2.*AwaitingApproval.*waits for approval before the switch/s);
    await list.screenshot({ path: join(SHOTS, 'ui-list.png') });
    const link = await row!.$('a');
    await Promise.all([list.waitForNavigation(), link!.click()]);

    const page = list;
    await page.waitForSelector('#view [data-waiting="beforeSwitch"]');
    expect(await page.$eval('#view', (v) => v.textContent)).toContain('bluegreen approve fraud-ui');
    expect(await page.$eval('[data-action="approve"]', (b) => (b as unknown as { disabled: boolean }).disabled)).toBe(false);
    await page.type('#approve input[name="comment"]', 'checks and latency fine <b>really</b>');
    await page.click('[data-action="approve"]');
    await answered(page, /approve acted on by the release/);
    // The same page, never reloaded, follows the release to its next gate: after the switch and the monitor window.
    // (During the window it waits too: an approve there promotes at once. This waits for the window's verdict.)
    await page.waitForSelector('#view [data-waiting="afterSwitch"]', { timeout: 90_000 });
    await shown(page, /analysis ok: \d+ runs, 0 failed/);
    expect(await page.$$eval('#view svg.chart polyline', (p) => p.length)).toBeGreaterThan(0);
    expect(await page.$eval('[data-action="approve"]', (b) => (b as unknown as { disabled: boolean }).disabled)).toBe(false);
    await page.screenshot({ path: join(SHOTS, 'ui-release.png'), fullPage: true });
    await page.click('[data-action="approve"]');
    await phaseShown(page, 'Succeeded');
    expect(await page.$eval('[data-action="abort"]', (b) => (b as unknown as { disabled: boolean }).disabled)).toBe(true);
    // The comment is text on the page, not markup.
    expect(await page.$$eval('#view .timeline b', (bs) => bs.length)).toBe(0);
    expect(await page.$eval('#view .timeline', (t) => t.textContent)).toContain('approved at the gate before the switch: checks and latency fine <b>really</b>');
    await page.close();
    await watch.done();

    const done = await withSenderIdentities(w.client, (await w.status('fraud-ui'))!);
    expect(done.approvedBy).toBe('ava');
    const approvals = done.timeline.filter((e) => e.event === 'approve');
    expect(approvals).toEqual([
      expect.objectContaining({ by: 'ava', accepted: true, identity: 'ava via bluegreen ui', phase: 'AwaitingApproval' }),
      expect.objectContaining({ by: 'ava', accepted: true, identity: 'ava via bluegreen ui', phase: 'Monitoring' }),
    ]);
    // Notices: each gate and the outcome, each once, in both formats, with a link to the page.
    await receiver.settled(w, done.releaseId, ['waiting', 'waiting', 'succeeded']);
    const gate = receiver.got.find((g) => g.key === `${done.releaseId}#1` && g.path === '/json')!.body;
    expect(gate).toMatchObject({ kind: 'waiting', gate: 'beforeSwitch', version: 'v2', page: `${ui.url}/release?id=${encodeURIComponent(done.releaseId)}` });
    const slack = receiver.got.find((g) => g.key === `${done.releaseId}#1` && g.path === '/slack')!.body as { text: string };
    expect(slack.text).toBe(`:hourglass: ${w.namespace}/fraud-ui v2 waits for approval before the switch`);
  });

  it('abort from the page rolls the release back with the reason given, and the cluster serves the old version', async () => {
    const started = await w.cli(['start', '-f', w.specFile('fraud-ui', 'v1', { approval: { beforeSwitch: true } })]);
    expect(started.code).toBe(0);
    const waiting = await w.waitFor('fraud-ui', (s) => s.waitingFor === 'beforeSwitch' && s.version === 'v1', 'the gate');
    const page = await signedIn(`/release?id=${encodeURIComponent(waiting.releaseId)}`);
    await page.waitForSelector('#view [data-waiting="beforeSwitch"]');
    await page.type('#abort input[name="reason"]', 'v1 is the wrong build');
    await page.click('[data-action="abort"]');
    await answered(page, /abort acted on by the release/);
    await phaseShown(page, 'RolledBack');
    await page.close();
    const done = (await w.status('fraud-ui'))!;
    expect(done).toMatchObject({ phase: 'RolledBack', abortedBy: 'ava', reason: 'aborted by ava: v1 is the wrong build' });
    expect((await w.snapshot('fraud-ui')).selector?.slot).toBe('green');
    await receiver.settled(w, done.releaseId, ['waiting', 'rolling-back', 'rolled-back']);
    const rolled = receiver.got.find((g) => g.path === '/json' && g.body.kind === 'rolled-back' && String(g.key).startsWith(done.releaseId))!.body;
    expect(rolled).toMatchObject({ reason: 'aborted by ava: v1 is the wrong build', liveSlot: 'green' });
  });
});

describe('who may steer, and from where', () => {
  it('refuses a request without the token, a write from another site, and a write that is not the page\'s JSON', async () => {
    expect((await fetch(`${ui.url}/`)).status).toBe(401);
    expect((await fetch(`${ui.url}/`, { headers: { cookie: 'bluegreen_ui=wrong-token-wrong-token' } })).status).toBe(401);
    expect((await fetch(`${ui.url}/`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    const post = (headers: Record<string, string>, body = '{"id":"bluegreen/x/y/z"}') =>
      fetch(`${ui.url}/api/release/approve`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, ...headers }, body });
    const json = { 'content-type': 'application/json', 'x-bluegreen-ui': '1' };
    expect((await post({ 'content-type': 'application/x-www-form-urlencoded' }, 'id=x')).status).toBe(415);
    expect((await post({ 'content-type': 'application/json' })).status).toBe(403);
    expect((await post({ ...json, origin: 'https://evil.example' })).status).toBe(403);
    expect((await post({ ...json, 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    const notAnId = await post(json);
    expect(notAnId.status).toBe(400);
    expect(((await notAnId.json()) as { message: string }).message).toBe('"bluegreen/x/y/z" is not a release id (bluegreen/NAMESPACE/SERVICE[@CLUSTER]/RUN-ID)');
    const missing = await post(json, '{"id":"bluegreen/x/y/0b6e8d1c-3f59-4a53-9a43-7d0f9f3c1e2a"}');
    expect(missing.status).toBe(409);
    expect(((await missing.json()) as { message: string }).message).toContain('no release of x/y found');
  });

  it('behind a proxy: the user is its header, a request without it is refused, and approval.notByStarter holds for that user', async () => {
    const server = uiServer({ client: w.client, userHeader: 'X-Forwarded-User' });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      expect((await fetch(`${base}/`)).status).toBe(401);
      expect(await (await fetch(`${base}/`)).text()).toContain('no X-Forwarded-User header');
      await w.cli(['start', '-f', w.specFile('fraud-ui', 'v1', { approval: { beforeSwitch: true, notByStarter: true } })]);
      const waiting = await w.waitFor('fraud-ui', (s) => s.waitingFor === 'beforeSwitch' && s.version === 'v1', 'the gate');
      const approve = (user: string) => fetch(`${base}/api/release/approve`, {
        method: 'POST', headers: { 'x-forwarded-user': user, 'content-type': 'application/json', 'x-bluegreen-ui': '1', origin: base },
        body: JSON.stringify({ id: waiting.releaseId, version: 'v1' }),
      }).then(async (r) => ({ status: r.status, ...(await r.json() as { accepted: boolean; message: string }) }));
      // The release was started by `e2e` (the CLI's BLUEGREEN_USER): the same person through the page may not approve it.
      expect(await approve('e2e')).toMatchObject({ status: 200, accepted: false, message: 'approve not acted on: ignored: e2e started this release, and approval.notByStarter asks for someone else' });
      expect(await approve('bo')).toMatchObject({ status: 200, accepted: true });
      const done = await w.waitForPhase('fraud-ui', 'Succeeded');
      expect(done.approvedBy).toBe('bo');
    } finally {
      server.close();
      server.closeAllConnections();
    }
  });
});

describe('notices through a worker SIGKILL', () => {
  it('a worker killed while a notice is being sent: the next worker sends it again with the same key, so each event is kept once', async () => {
    receiver.hold = (event) => event === 'waiting';
    await w.cli(['start', '-f', w.specFile('fraud-ui', 'v2', { approval: { beforeSwitch: true } })]);
    const waiting = await w.waitFor('fraud-ui', (s) => s.waitingFor === 'beforeSwitch' && s.version === 'v2', 'the gate');
    const key = `${waiting.releaseId}#1`;
    await w.waitUntil(async () => receiver.got.some((g) => g.key === key), 'the gate\'s notice reached the receiver');
    await w.killWorker();
    receiver.hold = undefined;
    await w.startWorker();
    // The attempt's heartbeat stops with the worker; the next attempt sends it again.
    await w.waitUntil(async () => receiver.got.filter((g) => g.key === key && g.path === '/json').length >= 2, 'the notice sent again', 60_000);
    expect((await w.cli(['approve', 'fraud-ui', '-n', w.namespace])).code).toBe(0);
    const done = await w.waitForPhase('fraud-ui', 'Succeeded');
    await receiver.settled(w, done.releaseId, ['waiting', 'succeeded']);
    const deliveries = receiver.got.filter((g) => g.key.startsWith(`${done.releaseId}#`) && g.path === '/json');
    // Delivered twice (the kill came between the request and its answer), one key: one event.
    expect(deliveries.filter((g) => g.key === key).length).toBe(2);
    expect(done.timeline.filter((e) => e.event === 'notice not sent')).toEqual([]);
  });
});
