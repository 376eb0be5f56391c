// The worker's logs: JSON lines by default (for log pipelines), each line of a
// release carrying its id (`bluegreen/<namespace>/<service>/<run>`, the id
// `status` shows); BLUEGREEN_LOG_FORMAT=text for a person at a terminal.
import { DefaultLogger, type LogEntry } from '@temporalio/worker';
import type { LogLevel, LogMetadata } from '@temporalio/common';
import type { LogFormat } from './config.js';

export { logFormat, type LogFormat } from './config.js';

// Opaque or bulky attributes the SDK adds that help no reader.
const DROPPED = new Set(['taskToken', 'sdkComponent']);

/** One log line: the time, level, message, the release id where there is one, and the attributes. */
export function formatLog(format: LogFormat, level: LogLevel, message: string, meta: LogMetadata = {}, at = new Date()): string {
  const fields = Object.fromEntries(Object.entries(meta).filter(([k, v]) => !DROPPED.has(k) && v !== undefined));
  const run = meta.runId ?? meta.workflowRunId;
  const releaseId = typeof meta.workflowId === 'string' && typeof run === 'string' ? `${meta.workflowId}/${run}` : undefined;
  if (format === 'text') {
    const rest = Object.keys(fields).length === 0 ? '' : ` ${JSON.stringify(fields)}`;
    return `${at.toISOString()} ${level} ${message}${releaseId === undefined ? '' : ` [${releaseId}]`}${rest}`;
  }
  const line = { time: at.toISOString(), level, message, ...(releaseId === undefined ? {} : { releaseId }), ...fields };
  return JSON.stringify(line, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/** The SDK's logger (workflow, activity and worker logs), writing our lines to stdout. */
export function runtimeLogger(format: LogFormat): DefaultLogger {
  return new DefaultLogger('INFO', (entry: LogEntry) => {
    const at = new Date(Number(entry.timestampNanos / 1_000_000n));
    process.stdout.write(`${formatLog(format, entry.level, entry.message, entry.meta, at)}\n`);
  });
}

/** The worker's own lines (startup, waiting for a server, fatal errors), in the same format. */
export function workerLog(format: LogFormat) {
  const write = (stream: NodeJS.WriteStream, level: LogLevel) => (message: string, meta?: LogMetadata) => {
    stream.write(`${formatLog(format, level, message, meta)}\n`);
  };
  return { info: write(process.stdout, 'INFO'), warn: write(process.stderr, 'WARN'), error: write(process.stderr, 'ERROR') };
}
