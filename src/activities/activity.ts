// The one wrapper every activity goes through, so a new activity cannot forget
// what they all need: the namespace allowlist checked before any call reaches
// the cluster, Kubernetes answers that no retry changes made non-retryable, and
// real failures counted apart from worker restarts (attempts.ts).
import type { ReleaseSpec } from '../release/spec.js';
import { ErrorTypes } from '../release/errors.js';
import { countingFailures } from './attempts.js';
import { KubeError } from './cluster.js';
import { guardNamespace, nonRetryable, type ActivityDeps } from './context.js';

type Fn = (...args: never[]) => Promise<unknown>;

/** The namespace an activity's input names: its `target`, or its `spec`'s. */
function namespaceOf(input: unknown): string | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const { target, spec } = input as { target?: { namespace?: unknown }; spec?: ReleaseSpec };
  const namespace = target?.namespace ?? spec?.namespace;
  return typeof namespace === 'string' ? namespace : undefined;
}

/** 401, 403 and 422 are answers a retry will not change. */
export function classify(err: unknown): unknown {
  const final = err instanceof KubeError && (err.code === 401 || err.code === 403 || err.code === 422);
  return final ? nonRetryable(ErrorTypes.KubernetesRejected, err.message) : err;
}

/** Wraps every activity of a table (see the file's comment). */
export function activities<T extends Record<string, Fn>>(deps: ActivityDeps, table: T): T {
  const wrap = (fn: Fn): Fn => countingFailures(async (...args: never[]) => {
    const namespace = namespaceOf(args[0]);
    if (namespace !== undefined) guardNamespace(deps, { namespace });
    try {
      return await fn(...args);
    } catch (err) {
      throw classify(err);
    }
  });
  return Object.fromEntries(Object.entries(table).map(([name, fn]) => [name, wrap(fn)])) as T;
}
