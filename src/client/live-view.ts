// `status --watch` on a terminal: one frame, redrawn in place, with what a person
// steering a release needs at a glance. Frames are pure (renderFrame) so tests
// read them without a terminal.
import type { Client } from '@temporalio/client';
import { FINAL_PHASES, type CheckResult, type Gate, type ReleaseStatus, type TimelineEntry } from '../release/status.js';
import { decode } from './history.js';
import { QUERY_DEADLINE_MS, UserError, workflowIdOf, type ReleaseRef } from './releases.js';

/** One timeline entry as one line (status, --watch and --wait print the same). */
export const timelineLine = (e: TimelineEntry): string =>
  `${e.at}  ${e.phase.padEnd(16)} ${e.event}${e.by ? ` by ${e.by}` : ''}${e.identity ? ` [Temporal saw ${e.identity}]` : ''}${e.accepted === false ? ' (not acted on)' : ''}${e.detail ? `: ${e.detail}` : ''}`;

/** A step running in the worker now, from the server's record of it (no worker needed). */
const GATES: Record<Gate, string> = {
  beforeSwitch: 'for approval before the switch',
  afterSwitch: 'for approval to promote',
  analysis: 'for a person: the analysis was inconclusive (approve promotes, abort rolls back)',
};
export const gateText = (gate: Gate): string => GATES[gate];

/** The checks of verification and analysis, one line each, with their figures. */
export function checkLines(status: ReleaseStatus): string[] {
  const line = (stage: string, c: CheckResult) => `${stage} ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`;
  const lines = (status.verification?.checks ?? []).map((c) => line('verify   ', c));
  const a = status.analysis;
  if (a === undefined) return lines;
  const verdict = a.ok ? (a.inconclusive === true ? 'INCONCLUSIVE' : 'ok') : 'FAIL';
  lines.push(`analysis  ${verdict}: ${a.runs} runs, ${a.failures} failed`);
  // The default analysis repeats the golden requests: only its failures are news.
  const shown = (c: CheckResult) => !c.ok || c.name.startsWith('prometheus ') || c.name.startsWith('probe ');
  for (const c of a.checks.filter(shown)) lines.push(line(' '.repeat(9), c));
  return lines;
}

export interface RunningStep {
  name: string; attempt: number; ready?: number; total?: number; lastFailure?: string;
  /** a rollout's pod the scheduler cannot place: its own message (0/12 nodes are available: ...) */
  unschedulable?: string;
  /** a drain: the slot's pods still running, and the requests they answer (when their metrics are read) */
  draining?: { pods: number; inFlight?: number };
  /** the monitor window: each metric's measurements so far, [time in ms, value] */
  analysis?: { name: string; series: [number, number][] }[];
}

/** The metrics of a monitor's heartbeat (rules/analysis.ts MetricProgress), as far as they are well formed. */
export function analysisOf(metrics: unknown): RunningStep['analysis'] {
  if (!Array.isArray(metrics)) return undefined;
  return metrics.flatMap((m: { name?: unknown; provider?: unknown; series?: unknown }) => {
    if (typeof m?.name !== 'string' || typeof m.provider !== 'string') return [];
    const isPoint = (p: unknown): p is [number, number] => Array.isArray(p) && p.every(Number.isFinite);
    const series = Array.isArray(m.series) ? m.series.filter(isPoint) : [];
    return [{ name: `${m.provider} ${m.name}`, series }];
  });
}

/** A running step's heartbeat as the page reads it: any field may be missing or of another shape. */
interface BeatSeen {
  metrics?: unknown;
  progress?: { ready?: unknown; total?: unknown; unschedulable?: unknown; pods?: unknown; inFlight?: unknown };
}

export async function runningSteps(client: Client, ref: ReleaseRef): Promise<RunningStep[]> {
  const handle = client.workflow.getHandle(workflowIdOf(ref), ref.runId);
  const described = await client.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => handle.describe());
  return (described.raw.pendingActivities ?? []).map((a) => {
    const beat = decode(a.heartbeatDetails?.payloads?.[0]) as BeatSeen | undefined;
    const analysis = analysisOf(beat?.metrics);
    const { ready, total, unschedulable, pods, inFlight } = beat?.progress ?? {};
    return {
      name: a.activityType?.name ?? 'step',
      attempt: a.attempt ?? 1,
      ...(typeof ready === 'number' && typeof total === 'number' ? { ready, total } : {}),
      ...(typeof unschedulable === 'string' ? { unschedulable } : {}),
      ...(typeof pods === 'number' ? { draining: { pods, ...(typeof inFlight === 'number' ? { inFlight } : {}) } } : {}),
      ...(a.lastFailure?.message ? { lastFailure: a.lastFailure.message } : {}),
      ...(analysis === undefined ? {} : { analysis }),
    };
  });
}

const BAR = 20;
const bar = (ready: number, total: number): string => {
  const filled = total > 0 ? Math.min(BAR, Math.round((ready / total) * BAR)) : 0;
  return `[${'█'.repeat(filled)}${'░'.repeat(BAR - filled)}] ${ready}/${total} ready`;
};

const seconds = (ms: number): string => {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
};

/** A running step: its progress and retries, and why a pod of its rollout is not placed. */
export function runningLines(step: RunningStep): string[] {
  const d = step.draining;
  const draining = d === undefined ? '' : `  ${d.pods} pod${d.pods === 1 ? '' : 's'} stopping${d.inFlight === undefined ? '' : `, ${d.inFlight} requests in flight`}`;
  const progress = step.total === undefined ? draining : `  ${bar(step.ready ?? 0, step.total)}`;
  const retry = step.attempt > 1 ? `  (attempt ${step.attempt}${step.lastFailure ? `: ${step.lastFailure.split('\n')[0]}` : ''})` : '';
  const unplaced = step.unschedulable === undefined ? [] : [`          not scheduled: ${step.unschedulable}`];
  return [`running   ${step.name}${progress}${retry}`, ...unplaced];
}

/** The lines of one frame, each cut to `width` so the redraw can count them. */
export function renderFrame(
  status: ReleaseStatus, steps: RunningStep[], ref: ReleaseRef, now: number, width = 100, note?: string, timelineRows = 8,
): string[] {
  const entered = [...status.timeline].reverse().find((e) => e.event === 'phase');
  const since = entered === undefined ? '' : ` for ${seconds(now - Date.parse(entered.at))}`;
  const lines = [
    `${ref.namespace}/${ref.service} ${status.version}: ${status.phase}${since}`,
    `slots     old ${status.oldSlot ?? '-'}${status.oldDeployment ? ` (${status.oldDeployment})` : ''}   candidate ${status.candidateSlot ?? '-'}${status.candidateDeployment ? ` (${status.candidateDeployment})` : ''}   live ${status.liveSlot ?? '-'}`,
  ];
  for (const step of steps) lines.push(...runningLines(step));
  lines.push(...checkLines(status));
  if (status.reason) lines.push(`reason    ${status.reason}`);
  if (note) lines.push(`note      ${note}`);
  if (status.waitingFor) {
    const flags = `${ref.service} -n ${ref.namespace}`;
    lines.push(`waiting   ${gateText(status.waitingFor)}:`);
    lines.push(`            bluegreen approve ${flags}`);
    lines.push(`            bluegreen abort ${flags} --reason "..."`);
  }
  const shown = status.timeline.slice(-timelineRows);
  lines.push(`timeline${status.timeline.length > shown.length ? ` (last ${shown.length} of ${status.timeline.length})` : ''}`);
  for (const e of shown) lines.push(`  ${timelineLine(e)}`);
  return lines.map((l) => (l.length > width ? `${l.slice(0, Math.max(1, width - 1))}…` : l));
}

/**
 * Redraws the frame every `pollMs` until the release ends; returns its last
 * phase. A brief Temporal outage shows as a note, not as the end.
 */
export async function watchLive(
  client: Client, ref: ReleaseRef, read: () => Promise<ReleaseStatus>, out: NodeJS.WriteStream, pollMs = 1_000, outageMs = 120_000,
): Promise<ReleaseStatus['phase']> {
  let drawn = 0;
  let status = await read();
  let failingSince: number | undefined;
  let note: string | undefined;
  for (;;) {
    const ended = FINAL_PHASES.includes(status.phase);
    const steps = ended ? [] : await runningSteps(client, ref).catch(() => []);
    const frame = renderFrame(status, steps, ref, Date.now(), out.columns || 100, note);
    // Back to the first line of the last frame, clear below, draw.
    out.write(`${drawn > 0 ? `\x1b[${drawn}F\x1b[J` : ''}${frame.join('\n')}\n`);
    drawn = frame.length;
    if (ended) return status.phase;
    await new Promise((r) => setTimeout(r, pollMs));
    try {
      status = await read();
      failingSince = undefined;
      note = undefined;
    } catch (err) {
      if (err instanceof UserError) throw err;
      failingSince ??= Date.now();
      if (Date.now() - failingSince > outageMs) throw err;
      note = `cannot read the release (${(err as Error).message.split('\n')[0]}); retrying: the release goes on in the worker`;
    }
  }
}
