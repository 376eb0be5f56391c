// Notices to the webhooks the worker is configured with. Each attempt skips the
// webhooks an earlier attempt reached (its heartbeat says which), and every
// body carries the notice's key, the same on every attempt: a worker killed
// mid-send sends again on its next attempt, and the receiver drops the repeat.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Notice, NotifyReport } from '../release/notify.js';
import { bodyFor, releasePage } from '../rules/notify.js';
import { beat } from './attempts.js';
import type { ActivityContext } from './context.js';
import { requestText } from './http.js';
import { heartbeating } from './waits.js';

/** Each webhook's request may take this long. */
const SEND_TIMEOUT_MS = 10_000;

export function notifyActivities({ deps, fetch }: ActivityContext) {
  return {
    async notify(notice: Notice): Promise<NotifyReport> {
      const webhooks = deps.webhooks ?? [];
      const before = Context.current().info.heartbeatDetails as { sent?: number[] } | undefined;
      const sent = new Set(before?.sent ?? []);
      const page = releasePage(deps.uiUrl, notice.releaseId);
      const failures: string[] = [];
      for (const [i, hook] of webhooks.entries()) {
        if (sent.has(i)) continue;
        beat({ sent: [...sent] });
        const headers = { 'idempotency-key': notice.key, 'x-bluegreen-event': notice.kind };
        const body = bodyFor(hook, notice, page);
        const out = await heartbeating(
          () => requestText(fetch, hook.url, { body, headers, timeoutMs: SEND_TIMEOUT_MS }), { sent: [...sent] },
        );
        if (out.ok) {
          sent.add(i);
          beat({ sent: [...sent] });
        } else {
          // A webhook's URL is its secret (Slack's is): the history names it by place and host only.
          const named = `${hook.format} webhook ${i + 1} (${new URL(hook.url).host})`;
          failures.push(out.error.replaceAll(hook.url, named));
        }
      }
      if (failures.length > 0) {
        throw ApplicationFailure.retryable(`${notice.kind} not delivered to ${failures.length} of ${webhooks.length} webhooks: ${failures.join('; ')}`, 'NotifyFailed');
      }
      return { sent: webhooks.length - (before?.sent?.length ?? 0), skipped: before?.sent?.length ?? 0 };
    },
  };
}
