// Configuration from the environment, shared by the worker and the CLI: the
// only reader of process.env in src/. Every value is parsed here and refused
// with its name and what is allowed when bad, before anything starts.
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { TLSConfig } from '@temporalio/client';
import { parseDuration } from './release/duration.js';
import { TASK_QUEUE, taskQueueFor } from './release/ids.js';
import { WEBHOOK_FORMATS, type Webhook } from './release/notify.js';

export { taskQueueFor } from './release/ids.js';

export interface TemporalConfig {
  address: string;
  namespace: string;
  taskQueue: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
}

/**
 * TEMPORAL_ADDRESS (localhost:7233), TEMPORAL_NAMESPACE (default), BLUEGREEN_TASK_QUEUE (bluegreen);
 * for Temporal Cloud: TEMPORAL_API_KEY, or TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY (file paths);
 * for a self-hosted server with its own CA: TEMPORAL_TLS_CA (file) and TEMPORAL_TLS_SERVER_NAME.
 * BLUEGREEN_CLUSTER names the cluster a worker serves: its task queue becomes
 * `<queue>-<cluster>`, so workers of two clusters on one Temporal namespace never
 * take each other's releases.
 */
export function temporalConfig(env: NodeJS.ProcessEnv = process.env): TemporalConfig {
  const config: TemporalConfig = {
    address: env.TEMPORAL_ADDRESS || 'localhost:7233',
    namespace: env.TEMPORAL_NAMESPACE || 'default',
    taskQueue: taskQueueFor(baseTaskQueue(env), env.BLUEGREEN_CLUSTER_NAME),
  };
  if (env.TEMPORAL_TLS_CERT || env.TEMPORAL_TLS_KEY) {
    if (!env.TEMPORAL_TLS_CERT || !env.TEMPORAL_TLS_KEY) throw new Error('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together');
    config.tls = { clientCertPair: { crt: readFileSync(env.TEMPORAL_TLS_CERT), key: readFileSync(env.TEMPORAL_TLS_KEY) } };
  }
  if (env.TEMPORAL_TLS_CA || env.TEMPORAL_TLS_SERVER_NAME) {
    const base = typeof config.tls === 'object' ? config.tls : {};
    config.tls = {
      ...base,
      ...(env.TEMPORAL_TLS_CA ? { serverRootCACertificate: readFileSync(env.TEMPORAL_TLS_CA) } : {}),
      ...(env.TEMPORAL_TLS_SERVER_NAME ? { serverNameOverride: env.TEMPORAL_TLS_SERVER_NAME } : {}),
    };
  }
  if (env.TEMPORAL_API_KEY) {
    config.apiKey = env.TEMPORAL_API_KEY;
    config.tls ??= true;
  }
  return config;
}

/** BLUEGREEN_TASK_QUEUE (bluegreen): the queue before any cluster name is added. */
export const baseTaskQueue = (env: NodeJS.ProcessEnv = process.env): string => env.BLUEGREEN_TASK_QUEUE || TASK_QUEUE;

/** BLUEGREEN_CLUSTER_NAME: the cluster this worker serves (and its releases name). */
export const clusterName = (env: NodeJS.ProcessEnv = process.env): string | undefined => env.BLUEGREEN_CLUSTER_NAME?.trim() || undefined;

/**
 * A worker running inside a cluster must be told which namespaces it may touch:
 * an unset BLUEGREEN_NAMESPACES there is an error, not a silent allow-all
 * (`*` says allow-all on purpose).
 */
export function requireNamespaceAllowlist(env: NodeJS.ProcessEnv = process.env): void {
  if (env.KUBERNETES_SERVICE_HOST && !env.BLUEGREEN_NAMESPACES?.trim()) {
    throw new Error('BLUEGREEN_NAMESPACES is not set: a worker in a cluster must name the namespaces it may release into (comma-separated, or * for all)');
  }
}

/** BLUEGREEN_NAMESPACES: comma-separated namespaces the worker may touch; unset or `*` allows all. */
export function allowedNamespaces(env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  const raw = env.BLUEGREEN_NAMESPACES?.trim();
  if (!raw || raw === '*') return undefined;
  return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/**
 * BLUEGREEN_VERIFY_HOSTS: comma-separated hosts (or host:port) that verification
 * and analysis may send requests to besides the release's own Services. Unset:
 * the release's own Services only, so a spec cannot aim the worker at a
 * metadata service or an internal admin API.
 */
export function allowedEndpointHosts(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.BLUEGREEN_VERIFY_HOSTS ?? '').split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
}

/** The default of BLUEGREEN_MAX_CACHED_WORKFLOWS: releases a worker keeps in memory between their steps. */
export const DEFAULT_CACHED_RELEASES = 100;

/**
 * BLUEGREEN_MAX_CACHED_WORKFLOWS: how many releases the worker keeps in memory
 * between their steps. Each costs about 0.75 MiB; one that is not kept is rebuilt
 * from its history (a few milliseconds) when its next step comes, so this bounds
 * the worker's memory however many releases are in flight. At 1,000 releases,
 * 100 kept a worker at 660 MiB and 250 at 1,053 MiB, with less CPU, not more
 * (docs/benchmarks.md, Scale).
 */
export function maxCachedReleases(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.BLUEGREEN_MAX_CACHED_WORKFLOWS?.trim();
  if (!raw) return DEFAULT_CACHED_RELEASES;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 2) throw new Error(`BLUEGREEN_MAX_CACHED_WORKFLOWS is "${raw}": it must be a whole number of at least 2`);
  return n;
}

/**
 * BLUEGREEN_METRICS_ADDRESS (HOST:PORT, e.g. 0.0.0.0:9464): where the worker
 * serves Prometheus metrics; unset, it serves none.
 */
export function metricsAddress(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const raw = env.BLUEGREEN_METRICS_ADDRESS?.trim();
  if (!raw) return undefined;
  const m = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(raw);
  if (m === null || Number(m[2]) > 65535) throw new Error(`BLUEGREEN_METRICS_ADDRESS is "${raw}": it must be HOST:PORT, e.g. 0.0.0.0:9464`);
  return raw;
}

/** A duration variable (`20s`, `1m30s`, the spec's forms) in milliseconds; unset or empty gives `fallback`. */
function durationVariable(env: NodeJS.ProcessEnv, name: string, fallback: string): number {
  const raw = env[name]?.trim() || fallback;
  const ms = parseDuration(raw);
  if (ms === undefined) throw new Error(`${name} is "${raw}": it must be a duration such as 20s, 1m30s or 2m (units ms, s, m, h, d)`);
  return ms;
}

/**
 * BLUEGREEN_SHUTDOWN_GRACE (20s): on SIGTERM (a deploy), how long running steps
 * get to finish before they are cancelled; a long wait then resumes from its
 * heartbeat on the next worker.
 */
export const shutdownGraceMs = (env: NodeJS.ProcessEnv = process.env): number => durationVariable(env, 'BLUEGREEN_SHUTDOWN_GRACE', '20s');

/** BLUEGREEN_CONNECT_TIMEOUT (60s): how long the worker waits for Temporal and the cluster API at start. */
export const connectTimeoutMs = (env: NodeJS.ProcessEnv = process.env): number => durationVariable(env, 'BLUEGREEN_CONNECT_TIMEOUT', '60s');

export type LogFormat = 'json' | 'text';

/** BLUEGREEN_LOG_FORMAT: json (default, for log pipelines) or text (for a person at a terminal). */
export function logFormat(env: NodeJS.ProcessEnv = process.env): LogFormat {
  const format = env.BLUEGREEN_LOG_FORMAT || 'json';
  if (format !== 'json' && format !== 'text') throw new Error(`BLUEGREEN_LOG_FORMAT: must be json or text (got ${JSON.stringify(format)})`);
  return format;
}

/** Who the CLI says sends a message or starts a release: BLUEGREEN_USER, else the login name. */
export function cliUser(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BLUEGREEN_USER) return env.BLUEGREEN_USER;
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** KUBECONFIG as set, for messages about a kubeconfig that cannot be loaded. */
export const kubeconfigVariable = (env: NodeJS.ProcessEnv = process.env): string => env.KUBECONFIG ?? 'unset';

const isHttpUrl = (text: string): boolean => URL.canParse(text) && /^https?:$/.test(new URL(text).protocol);

/**
 * BLUEGREEN_NOTIFY: the webhooks the worker tells of gates, rollbacks and
 * outcomes; comma-separated `FORMAT=URL` (`slack=https://hooks.slack.com/...`,
 * `json=https://...`), a bare URL being json. Unset: none.
 */
export function notifyWebhooks(env: NodeJS.ProcessEnv = process.env): Webhook[] {
  const raw = env.BLUEGREEN_NOTIFY?.trim();
  if (!raw) return [];
  return raw.split(',').map((s) => s.trim()).filter((s) => s !== '').map((entry) => {
    const m = /^([a-z]+)=(.*)$/.exec(entry);
    const [format, url] = m === null ? ['json', entry] : [m[1]!, m[2]!];
    const allowed = `each entry is FORMAT=URL with FORMAT ${WEBHOOK_FORMATS.join(' or ')}, or a bare http(s) URL`;
    if (!(WEBHOOK_FORMATS as readonly string[]).includes(format)) throw new Error(`BLUEGREEN_NOTIFY: unknown format "${format}" in "${entry}": ${allowed}`);
    if (!isHttpUrl(url)) throw new Error(`BLUEGREEN_NOTIFY: "${url}" is not an http(s) URL: ${allowed}`);
    return { format: format as Webhook['format'], url };
  });
}

/** BLUEGREEN_UI_URL: where `bluegreen ui` is served, for the links in notifications (https://bluegreen.example.com). */
export function uiUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const raw = env.BLUEGREEN_UI_URL?.trim();
  if (!raw) return undefined;
  if (!isHttpUrl(raw)) throw new Error(`BLUEGREEN_UI_URL is "${raw}": it must be the http(s) URL the page is served at`);
  return raw;
}

/**
 * `bluegreen ui`'s way to know its users: BLUEGREEN_UI_USER_HEADER names the
 * header an authenticating proxy sets (X-Forwarded-User); else BLUEGREEN_UI_TOKEN
 * is the token its link carries (a random one when unset).
 */
export function uiAuth(env: NodeJS.ProcessEnv = process.env): { userHeader?: string; token?: string } {
  const header = env.BLUEGREEN_UI_USER_HEADER?.trim();
  const token = env.BLUEGREEN_UI_TOKEN?.trim();
  if (header && !/^[A-Za-z0-9-]+$/.test(header)) throw new Error(`BLUEGREEN_UI_USER_HEADER is "${header}": it must be a header name such as X-Forwarded-User`);
  if (token !== undefined && token !== '' && token.length < 16) throw new Error('BLUEGREEN_UI_TOKEN is shorter than 16 characters: use a long random one (openssl rand -hex 16)');
  return { ...(header ? { userHeader: header } : {}), ...(token ? { token } : {}) };
}

/** Every worker setting read at once, so a bad one stops the worker at its start, named, before it connects. */
export function checkWorkerSettings(env: NodeJS.ProcessEnv = process.env): void {
  requireNamespaceAllowlist(env);
  const settings = [
    logFormat, shutdownGraceMs, connectTimeoutMs, maxCachedReleases, metricsAddress, temporalConfig, notifyWebhooks, uiUrl,
  ];
  for (const read of settings) read(env);
}
