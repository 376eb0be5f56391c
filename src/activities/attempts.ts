// Temporal counts every ended attempt alike, but a worker that went away (a
// deploy, a crash: the heartbeat times out) is no failure of the step. So the
// long steps retry without an attempt limit, and count their real failures
// themselves, in their heartbeat details, where each new attempt finds them.
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';

/** Real failures (not worker restarts) after which a step with no attempt limit gives up. */
export const FAILURE_LIMIT = 8;

interface Counted { failed?: number }
const lastBeat = new WeakMap<Context, object>();

const failedBefore = (ctx: Context): number => {
  const n = (ctx.info.heartbeatDetails as Counted | undefined)?.failed;
  return typeof n === 'number' ? n : 0;
};

/** What an earlier attempt heartbeated, without the failure count; undefined on a first attempt. */
export function resumed<T extends object>(): Partial<T> | undefined {
  const details = Context.current().info.heartbeatDetails as (T & Counted) | undefined;
  if (typeof details !== 'object' || details === null) return undefined;
  const { failed: _, ...rest } = details;
  return rest as Partial<T>;
}

/** Heartbeats `details`, carrying this step's failure count to the next attempt. */
export function beat(details: object = {}): void {
  const ctx = Context.current();
  const counted = { ...details, failed: failedBefore(ctx) };
  lastBeat.set(ctx, counted);
  ctx.heartbeat(counted);
}

const unlimited = (ctx: Context): boolean => !(ctx.info.retryPolicy?.maximumAttempts ?? 0);

const retryable = (err: unknown): err is Error =>
  err instanceof Error && !(err instanceof CancelledFailure) && !(err instanceof ApplicationFailure && err.nonRetryable);

/**
 * Wraps an activity: when it runs with no attempt limit, a retryable failure is
 * counted in the heartbeat before it is thrown, and the `FAILURE_LIMIT`th one is
 * thrown as non-retryable, so a broken step still ends however often the worker restarts.
 */
export function countingFailures<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A): Promise<R> => {
    try {
      return await fn(...args);
    } catch (err) {
      const ctx = Context.current();
      if (!unlimited(ctx) || !retryable(err)) throw err;
      const failed = failedBefore(ctx) + 1;
      if (failed >= FAILURE_LIMIT) {
        const type = (err instanceof ApplicationFailure ? err.type : err.name) ?? undefined;
        throw ApplicationFailure.create({ type, nonRetryable: true, message: `${err.message} (failed ${failed} times; worker restarts not counted)`, cause: err });
      }
      ctx.heartbeat({ ...(lastBeat.get(ctx) ?? ctx.info.heartbeatDetails), failed });
      throw err;
    }
  };
}
