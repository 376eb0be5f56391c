// The vocabulary of draining a slot before it goes: the in-flight gauges of the
// servers users run (and their request counters, for the monitor window's
// traffic share), and what a drain reports.
import type { RequestHeader } from './secrets.js';
import type { Slot } from './status.js';
import type { Target } from './target.js';

/** A Prometheus metric name (colons allowed, as vLLM's `vllm:num_requests_running`). */
export const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * Ready-made in-flight gauges, summed per pod: requests being answered, and
 * those queued (a queued request is a client waiting for an answer too).
 */
export const IN_FLIGHT_METRICS = {
  vllm: ['vllm:num_requests_running', 'vllm:num_requests_waiting'],
  tgi: ['tgi_batch_current_size', 'tgi_queue_size'],
  example: ['model_requests_in_flight'],
} as const;
/** Ready-made request counters, summed per pod: what the monitor window's traffic share counts. */
export const REQUEST_COUNTERS = {
  vllm: ['vllm:request_success_total'],
  tgi: ['tgi_request_count'],
  example: ['model_requests_total'],
} as const;
type Preset = keyof typeof IN_FLIGHT_METRICS;
export const IN_FLIGHT_PRESETS = Object.keys(IN_FLIGHT_METRICS) as [Preset, ...Preset[]];

/** The metric names a spec's `monitor.traffic.requests` stands for. */
export const requestCounters = (requests: Preset | readonly string[]): readonly string[] =>
  typeof requests === 'string' ? REQUEST_COUNTERS[requests] : requests;

/** The metric names a spec's `drain.inFlight` stands for. */
export const inFlightMetrics = (inFlight: Preset | readonly string[] | undefined): readonly string[] =>
  inFlight === undefined ? [] : typeof inFlight === 'string' ? IN_FLIGHT_METRICS[inFlight] : inFlight;

/** What a drain's Prometheus query may name: the slot drained, not the release's version (the old slot runs another). */
export const DRAIN_PLACEHOLDERS = ['model', 'namespace', 'service', 'slot', 'deployment'] as const;

/** One pod of a draining slot: its requests in flight (undefined: its metrics could not be read). */
export interface DrainingPod { pod: string; inFlight?: number }

/** What a drain found: done when the pods ended by themselves; else the pods it stopped and what they still served. */
export interface DrainReport {
  drained: boolean;
  tookMs: number;
  pods: number;
  /** the pods still running at drain.timeout (told to stop at once then), with their requests in flight */
  cut: DrainingPod[];
  /** the most requests seen in flight at once across the slot's pods, when any were read */
  mostInFlight?: number;
  /** why no request in flight could be read from Prometheus (drain.prometheus), when none was */
  unread?: string;
}

/** A drain of one slot: stop its pods, wait up to `timeoutMs` for them to end, reading `metrics` on each. */
export interface DrainInput {
  target: Target;
  slot: Slot;
  deployment: string;
  timeoutMs: number;
  /** the in-flight gauges to sum on each pod's metrics page; none: only wait for the pods to end */
  metrics: readonly string[];
  /** the metrics page: this port and path */
  port: number;
  path: string;
  /** drain.prometheus: read the requests in flight there instead (the query's placeholders not yet filled) */
  prometheus?: { address: string; query?: string; headers?: RequestHeader[] };
}
