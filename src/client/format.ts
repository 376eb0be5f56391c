// What the CLI prints: a release's status, tables, and who did what, from the
// same data `--output json` gives.
import type { ReleaseStatus } from '../release/status.js';
import type { PastRelease } from './history.js';
import { checkLines, gateText, runningLines, timelineLine, type RunningStep } from './live-view.js';

/** Where the CLI writes: a line at a time, to its output and to its errors. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** a terminal's width, when the output is one */
  columns?: number;
}

export const consoleIo: Io = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  get columns() { return process.stdout.isTTY ? process.stdout.columns : undefined; },
};

export function printStatus(s: ReleaseStatus, io: Io, running: RunningStep[] = []): void {
  io.out(`release   ${s.releaseId}`);
  io.out(`model     ${s.namespace}/${s.model} version ${s.version}`);
  io.out(`phase     ${s.phase}${s.waitingFor ? ` (waiting ${gateText(s.waitingFor)})` : ''}`);
  io.out(`slots     old ${s.oldSlot ?? '-'}  candidate ${s.candidateSlot ?? '-'}  live ${s.liveSlot ?? '-'}`);
  if (s.candidateDeployment) io.out(`deploy    old ${s.oldDeployment ?? '-'}  candidate ${s.candidateDeployment}`);
  if (s.steps) io.out(`steps     ${s.steps.done} done: candidate ${s.steps.candidate} pods, old ${s.steps.old}`);
  if (s.standby) {
    const cost = s.standby.toStart === 0 ? 'nothing to start' : `${s.standby.toStart} pods to start, up to ${s.standby.startupSeconds}s each by their probes`;
    io.out(`standby   old slot at ${s.standby.replicas} pods; a rollback needs ${cost}`);
  }
  if (s.startedBy) io.out(`started   by ${s.startedBy}`);
  if (s.approvedBy) io.out(`approved  by ${s.approvedBy}`);
  if (s.abortedBy) io.out(`aborted   by ${s.abortedBy}`);
  for (const l of running.flatMap(runningLines)) io.out(l);
  if (s.reason) io.out(`reason    ${s.reason}`);
  for (const l of checkLines(s)) io.out(l);
  io.out('timeline');
  for (const e of s.timeline) io.out(`  ${timelineLine(e)}`);
}

export const who = (r: PastRelease, { identities = false } = {}): string => [
  r.startedBy ? `started by ${r.startedBy}` : undefined,
  ...r.messages.map((m) => `${m.kind === 'approve' ? 'approved' : 'aborted'} by ${m.by}${identities && m.identity ? ` [${m.identity}]` : ''}`),
].filter(Boolean).join(', ') || '-';
export const why = (r: PastRelease): string =>
  r.messages.find((m) => m.kind === 'abort')?.reason ?? r.reason ?? r.messages.find((m) => m.comment)?.comment ?? '';

/** Columns as wide as their widest cell; the last one is cut to the terminal's width. */
export function table(io: Io, headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const width = io.columns;
  for (const cells of [headers, ...rows]) {
    const text = cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
    io.out(width !== undefined && text.length > width ? `${text.slice(0, width - 1)}…` : text);
  }
}

