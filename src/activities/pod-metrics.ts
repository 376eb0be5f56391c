// A pod's own metrics page, read directly at its IP: what a drain shows in
// flight, and what the monitor window counts each slot answered.
import type { V1Pod } from '@kubernetes/client-node';
import { metricSum } from '../rules/drain.js';
import { getText, type Fetch } from './http.js';

/** A metrics page that takes longer is read as unknown this round. */
export const METRICS_TIMEOUT_MS = 2_000;

/** The sum of `names` on a pod's metrics page, or undefined when it cannot be read (not started, already closed) or has none. */
export async function podMetricSum(
  fetch: Fetch, pod: V1Pod, port: number, path: string, names: readonly string[],
): Promise<number | undefined> {
  const ip = pod.status?.podIP;
  if (ip === undefined || names.length === 0) return undefined;
  const page = await getText(fetch, `http://${ip.includes(':') ? `[${ip}]` : ip}:${port}${path}`, { timeoutMs: METRICS_TIMEOUT_MS });
  return page.ok ? metricSum(page.text, names) : undefined;
}
