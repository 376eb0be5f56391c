#!/usr/bin/env node
// bluegreen: start, follow and steer releases. Exit 0 on success; otherwise one clear line.
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { Command } from 'commander';
import type { Client } from '@temporalio/client';
import { FINAL_PHASES, type ReleaseStatus, type TimelineEntry } from '../release/status.js';
import { InvalidSpecError, formatFieldError, parseSpecText } from '../release/validate.js';
import type { ReleaseSpec } from '../release/spec.js';
import { connectClient, followRelease, listReleases, readStatus, sendMessage, startRelease, UserError } from './releases.js';

const whoami = (): string => process.env.BLUEGREEN_USER || safeUser();
function safeUser(): string {
  try { return userInfo().username; } catch { return 'unknown'; }
}

function loadSpec(file: string): ReleaseSpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseSpecText(text, file);
}

const line = (e: TimelineEntry): string =>
  `${e.at}  ${e.phase.padEnd(16)} ${e.event}${e.by ? ` by ${e.by}` : ''}${e.accepted === false ? ' (not acted on)' : ''}${e.detail ? `: ${e.detail}` : ''}`;

function printStatus(s: ReleaseStatus): void {
  console.log(`release   ${s.releaseId}`);
  console.log(`model     ${s.namespace}/${s.model} version ${s.version}`);
  console.log(`phase     ${s.phase}${s.waitingFor ? ` (waiting for approval ${s.waitingFor === 'beforeSwitch' ? 'before the switch' : 'to promote'})` : ''}`);
  console.log(`slots     old ${s.oldSlot ?? '-'}  candidate ${s.candidateSlot ?? '-'}  live ${s.liveSlot ?? '-'}`);
  if (s.approvedBy) console.log(`approved  by ${s.approvedBy}`);
  if (s.abortedBy) console.log(`aborted   by ${s.abortedBy}`);
  if (s.reason) console.log(`reason    ${s.reason}`);
  for (const c of s.verification?.checks ?? []) console.log(`verify    ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
  if (s.analysis) console.log(`analysis  ${s.analysis.ok ? 'ok' : 'FAIL'}: ${s.analysis.runs} runs, ${s.analysis.failures} failed`);
  console.log('timeline');
  for (const e of s.timeline) console.log(`  ${line(e)}`);
}

async function withClient<T>(run: (client: Client) => Promise<T>): Promise<T> {
  const client = await connectClient();
  try {
    return await run(client);
  } finally {
    await client.connection.close();
  }
}

const program = new Command('bluegreen')
  .description('Blue-green releases of ML model servers on Kubernetes, driven by Temporal')
  .showHelpAfterError();

program.command('validate')
  .description('check a release spec and print every error, or a summary of a valid spec')
  .requiredOption('-f, --file <file>', 'release spec (YAML or JSON)')
  .action((opts: { file: string }) => {
    const spec = loadSpec(opts.file);
    const gates = [spec.approval.beforeSwitch ? 'approval before switch' : undefined, spec.approval.afterSwitch === 'manual' ? 'approval after monitoring' : undefined].filter(Boolean);
    console.log(`${opts.file}: valid`);
    console.log(`  ${spec.namespace}/${spec.service ?? spec.model} version ${spec.version}, image ${spec.image}, ${spec.replicas} replicas${spec.previewReplicas ? ` (${spec.previewReplicas} while verifying)` : ''}`);
    console.log(`  verify ${spec.verify.requests.length} golden requests (${spec.verify.protocol}); monitor ${spec.monitor.window} every ${spec.monitor.interval}; ${gates.length ? gates.join(', ') : 'no manual gates'}`);
  });

program.command('start')
  .description('start a release (validates the spec before connecting to anything)')
  .requiredOption('-f, --file <file>', 'release spec (YAML or JSON)')
  .option('-w, --wait', 'follow the release until it ends; exit 1 unless it succeeds')
  .action(async (opts: { file: string; wait?: boolean }) => {
    const spec = loadSpec(opts.file);
    await withClient(async (client) => {
      const handle = await startRelease(client, spec);
      console.log(`started ${handle.workflowId} (run ${handle.firstExecutionRunId}): ${spec.version} of ${spec.namespace}/${spec.service ?? spec.model}`);
      if (!opts.wait) return;
      const result = await followRelease(client, { namespace: spec.namespace, service: spec.service ?? spec.model }, (e) => console.log(line(e)));
      if (result.phase !== 'Succeeded') throw new UserError(`release ${result.phase}: ${result.reason ?? 'see bluegreen status'}`);
      console.log(`release Succeeded: ${spec.version} is live in ${result.liveSlot}`);
    });
  });

program.command('status')
  .description('show the phase, slots, checks and timeline of the latest release of a model service')
  .argument('<service>', 'model service name (the spec\'s service, which defaults to its model)')
  .option('-n, --namespace <ns>', 'Kubernetes namespace', 'default')
  .option('--watch', 'keep printing new timeline entries until the release ends')
  .option('--json', 'print the status as JSON')
  .action(async (service: string, opts: { namespace: string; watch?: boolean; json?: boolean }) => {
    await withClient(async (client) => {
      const ref = { namespace: opts.namespace, service };
      const status = await readStatus(client, ref);
      if (opts.json) console.log(JSON.stringify(status, null, 2));
      else printStatus(status);
      if (opts.watch && !FINAL_PHASES.includes(status.phase)) {
        let seen = status.timeline.length;
        await followRelease(client, ref, (e) => { if (seen-- <= 0) console.log(`  ${line(e)}`); });
      }
    });
  });

program.command('approve')
  .description('approve the release waiting at a gate (before the switch, or promote during monitoring)')
  .argument('<service>', 'model service name')
  .option('-n, --namespace <ns>', 'Kubernetes namespace', 'default')
  .option('--comment <text>', 'recorded with the approval')
  .option('--by <name>', 'who approves (default: BLUEGREEN_USER or the login name)')
  .action(async (service: string, opts: { namespace: string; comment?: string; by?: string }) => {
    await withClient(async (client) => {
      const out = await sendMessage(client, { namespace: opts.namespace, service }, { kind: 'approve', by: opts.by ?? whoami(), comment: opts.comment });
      if (!out.accepted) throw new UserError(`approve not acted on: ${out.entry.detail ?? 'see bluegreen status'}`);
      console.log(`approved: the release of ${opts.namespace}/${service} goes on from ${out.entry.phase}`);
    });
  });

program.command('abort')
  .description('abort the release: roll back to what served before')
  .argument('<service>', 'model service name')
  .option('-n, --namespace <ns>', 'Kubernetes namespace', 'default')
  .requiredOption('--reason <text>', 'why; recorded in the release\'s timeline')
  .option('--by <name>', 'who aborts (default: BLUEGREEN_USER or the login name)')
  .action(async (service: string, opts: { namespace: string; reason: string; by?: string }) => {
    await withClient(async (client) => {
      const out = await sendMessage(client, { namespace: opts.namespace, service }, { kind: 'abort', by: opts.by ?? whoami(), reason: opts.reason });
      if (!out.accepted) throw new UserError(`abort not acted on: ${out.entry.detail ?? 'see bluegreen status'}`);
      console.log(`aborted: the release of ${opts.namespace}/${service} is rolling back (was ${out.entry.phase})`);
    });
  });

program.command('list')
  .description('list releases (running ones unless --all)')
  .option('-n, --namespace <ns>', 'only this Kubernetes namespace')
  .option('--all', 'include ended releases')
  .action(async (opts: { namespace?: string; all?: boolean }) => {
    await withClient(async (client) => {
      const rows = await listReleases(client, opts);
      if (rows.length === 0) return console.log(opts.all ? 'no releases' : 'no running releases');
      for (const r of rows) {
        console.log(`${r.workflowId.padEnd(40)} ${(r.phase ?? '-').padEnd(16)} ${(r.version ?? '-').padEnd(16)} ${r.status.padEnd(10)} ${r.startTime.toISOString()}`);
      }
    });
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof InvalidSpecError) {
    console.error(`${err.source}: invalid release spec (${err.errors.length} error${err.errors.length === 1 ? '' : 's'})`);
    for (const e of err.errors) console.error(`  ${formatFieldError(e)}`);
  } else {
    console.error(`bluegreen: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
  process.exit(1);
});
