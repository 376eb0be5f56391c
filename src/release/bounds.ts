// How long each long step may take, derived from the work the spec gives it,
// so no step retries for ever and none is cut short by a fixed limit. Each
// request to Prometheus, and each health check, takes at most REQUEST_TIMEOUT_MS;
// each request to a model server, at most verify.timeout (that by default).
import { durationMs, parseDuration } from './duration.js';

/** What the bounds are derived from (the spec's fields; structural, so the schema can use them). */
interface Work {
  verify: {
    requests: readonly { stream?: boolean }[]; latency?: { requests: number; concurrency: number }; shadow?: { inputs: readonly unknown[] };
    timeout?: string; protocol?: string;
  };
  monitor: { window: string };
}

export const REQUEST_TIMEOUT_MS = 10_000;
/** How long one request to a model server may take: verify.timeout, else REQUEST_TIMEOUT_MS (specs recorded before the field have none). */
// (A timeout that is not a duration is the schema's error to report; the bound then takes the default.)
export const modelRequestMs = (spec: Pick<Work, 'verify'>): number =>
  (spec.verify.timeout === undefined ? undefined : parseDuration(spec.verify.timeout)) ?? REQUEST_TIMEOUT_MS;
/** How long the preview's EndpointSlices may take to hold the candidate's ready pods. */
export const PREVIEW_WAIT_MS = 2 * 60_000;
/**
 * How long node proxies may take to apply a Service's new endpoints after the
 * EndpointSlices changed: requests to the preview's ClusterIP before that may
 * still reach the pods it selected before.
 */
export const PROXY_SYNC_MS = 5_000;
/** Extra tries of the first health check, one second apart, for a server that has only just become ready. */
export const HEALTH_RETRIES = 5;
/** The most verification may take; a spec whose checks need longer is refused. */
export const MAX_VERIFICATION_MS = 60 * 60_000;
/** Room for a step's own reads and writes beside its requests. */
const MARGIN_MS = 60_000;

const healthMs = (HEALTH_RETRIES + 1) * (REQUEST_TIMEOUT_MS + 1_000);

/** Golden requests sent per round: with protocol openai, one left to choose is sent whole and streamed. */
const goldenSends = (verify: Work['verify']): number =>
  verify.requests.reduce((n, r) => n + (verify.protocol === 'openai' && r.stream === undefined ? 2 : 1), 0);

/** The longest verification of this spec: the preview wait, then every check's requests at their timeout. */
export function verificationBoundMs(spec: Pick<Work, 'verify'>): number {
  const { requests, latency, shadow } = spec.verify;
  const signature = 2;
  const golden = goldenSends(spec.verify);
  const latencyRounds = latency === undefined ? 0 : Math.ceil(latency.requests / Math.min(latency.concurrency, latency.requests));
  // Shadow sends each input to both models at once.
  const shadowInputs = shadow === undefined ? 0 : requests.length + shadow.inputs.length;
  const sends = signature + golden + latencyRounds + shadowInputs;
  return PREVIEW_WAIT_MS + PROXY_SYNC_MS + healthMs + sends * modelRequestMs(spec) + MARGIN_MS;
}

/** The longest measurement of the monitor: a probe round (health, golden requests) or a query. */
export const measurementBoundMs = (spec: Pick<Work, 'verify'>): number =>
  healthMs + goldenSends(spec.verify) * modelRequestMs(spec);

/** The longest monitor step: its window, a last measurement begun at its end, and room. */
export const monitorBoundMs = (spec: Work): number =>
  durationMs(spec.monitor.window) + measurementBoundMs(spec) + 5 * MARGIN_MS;

/**
 * How long a rollout may take: rolloutTimeout, or, when preflight found the
 * nodes short and capacity.whenShort is wait, capacity.timeout if longer (a
 * cluster autoscaler adds nodes for the Pending pods). Specs recorded before
 * the field have no `capacity`.
 */
export const rolloutBoundMs = (
  spec: { rolloutTimeout: string; capacity?: { whenShort: string; timeout: string } },
  short: boolean,
): number => {
  const capacity = short && spec.capacity?.whenShort === 'wait' ? spec.capacity : undefined;
  return Math.max(durationMs(spec.rolloutTimeout), capacity === undefined ? 0 : durationMs(capacity.timeout));
};

