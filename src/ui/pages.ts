// The pages of `bluegreen ui`, rendered from the same data the CLI prints
// (status, list, history): pure functions of that data, so tests read them
// without a browser. The release view is a fragment the page swaps in as the
// release changes; its buttons and forms stay outside it, so typing a comment
// is never interrupted.
import { who, why } from '../client/format.js';
import type { PastRelease } from '../client/history.js';
import { gateText, timelineLine, type RunningStep } from '../client/live-view.js';
import type { ReleaseListing } from '../client/releases.js';
import { parseReleaseId, parseWorkflowId } from '../release/ids.js';
import { FINAL_PHASES, PHASES, type CheckResult, type ReleaseStatus } from '../release/status.js';
import { releaseCommands } from '../rules/notify.js';
import { age, html, Html, query, sparkline } from './html.js';

export function layout(title: string, user: string, body: Html): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Bluegreen</title><link rel="stylesheet" href="/ui.css"></head>
<body><header><a class="home" href="/">Bluegreen</a><span class="user">signed in as <b data-user>${user}</b></span></header>
<main>${body}</main><script src="/ui.js"></script></body></html>`.text;
}

/** Where a release's page is: its release id in the query. */
export const releaseHref = (releaseId: string): string => `/release${query({ id: releaseId })}`;
const historyHref = (r: { namespace: string; service: string; cluster?: string }): string =>
  `/history${query({ namespace: r.namespace, service: r.service, cluster: r.cluster })}`;

export interface ListFilters { namespace?: string; model?: string; phase?: string; all?: boolean }

/** A row of the list: the listing, and for a running release what it waits for (from its status). */
export interface ListRow extends ReleaseListing { waitingFor?: ReleaseStatus['waitingFor'] }

export function listPage(rows: readonly ListRow[], filters: ListFilters, user: string, now: number, note?: string): string {
  const running = (r: ListRow) => Number(r.status === 'RUNNING');
  const sorted = [...rows].sort((a, b) => running(b) - running(a) || b.startTime.getTime() - a.startTime.getTime());
  const option = (p: string) => html`<option value="${p}"${filters.phase === p ? html` selected` : ''}>${p}</option>`;
  const line = (r: ListRow) => {
    const ref = parseWorkflowId(r.workflowId);
    const service = ref?.service ?? r.workflowId;
    const id = `${r.workflowId}/${r.runId}`;
    const phase = r.phase ?? r.status;
    return html`<tr data-release="${id}" class="${r.status === 'RUNNING' ? 'running' : 'ended'}">
<td><a href="${releaseHref(id)}">${service}</a></td><td>${r.namespace ?? ref?.namespace ?? '-'}</td><td>${r.model ?? '-'}</td>
<td>${r.version ?? '-'}</td><td><span class="phase ${phase}">${phase}</span></td><td>${age(r.startTime.getTime(), now)}</td>
<td>${r.waitingFor === undefined ? '' : html`<span class="waits">waits ${gateText(r.waitingFor)}</span>`}</td>
<td>${ref === undefined ? '' : html`<a href="${historyHref(ref)}">history</a>`}${r.cluster ? html` <span class="muted">@${r.cluster}</span>` : ''}</td></tr>`;
  };
  return layout('Releases', user, html`<h1>Releases</h1>
<form class="filters" method="get" action="/">
<label>namespace <input name="namespace" value="${filters.namespace ?? ''}" size="12"></label>
<label>model <input name="model" value="${filters.model ?? ''}" size="12"></label>
<label>phase <select name="phase"><option value="">any</option>${PHASES.map(option)}</select></label>
<label><input type="checkbox" name="all" value="1"${filters.all ? html` checked` : ''}> ended too</label>
<button type="submit">Filter</button></form>
${note === undefined ? '' : html`<p class="note">${note}</p>`}
${sorted.length === 0 ? html`<p class="empty">${filters.all || filters.phase ? 'No releases match.' : 'No running releases.'}</p>` : html`<table class="releases">
<thead><tr><th>service</th><th>namespace</th><th>model</th><th>version</th><th>phase</th><th>age</th><th>waits for</th>
<th></th></tr></thead>
<tbody>${sorted.map(line)}</tbody></table>`}`);
}

/** What the page needs to steer a release: whether approve and abort apply now. */
export interface Steering { canApprove: boolean; canAbort: boolean; phase: string; version: string; runId: string; ended: boolean }

export function steeringOf(status: ReleaseStatus): Steering {
  const ended = FINAL_PHASES.includes(status.phase);
  // Abort is refused once the old slot is being deleted (Finalizing, past the point of no return) and after the end.
  const pastReturn = status.timeline.some((e) => e.event === 'draining' || e.event === 'deleted');
  const canAbort = !ended && status.phase !== 'RollingBack' && !pastReturn;
  return {
    canApprove: status.waitingFor !== undefined, canAbort, phase: status.phase, version: status.version,
    runId: parseReleaseId(status.releaseId).runId, ended,
  };
}

const checkRow = (stage: string, c: CheckResult) => html`<tr class="${c.ok ? 'ok' : 'fail'}"><td>${stage}</td><td>${c.ok ? 'ok' : 'FAIL'}</td>
<td>${c.name}</td><td class="num">${c.value ?? (c.latencyMs === undefined ? '' : `${c.latencyMs} ms`)}</td><td>${c.bound ?? ''}</td>
<td class="detail">${c.detail}</td></tr>`;

/** The analysis metrics with their measurements: from the status once judged, from the running monitor's heartbeat before. */
function charts(status: ReleaseStatus, steps: readonly RunningStep[]): Html {
  const live = steps.flatMap((s) => s.analysis ?? []);
  const judged = (status.analysis?.checks ?? []).flatMap((c) =>
    (c.series === undefined ? [] : [{ name: c.name, series: c.series, bound: c.bound }]));
  const metrics = live.length > 0 ? live.map((m) => ({ ...m, bound: judged.find((j) => j.name === m.name)?.bound })) : judged;
  if (metrics.length === 0) return html``;
  return html`<section><h2>Analysis over time</h2><div class="charts">${metrics.map((m) => html`<figure><figcaption>${m.name}${m.bound ? html` <span class="muted">(${m.bound})</span>` : ''}</figcaption>${sparkline(m.series)}</figure>`)}</div></section>`;
}

const progress = (s: RunningStep) => {
  const bar = s.total === undefined ? '' : html` <progress max="${s.total}" value="${s.ready ?? 0}"></progress> ${s.ready ?? 0}/${s.total} ready`;
  const drain = s.draining === undefined ? '' : html` ${s.draining.pods} pods stopping${s.draining.inFlight === undefined ? '' : html`, ${s.draining.inFlight} requests in flight`}`;
  const retry = s.attempt > 1 ? html` <span class="muted">(attempt ${s.attempt}${s.lastFailure ? `: ${s.lastFailure.split('\n')[0]}` : ''})</span>` : '';
  return html`<li><b>${s.name}</b>${bar}${drain}${retry}${s.unschedulable ? html`<br><span class="fail">not scheduled: ${s.unschedulable}</span>` : ''}</li>`;
};

/** The live part of a release's page: everything but the forms. */
export function releaseView(status: ReleaseStatus, steps: readonly RunningStep[], now: number): string {
  const entered = [...status.timeline].reverse().find((e) => e.event === 'phase');
  const since = entered === undefined ? '' : ` for ${age(Date.parse(entered.at), now)}`;
  const target = parseWorkflowId(parseReleaseId(status.releaseId).workflowId) ?? { namespace: status.namespace, service: status.model };
  return html`<h1>${target.namespace}/${target.service} <span class="version">${status.version}</span></h1>
<p class="status"><span class="phase ${status.phase}" data-phase="${status.phase}">${status.phase}</span>${since}
${status.waitingFor === undefined ? '' : html` <span class="waits" data-waiting="${status.waitingFor}">waiting ${gateText(status.waitingFor)}</span>`}</p>
${status.reason ? html`<p class="reason">${status.reason}</p>` : ''}
<table class="facts">
<tr><th>slots</th><td>${slotsOf(status)}</td></tr>
${status.steps ? html`<tr><th>steps</th><td>${status.steps.done} done: candidate ${status.steps.candidate} pods, old ${status.steps.old}</td></tr>` : ''}
${status.standby ? html`<tr><th>standby</th><td>old slot at ${status.standby.replicas} pods; a rollback starts ${status.standby.toStart}</td></tr>` : ''}
<tr><th>people</th><td>${peopleOf(status)}</td></tr>
<tr><th>release</th><td><code>${status.releaseId}</code> · <a href="${historyHref(target)}">history of ${target.service}</a></td></tr>
</table>
${steps.length === 0 ? '' : html`<section><h2>Running</h2><ul class="steps">${steps.map(progress)}</ul></section>`}
${checksSection(status)}
${charts(status, steps)}
<section><h2>Timeline</h2><ol class="timeline">${status.timeline.map(timelineItem)}</ol></section>
<section><h2>From a terminal</h2>
<pre class="commands">${releaseCommands({ ...target, version: status.version, releaseId: status.releaseId }).join('\n')}</pre></section>`.text;
}

const slotsOf = (s: ReleaseStatus): Html => {
  const old = html`old ${s.oldSlot ?? '-'}${s.oldDeployment ? ` (${s.oldDeployment})` : ''}`;
  const candidate = html`candidate ${s.candidateSlot ?? '-'}${s.candidateDeployment ? ` (${s.candidateDeployment})` : ''}`;
  return html`${old} · ${candidate} · live <b>${s.liveSlot ?? '-'}</b>`;
};

const peopleOf = (s: ReleaseStatus): string => [
  s.startedBy && `started by ${s.startedBy}`, s.approvedBy && `approved by ${s.approvedBy}`, s.abortedBy && `aborted by ${s.abortedBy}`,
].filter(Boolean).join(' · ') || '-';

/** Every check of verification and analysis, with the analysis verdict above them. */
function checksSection(status: ReleaseStatus): Html | '' {
  const a = status.analysis;
  const checks = [
    ...(status.verification?.checks ?? []).map((c) => checkRow('verify', c)),
    ...(a?.checks ?? []).map((c) => checkRow('analysis', c)),
  ];
  if (checks.length === 0) return '';
  const verdict = a === undefined ? '' : a.ok ? (a.inconclusive ? 'INCONCLUSIVE' : 'ok') : 'FAILED';
  return html`<section><h2>Checks</h2>${a === undefined ? '' : html`<p>analysis ${verdict}: ${a.runs} runs, ${a.failures} failed</p>`}
<table class="checks"><thead><tr><th></th><th></th><th>check</th><th>figure</th><th>bound</th><th>detail</th></tr></thead>
<tbody>${checks}</tbody></table></section>`;
}

const timelineItem = (e: ReleaseStatus['timeline'][number]): Html =>
  html`<li class="${e.accepted === false ? 'ignored' : ''}"><time>${e.at}</time> ${timelineLine(e).slice(e.at.length + 2)}</li>`;

/** The page around the view: the approve and abort forms, pinned to the run and version shown. */
export function releasePage(status: ReleaseStatus, steps: readonly RunningStep[], user: string, now: number): string {
  const s = steeringOf(status);
  return layout(`${status.model} ${status.version}`, user, html`<div id="release" data-id="${status.releaseId}" data-version="${s.version}" data-run="${s.runId}">
<div id="view">${new Html(releaseView(status, steps, now))}</div>
<section class="decide"><h2>Decide</h2>
<form id="approve"><label>comment <input name="comment" maxlength="2000" placeholder="what you checked"></label>
<button type="submit" data-action="approve"${s.canApprove ? '' : html` disabled`}>Approve</button></form>
<form id="abort"><label>reason <input name="reason" maxlength="2000" required placeholder="why it must roll back"></label>
<button type="submit" data-action="abort" class="danger"${s.canAbort ? '' : html` disabled`}>Abort and roll back</button></form>
<p id="answer" role="status" aria-live="polite"></p></section></div>`);
}

export function historyPage(
  target: { namespace: string; service: string; cluster?: string },
  past: readonly PastRelease[],
  user: string,
): string {
  const row = (r: PastRelease) => html`<tr><td><a href="${releaseHref(r.releaseId)}">${r.version}</a></td><td><span class="phase ${r.outcome}">${r.outcome}</span></td>
<td>${r.startedAt.replace(/\.\d+Z$/, 'Z')}</td><td>${r.durationSeconds === undefined ? 'running' : `${r.durationSeconds}s`}</td>
<td>${who(r, { identities: true })}</td>
<td>${why(r)}</td></tr>`;
  const title = `${target.namespace}/${target.service}${target.cluster ? `@${target.cluster}` : ''}`;
  return layout(`History of ${target.service}`, user, html`<h1>History of ${title}</h1>
${past.length === 0 ? html`<p class="empty">No releases of ${title}.</p>` : html`<table class="history"><thead><tr><th>version</th><th>outcome</th><th>started</th><th>took</th><th>who</th><th>why</th></tr></thead>
<tbody>${past.map(row)}</tbody></table>`}`);
}
