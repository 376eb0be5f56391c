// Configuration from the environment, shared by the worker and the CLI.
import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import { TASK_QUEUE } from './release/status.js';

export interface TemporalConfig {
  address: string;
  namespace: string;
  taskQueue: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
}

/**
 * TEMPORAL_ADDRESS (localhost:7233), TEMPORAL_NAMESPACE (default), BLUEGREEN_TASK_QUEUE (bluegreen);
 * for Temporal Cloud: TEMPORAL_API_KEY, or TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY (file paths).
 */
export function temporalConfig(env: NodeJS.ProcessEnv = process.env): TemporalConfig {
  const config: TemporalConfig = {
    address: env.TEMPORAL_ADDRESS || 'localhost:7233',
    namespace: env.TEMPORAL_NAMESPACE || 'default',
    taskQueue: env.BLUEGREEN_TASK_QUEUE || TASK_QUEUE,
  };
  if (env.TEMPORAL_TLS_CERT || env.TEMPORAL_TLS_KEY) {
    if (!env.TEMPORAL_TLS_CERT || !env.TEMPORAL_TLS_KEY) throw new Error('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together');
    config.tls = { clientCertPair: { crt: readFileSync(env.TEMPORAL_TLS_CERT), key: readFileSync(env.TEMPORAL_TLS_KEY) } };
  }
  if (env.TEMPORAL_API_KEY) {
    config.apiKey = env.TEMPORAL_API_KEY;
    config.tls ??= true;
  }
  return config;
}

/** BLUEGREEN_NAMESPACES: comma-separated namespaces the worker may touch; unset or `*` allows all. */
export function allowedNamespaces(env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  const raw = env.BLUEGREEN_NAMESPACES?.trim();
  if (!raw || raw === '*') return undefined;
  return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
}
