// The release page's rendering and the notices' bodies, as pure functions:
// release text is always text (never markup), and each body says what a person needs.
import { describe, expect, it } from 'vitest';
import { notifyWebhooks, uiAuth, uiUrl } from '../../src/config.js';
import type { Notice } from '../../src/release/notify.js';
import type { ReleaseStatus } from '../../src/release/status.js';
import { jsonBody, noticeText, releaseCommands, releasePage as pageLink, slackBody } from '../../src/rules/notify.js';
import { esc, sparkline } from '../../src/ui/html.js';
import { historyPage, listPage, releasePage, releaseView, steeringOf } from '../../src/ui/pages.js';

const hostile = '<img src=x onerror="alert(1)">';
const status = (more: Partial<ReleaseStatus> = {}): ReleaseStatus => ({
  releaseId: 'bluegreen/ml/fraud/run-1', model: 'fraud', namespace: 'ml', version: 'v2', phase: 'AwaitingApproval',
  oldSlot: 'blue', candidateSlot: 'green', liveSlot: 'blue', waitingFor: 'beforeSwitch', startedBy: 'ana',
  verification: { ok: true, endpoint: 'http://fraud-preview', checks: [{ name: 'latency p95', ok: true, detail: 'p95 41 ms', value: 41, bound: '<= 200 ms' }] },
  timeline: [
    { at: '2026-12-04T10:00:00.000Z', phase: 'Pending', event: 'phase' },
    { at: '2026-12-04T10:01:00.000Z', phase: 'AwaitingApproval', event: 'approve', by: hostile, accepted: false, detail: `ignored: ${hostile}` },
  ],
  ...more,
});

describe('release text on the page is text', () => {
  it('escapes every character that could open markup or leave an attribute', () => {
    expect(esc(`<a href="x" onclick='y'>&`)).toBe('&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;');
  });

  it('a hostile version, reason, comment or user shows as text in the view, the list and the history', () => {
    const s = status({ version: `v2${hostile}`, reason: hostile, approvedBy: hostile });
    const pages = [
      releasePage(s, [], hostile, Date.parse('2026-12-04T10:02:00Z')),
      listPage([{ workflowId: 'bluegreen/ml/fraud', runId: 'run-1', status: 'RUNNING', startTime: new Date(), version: hostile, phase: 'Monitoring', namespace: 'ml' }], { namespace: hostile }, hostile, Date.now()),
      historyPage({ namespace: 'ml', service: 'fraud' }, [{ releaseId: 'bluegreen/ml/fraud/run-1', version: hostile, outcome: 'RolledBack', running: false, startedAt: '2026-12-04T10:00:00Z', messages: [{ kind: 'abort', by: hostile, at: 'x', reason: hostile }] }], 'ana'),
    ];
    for (const page of pages) {
      expect(page).not.toContain('<img');
      expect(page).toContain('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;');
      expect(page).not.toMatch(/<script>/);
    }
  });

  it('the history names who started, approved and aborted, with the identity each signal came from', () => {
    const page = historyPage({ namespace: 'ml', service: 'fraud' }, [{
      releaseId: 'bluegreen/ml/fraud/run-1', version: 'v2', outcome: 'Succeeded', running: false, startedAt: '2026-12-04T10:00:00Z', startedBy: 'ana',
      messages: [{ kind: 'approve', by: 'bo', at: 'x', identity: 'bo via bluegreen ui' }],
    }], 'ana');
    expect(page).toContain('<td>started by ana, approved by bo [bo via bluegreen ui]</td>');
  });

  it('the view shows the gate, each check with its figure and bound, and the exact commands pinned to the run', () => {
    const view = releaseView(status(), [{ name: 'rolloutWait', attempt: 1, ready: 1, total: 2 }], Date.parse('2026-12-04T10:02:30Z'));
    expect(view).toContain('data-waiting="beforeSwitch"');
    expect(view).toContain('<td class="num">41</td><td>&lt;= 200 ms</td>');
    expect(view).toContain('<progress max="2" value="1"></progress> 1/2 ready');
    expect(view).toContain('bluegreen approve fraud -n ml --version v2 --run run-1');
    expect(view).toContain('AwaitingApproval</span> for 2m30s');
  });

  it('charts an analysis metric from its measurements; numbers only reach the SVG', () => {
    const chart = sparkline([[0, 0.01], [1000, 0.02], [2000, 0.015]]).text;
    expect(chart).toContain('points="4.0,44.0 120.0,4.0 236.0,24.0"');
    expect(chart).toContain('3 measured, 0.01 … 0.02');
    expect(sparkline([]).text).toContain('not measured yet');
  });

  it('approve applies only at a gate; abort until the old slot is being deleted', () => {
    expect(steeringOf(status())).toMatchObject({ canApprove: true, canAbort: true, version: 'v2', runId: 'run-1' });
    expect(steeringOf(status({ phase: 'Monitoring', waitingFor: undefined }))).toMatchObject({ canApprove: false, canAbort: true });
    const draining = status({ phase: 'Finalizing', waitingFor: undefined, timeline: [{ at: 'x', phase: 'Finalizing', event: 'draining' }] });
    expect(steeringOf(draining)).toMatchObject({ canApprove: false, canAbort: false });
    expect(steeringOf(status({ phase: 'Succeeded', waitingFor: undefined }))).toMatchObject({ canAbort: false, ended: true });
  });
});

describe('notices', () => {
  const notice: Notice = {
    key: 'bluegreen/ml/fraud/run-1#1', kind: 'waiting', releaseId: 'bluegreen/ml/fraud/run-1', namespace: 'ml', service: 'fraud', model: 'fraud',
    version: 'v2', phase: 'AwaitingApproval', at: '2026-12-04T10:00:00.000Z', gate: 'beforeSwitch',
  };

  it('the JSON body is the notice, its sentence, the page and the commands', () => {
    const body = jsonBody(notice, pageLink('https://bluegreen.example.com/', notice.releaseId));
    expect(body).toMatchObject({ key: notice.key, kind: 'waiting', text: 'ml/fraud v2 waits for approval before the switch' });
    expect(body.page).toBe('https://bluegreen.example.com/release?id=bluegreen%2Fml%2Ffraud%2Frun-1');
    expect(body.commands).toEqual(releaseCommands(notice));
  });

  it('Slack\'s body has text, the failing checks, the commands and a button to the page; its mrkdwn is escaped', () => {
    const failing = { ...notice, kind: 'rolling-back' as const, reason: 'verification failed: <p95> 900 ms & more', failing: ['latency p95: 900 ms > 200 ms'] };
    const body = slackBody(failing, 'https://ui.example/release?id=x') as { text: string; blocks: { type: string; text?: { text: string }; elements?: { url?: string }[] }[] };
    expect(body.text).toBe(':warning: ml/fraud v2 is rolling back: verification failed: <p95> 900 ms & more');
    expect(body.blocks[0]!.text!.text).toContain('&lt;p95&gt; 900 ms &amp; more');
    expect(body.blocks[1]!.text!.text).toBe('• latency p95: 900 ms &gt; 200 ms');
    expect(body.blocks[2]!.text!.text).toContain('bluegreen abort fraud -n ml --version v2 --run run-1 --reason "..."');
    expect(body.blocks.find((b) => b.type === 'actions')!.elements![0]!.url).toBe('https://ui.example/release?id=x');
    expect(noticeText({ ...notice, kind: 'succeeded', liveSlot: 'green' })).toBe('ml/fraud v2 succeeded: live in green');
  });
});

describe('settings of notices and the page', () => {
  it('BLUEGREEN_NOTIFY takes FORMAT=URL entries and bare URLs, and names what is wrong', () => {
    expect(notifyWebhooks({ BLUEGREEN_NOTIFY: 'slack=https://hooks.slack.com/services/T/B/X, https://alerts.example/bg' })).toEqual([
      { format: 'slack', url: 'https://hooks.slack.com/services/T/B/X' }, { format: 'json', url: 'https://alerts.example/bg' },
    ]);
    expect(notifyWebhooks({})).toEqual([]);
    expect(() => notifyWebhooks({ BLUEGREEN_NOTIFY: 'teams=https://x.example' })).toThrow('BLUEGREEN_NOTIFY: unknown format "teams" in "teams=https://x.example": each entry is FORMAT=URL with FORMAT json or slack');
    expect(() => notifyWebhooks({ BLUEGREEN_NOTIFY: 'slack=hooks.slack.com' })).toThrow('BLUEGREEN_NOTIFY: "hooks.slack.com" is not an http(s) URL');
    expect(() => uiUrl({ BLUEGREEN_UI_URL: 'bluegreen.example.com' })).toThrow('BLUEGREEN_UI_URL is "bluegreen.example.com"');
  });

  it('the page\'s user header must be a header name, and a token long enough', () => {
    expect(uiAuth({ BLUEGREEN_UI_USER_HEADER: 'X-Forwarded-User' })).toEqual({ userHeader: 'X-Forwarded-User' });
    expect(() => uiAuth({ BLUEGREEN_UI_USER_HEADER: 'X Forwarded' })).toThrow('BLUEGREEN_UI_USER_HEADER is "X Forwarded"');
    expect(() => uiAuth({ BLUEGREEN_UI_TOKEN: 'short' })).toThrow('BLUEGREEN_UI_TOKEN is shorter than 16 characters');
  });
});
