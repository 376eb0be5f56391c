// What a notice says, in each webhook format: one sentence a person reads in a
// chat, the link to the release's page, and the exact CLI commands.
import type { Notice, Webhook } from '../release/notify.js';
import { parseReleaseId } from '../release/ids.js';
import type { Gate } from '../release/status.js';

const GATES: Record<Gate, string> = {
  beforeSwitch: 'waits for approval before the switch',
  afterSwitch: 'waits for approval to promote',
  analysis: 'waits for a person: the analysis was inconclusive',
};

/** A release's place in the CLI's flags: `fraud -n ml [--cluster c]`. */
export const cliTarget = (r: { namespace: string; service: string; cluster?: string }): string =>
  `${r.service} -n ${r.namespace}${r.cluster === undefined ? '' : ` --cluster ${r.cluster}`}`;

/** The commands a person steers a release with, pinned to its run and version. */
export function releaseCommands(r: { namespace: string; service: string; cluster?: string; version: string; releaseId: string }): string[] {
  const pinned = `${cliTarget(r)} --version ${r.version} --run ${parseReleaseId(r.releaseId).runId}`;
  return [`bluegreen status ${cliTarget(r)} --watch`, `bluegreen approve ${pinned}`, `bluegreen abort ${pinned} --reason "..."`];
}

/** The release's page on `bluegreen ui`, when the worker knows where it is served. */
export const releasePage = (base: string | undefined, releaseId: string): string | undefined =>
  base === undefined ? undefined : `${base.replace(/\/+$/, '')}/release?id=${encodeURIComponent(releaseId)}`;

/** The notice in one sentence. */
export function noticeText(n: Notice): string {
  const what = `${n.namespace}/${n.service} ${n.version}`;
  switch (n.kind) {
    case 'waiting': return `${what} ${GATES[n.gate ?? 'beforeSwitch']}${n.reason ? `: ${n.reason}` : ''}`;
    case 'rolling-back': return `${what} is rolling back: ${n.reason ?? 'no reason given'}`;
    case 'rolled-back': return `${what} rolled back${n.liveSlot ? `: live traffic on ${n.liveSlot}` : ''} (${n.reason ?? 'no reason given'})`;
    case 'failed': return `${what} FAILED and needs a person: ${n.reason ?? 'no reason given'}`;
    case 'succeeded': return `${what} succeeded: live${n.liveSlot ? ` in ${n.liveSlot}` : ''}`;
  }
}

/** The generic body: the notice itself, its sentence, the page and the commands. */
export function jsonBody(n: Notice, page: string | undefined): Record<string, unknown> {
  return { ...n, text: noticeText(n), ...(page === undefined ? {} : { page }), commands: releaseCommands(n) };
}

/** Slack's mrkdwn escapes only these three. */
const mrkdwn = (text: string): string => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
const EMOJI: Record<Notice['kind'], string> = {
  waiting: ':hourglass:', 'rolling-back': ':warning:', 'rolled-back': ':leftwards_arrow_with_hook:', failed: ':rotating_light:', succeeded: ':white_check_mark:',
};
/** Slack cuts a section's text at 3,000 characters. */
const section = (text: string) => ({ type: 'section', text: { type: 'mrkdwn', text: text.length > 2900 ? `${text.slice(0, 2897)}...` : text } });

/** Slack's body: `text` (the notification's line) and blocks with the failing checks, the commands and a button to the page. */
export function slackBody(n: Notice, page: string | undefined): Record<string, unknown> {
  const text = `${EMOJI[n.kind]} ${noticeText(n)}`;
  const blocks: unknown[] = [section(mrkdwn(text))];
  if (n.failing !== undefined && n.failing.length > 0) blocks.push(section(n.failing.map((f) => `• ${mrkdwn(f)}`).join('\n')));
  if (n.kind === 'waiting' || n.kind === 'rolling-back' || n.kind === 'failed') {
    blocks.push(section(`\`\`\`${mrkdwn(releaseCommands(n).join('\n'))}\`\`\``));
  }
  if (page !== undefined) {
    const text = { type: 'plain_text', text: n.kind === 'waiting' ? 'Review and decide' : 'Open the release' };
    blocks.push({ type: 'actions', elements: [{ type: 'button', text, url: page }] });
  }
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: mrkdwn(`${n.releaseId} · ${n.phase} · ${n.key}`) }] });
  return { text, blocks };
}

export const bodyFor = (webhook: Webhook, n: Notice, page: string | undefined): Record<string, unknown> =>
  (webhook.format === 'slack' ? slackBody(n, page) : jsonBody(n, page));
