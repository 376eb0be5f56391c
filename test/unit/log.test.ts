// The worker's log lines: JSON by default, the release id where the SDK names a
// workflow run, readable text on request, and a clear error for a bad format.
import { describe, expect, it } from 'vitest';
import { formatLog, logFormat } from '../../src/log.js';

const at = new Date('2026-11-23T10:00:00.000Z');

describe('worker logs', () => {
  it('are JSON lines carrying the release id of a workflow or activity', () => {
    const workflow = JSON.parse(formatLog('json', 'INFO', 'phase', { workflowId: 'bluegreen/ml/fraud', runId: 'r1', phase: 'Deploying' }, at)) as object;
    expect(workflow).toEqual({ time: '2026-11-23T10:00:00.000Z', level: 'INFO', message: 'phase', releaseId: 'bluegreen/ml/fraud/r1', workflowId: 'bluegreen/ml/fraud', runId: 'r1', phase: 'Deploying' });
    const activity = JSON.parse(formatLog('json', 'WARN', 'Activity failed', { workflowId: 'bluegreen/ml/fraud', workflowRunId: 'r1', taskToken: 'opaque', attempt: 2n }, at)) as object;
    expect(activity).toMatchObject({ releaseId: 'bluegreen/ml/fraud/r1', attempt: '2' });
    expect(activity).not.toHaveProperty('taskToken');
    expect(JSON.parse(formatLog('json', 'INFO', 'bluegreen worker: Temporal x', {}, at))).not.toHaveProperty('releaseId');
  });

  it('are text on request', () => {
    expect(formatLog('text', 'INFO', 'phase', { workflowId: 'bluegreen/ml/fraud', runId: 'r1' }, at))
      .toBe('2026-11-23T10:00:00.000Z INFO phase [bluegreen/ml/fraud/r1] {"workflowId":"bluegreen/ml/fraud","runId":"r1"}');
  });

  it('refuses a format it does not know, naming the variable', () => {
    expect(logFormat({})).toBe('json');
    expect(logFormat({ BLUEGREEN_LOG_FORMAT: 'text' })).toBe('text');
    expect(() => logFormat({ BLUEGREEN_LOG_FORMAT: 'yaml' })).toThrow('BLUEGREEN_LOG_FORMAT: must be json or text (got "yaml")');
  });
});
