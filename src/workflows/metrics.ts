// The release's own metrics, beside the SDK's: releases started and finished by
// outcome, time in each phase, failed checks by kind. Workflow metrics go out
// through the worker's runtime (Prometheus where BLUEGREEN_METRICS_ADDRESS is
// set) and are not emitted again when a release replays.
import { metricMeter } from '@temporalio/workflow';
import { FINAL_PHASES, type CheckResult, type Phase } from '../release/status.js';

export interface ReleaseMetrics {
  /** A phase begins (workflow time, so replay-safe); the one before it is measured. */
  entered(phase: Phase): void;
  /** Checks that failed, counted by kind (`health`, `request`, `preview`, ...). */
  checksFailed(stage: 'verification' | 'analysis', checks: CheckResult[]): void;
}

export function releaseMetrics(model: string): ReleaseMetrics {
  const started = metricMeter.createCounter('bluegreen_releases_started', 'releases', 'releases started');
  const finished = metricMeter.createCounter('bluegreen_releases_finished', 'releases', 'releases ended, by outcome (Succeeded, RolledBack, Failed)');
  const phaseSeconds = metricMeter.createHistogram('bluegreen_phase_seconds', 'float', 's', 'time releases spent in each phase');
  const failedChecks = metricMeter.createCounter('bluegreen_checks_failed', 'checks', 'failed checks, by stage and kind');
  let current: { phase: Phase; since: number } | undefined;
  return {
    entered(phase) {
      const now = Date.now();
      if (current === undefined) started.add(1, { model });
      else phaseSeconds.record((now - current.since) / 1000, { model, phase: current.phase });
      current = { phase, since: now };
      if (FINAL_PHASES.includes(phase)) finished.add(1, { model, outcome: phase });
    },
    checksFailed(stage, checks) {
      for (const check of checks.filter((c) => !c.ok)) failedChecks.add(1, { model, stage, kind: check.name.split(' ')[0] ?? check.name });
    },
  };
}
