#!/usr/bin/env node
// bluegreen: start, follow and steer releases. Exit 0 on success; otherwise one clear line.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import type { Client } from '@temporalio/client';
import { FINAL_PHASES, PHASES, type ReleaseStatus } from '../release/status.js';
import { InvalidSpecError, formatFieldError } from '../release/validate.js';
import { loadSpecFile } from '../release/spec-file.js';
import type { ReleaseSpec } from '../release/spec.js';
import { releaseSpecJsonSchema } from '../release/schema.js';
import {
  connectClient, followRelease, hasWorker, listReleases, readStatus, releaseTaskQueue, sendMessage, startRelease, UserError, withSenderIdentities,
} from './releases.js';
import { releaseHistory, rollbackSpec, type PastRelease } from './history.js';
import { checkLines, gateText, timelineLine, watchLive } from './live-view.js';

const whoami = (): string => process.env.BLUEGREEN_USER || safeUser();
function safeUser(): string {
  try { return userInfo().username; } catch { return 'unknown'; }
}

function loadSpec(file: string): ReleaseSpec {
  return loadSpecFile(file);
}

const line = timelineLine;

function printStatus(s: ReleaseStatus): void {
  console.log(`release   ${s.releaseId}`);
  console.log(`model     ${s.namespace}/${s.model} version ${s.version}`);
  console.log(`phase     ${s.phase}${s.waitingFor ? ` (waiting ${gateText(s.waitingFor)})` : ''}`);
  console.log(`slots     old ${s.oldSlot ?? '-'}  candidate ${s.candidateSlot ?? '-'}  live ${s.liveSlot ?? '-'}`);
  if (s.candidateDeployment) console.log(`deploy    old ${s.oldDeployment ?? '-'}  candidate ${s.candidateDeployment}`);
  if (s.startedBy) console.log(`started   by ${s.startedBy}`);
  if (s.approvedBy) console.log(`approved  by ${s.approvedBy}`);
  if (s.abortedBy) console.log(`aborted   by ${s.abortedBy}`);
  if (s.reason) console.log(`reason    ${s.reason}`);
  for (const l of checkLines(s)) console.log(l);
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

/** Ctrl-C stops following, not the release: say so, and how to steer it. */
function onInterrupt(namespace: string, service: string): void {
  process.once('SIGINT', () => {
    console.error(`\nbluegreen: stopped following; the release of ${namespace}/${service} goes on in the worker.`);
    console.error(`  follow again: bluegreen status ${service} -n ${namespace} --watch`);
    console.error(`  roll it back: bluegreen abort ${service} -n ${namespace} --reason "..."`);
    process.exit(130);
  });
}

const program = new Command('bluegreen')
  .description('Blue-green releases of ML model servers on Kubernetes, driven by Temporal')
  .showHelpAfterError('(add --help for usage)');

program.command('validate')
  .description('check a release spec and print every error, or a summary of a valid spec')
  .requiredOption('-f, --file <file>', 'release spec (YAML or JSON)')
  .addHelpText('after', '\nExample:\n  bluegreen validate -f examples/fraud-v2-every-check.yaml')
  .action((opts: { file: string }) => {
    const spec = loadSpec(opts.file);
    const gates = [spec.approval.beforeSwitch ? 'approval before switch' : undefined, spec.approval.afterSwitch === 'manual' ? 'approval after monitoring' : undefined].filter(Boolean);
    console.log(`${opts.file}: valid`);
    console.log(`  ${spec.namespace}/${spec.service ?? spec.model} version ${spec.version}, image ${spec.image ?? `of the ${spec.template ? 'template' : 'live Deployment'}`}, ${spec.template ? 'its own pod template' : 'the live pod template'}, ${spec.replicas ?? 'the live Deployment\'s (else 1)'} replicas${spec.previewReplicas ? ` (${spec.previewReplicas} while verifying)` : ''}`);
    const checks = [
      spec.verify.protocol === 'v2' ? `signature${spec.verify.allowSignatureChange ? ' (changes allowed)' : ''}` : undefined,
      `${spec.verify.requests.length} golden requests (${spec.verify.protocol})`,
      spec.verify.latency && 'latency percentiles', spec.verify.shadow && `shadow agreement >= ${spec.verify.shadow.minAgreement}`,
    ].filter(Boolean).join(', ');
    const analysis = spec.monitor.analysis === undefined ? `every ${spec.monitor.interval}` : `with ${spec.monitor.analysis.map((a) => a.name).join(', ')}`;
    console.log(`  verify ${checks}; monitor ${spec.monitor.window} ${analysis}; ${gates.length ? gates.join(', ') : 'no manual gates'}`);
  });

program.command('demo')
  .description('run the demo from a clone of this repository: a local cluster, Temporal and the worker, two releases, then the commands to try (Ctrl-C stops it)')
  .option('--once', 'stop everything after the two releases (what CI runs)')
  .option('--context', 'release into namespace bluegreen-demo of the current kube context instead of a local cluster; says what is missing there')
  .addHelpText('after', '\nExamples:\n  bluegreen demo --once\n  KUBECONFIG=~/.kube/staging bluegreen demo --context')
  .action(async (opts: { once?: boolean; context?: boolean }) => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    // The local cluster is built by test/cluster, which only a clone has (the package ships dist, examples, deploy).
    const missing = ['examples/demo.sh', 'test/cluster/start.sh', 'scripts/demo-context.mjs'].filter((f) => !existsSync(join(root, f)));
    if (missing.length > 0) throw new UserError(`demo needs a clone of the Bluegreen repository (${missing.join(', ')} not found under ${root}); there, run npm run demo`);
    const child = spawn('bash', [join(root, 'examples/demo.sh'), ...(opts.once ? ['--once'] : []), ...(opts.context ? ['--context'] : [])], { cwd: root, stdio: 'inherit' });
    // Ctrl-C reaches the demo too (same terminal): it stops what it started, then so do we.
    process.on('SIGINT', () => undefined);
    const code = await new Promise<number>((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal === 'SIGINT' ? 130 : 1))));
    process.exit(code);
  });

program.command('schema')
  .description('print the JSON Schema of release specs (what schema/release-spec.schema.json holds)')
  .addHelpText('after', '\nExample:\n  bluegreen schema > release-spec.schema.json')
  .action(() => {
    console.log(JSON.stringify(releaseSpecJsonSchema(), null, 2));
  });

program.command('start')
  .description('start a release (validates the spec before connecting to anything)')
  .requiredOption('-f, --file <file>', 'release spec (YAML or JSON)')
  .option('-w, --wait', 'follow the release until it ends; exit 1 unless it succeeds')
  .option('--by <name>', 'who starts it (default: BLUEGREEN_USER or the login name)')
  .addHelpText('after', '\nExample:\n  bluegreen start -f examples/release.yaml --wait')
  .action(async (opts: { file: string; wait?: boolean; by?: string }) => {
    const spec = loadSpec(opts.file);
    await withClient((client) => launch(client, spec, opts.wait === true, opts.by ?? whoami()));
  });

/** Starts a release, warns when no worker would run it, and with `wait` follows it to its end. */
async function launch(client: Client, spec: ReleaseSpec, wait: boolean, by: string): Promise<void> {
  const handle = await startRelease(client, spec, undefined, by);
  const service = spec.service ?? spec.model;
  console.log(`started ${handle.workflowId} (run ${handle.firstExecutionRunId}): ${spec.version} of ${spec.namespace}/${service}`);
  const taskQueue = releaseTaskQueue(spec);
  if (!(await hasWorker(client, taskQueue).catch(() => true))) {
    console.error(`bluegreen: no worker polls task queue "${taskQueue}" in this Temporal namespace: the release waits until one starts (npm run worker, or BLUEGREEN_TASK_QUEUE)`);
  }
  if (!wait) return;
  onInterrupt(spec.namespace, service);
  const ref = { namespace: spec.namespace, service, runId: handle.firstExecutionRunId };
  const result = await followRelease(client, ref, (e) => console.log(line(e)), 1_000, (note) => console.error(`bluegreen: ${note}`));
  if (result.phase !== 'Succeeded') throw new UserError(`release ${result.phase}: ${result.reason ?? 'see bluegreen status'}`);
  console.log(`release Succeeded: ${spec.version} is live in ${result.liveSlot}`);
}

program.command('status')
  .description('show the phase, slots, checks and timeline of the latest release of a model service')
  .argument('<service>', 'model service name (the spec\'s service, which defaults to its model)')
  .option('-n, --namespace <ns>', 'Kubernetes namespace', 'default')
  .option('--watch', 'follow the release until it ends: a live view on a terminal, new timeline lines otherwise')
  .option('-o, --output <format>', 'text or json', outputFormat, 'text')
  .option('--json', 'the same as --output json')
  .addHelpText('after', '\nExamples:\n  bluegreen status fraud -n ml --watch\n  bluegreen status fraud -n ml -o json')
  .action(async (service: string, opts: { namespace: string; watch?: boolean; json?: boolean; output: Output }) => {
    await withClient(async (client) => {
      const ref = { namespace: opts.namespace, service };
      const json = opts.json === true || opts.output === 'json';
      if (opts.watch && !json && process.stdout.isTTY) {
        const first = await readStatus(client, ref);
        const pinned = { ...ref, runId: first.releaseId.split('/').at(-1) };
        if (!FINAL_PHASES.includes(first.phase)) onInterrupt(opts.namespace, service);
        const phase = await watchLive(client, pinned, () => readStatus(client, pinned), process.stdout);
        if (phase !== 'Succeeded') throw new UserError(`release ${phase}`);
        return;
      }
      const status = await withSenderIdentities(client, await readStatus(client, ref));
      if (json) console.log(JSON.stringify(status, null, 2));
      else printStatus(status);
      if (!opts.watch) return;
      let phase = status.phase;
      if (!FINAL_PHASES.includes(phase)) {
        onInterrupt(opts.namespace, service);
        const pinned = { ...ref, runId: status.releaseId.split('/').at(-1) };
        phase = (await followRelease(client, pinned, (e) => console.log(`  ${line(e)}`), 1_000, (note) => console.error(`bluegreen: ${note}`), status.timeline.length)).phase;
      }
      // Scripts watch for the outcome: only a release that succeeded exits 0.
      if (phase !== 'Succeeded') throw new UserError(`release ${phase}`);
    });
  });

program.command('approve')
  .description('approve the release waiting at a gate (before the switch, or promote during monitoring)')
  .argument('<service>', 'model service name')
  .option('-n, --namespace <ns>', 'Kubernetes namespace', 'default')
  .option('--comment <text>', 'recorded with the approval')
  .option('--by <name>', 'who approves (default: BLUEGREEN_USER or the login name)')
  .option('--version <version>', 'only if the running release is of this version')
  .option('--run <runId>', 'only this run (as status shows it)')
  .addHelpText('after', '\nExample:\n  bluegreen approve fraud -n ml --comment "error rate flat, p95 unchanged" --version v2')
  .action(async (service: string, opts: { namespace: string; comment?: string; by?: string; version?: string; run?: string }) => {
    await withClient(async (client) => {
      const out = await sendMessage(client, { namespace: opts.namespace, service, runId: opts.run }, { kind: 'approve', by: opts.by ?? whoami(), comment: opts.comment, version: opts.version });
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
  .option('--version <version>', 'only if the running release is of this version')
  .option('--run <runId>', 'only this run (as status shows it)')
  .addHelpText('after', '\nExample:\n  bluegreen abort fraud -n ml --reason "p95 latency doubled"')
  .action(async (service: string, opts: { namespace: string; reason: string; by?: string; version?: string; run?: string }) => {
    await withClient(async (client) => {
      const out = await sendMessage(client, { namespace: opts.namespace, service, runId: opts.run }, { kind: 'abort', by: opts.by ?? whoami(), reason: opts.reason, version: opts.version });
      if (!out.accepted) throw new UserError(`abort not acted on: ${out.entry.detail ?? 'see bluegreen status'}`);
      console.log(`aborted: the release of ${opts.namespace}/${service} is rolling back (was ${out.entry.phase})`);
    });
  });

program.command('list')
  .description('list releases, newest first: the running ones, or all with --all or --phase')
  .option('-n, --namespace <ns>', 'only this Kubernetes namespace')
  .option('--model <model>', 'only releases of this model')
  .option('--phase <phase>', `only releases in this phase (${PHASES.join(', ')})`, phaseName)
  .option('--running', 'only running releases (the default unless --all or --phase)')
  .option('--all', 'include ended releases')
  .option('-o, --output <format>', 'text or json', outputFormat, 'text')
  .addHelpText('after', '\nExamples:\n  bluegreen list\n  bluegreen list --all --model fraud -o json')
  .action(async (opts: { namespace?: string; model?: string; phase?: string; running?: boolean; all?: boolean; output: Output }) => {
    await withClient(async (client) => {
      const all = !opts.running && (opts.all === true || opts.phase !== undefined);
      const rows = await listReleases(client, { ...opts, all });
      if (opts.output === 'json') return console.log(JSON.stringify(rows.map((r) => ({ ...r, startTime: r.startTime.toISOString() })), null, 2));
      if (rows.length === 0) return console.log(all ? 'no releases' : 'no running releases');
      table(['NAMESPACE', 'SERVICE', 'VERSION', 'PHASE', 'STARTED'], rows.map((r) => [
        r.namespace ?? '-', r.workflowId.split('/').at(-1) ?? r.workflowId, r.version ?? '-', r.phase ?? r.status, r.startTime.toISOString().replace(/\.\d+Z$/, 'Z'),
      ]));
    });
  });

program.command('history')
  .description('past releases of a model service, newest first: version, outcome, when, how long, who approved or aborted and why')
  .argument('<service>', 'model service name')
  .option('-n, --namespace <ns>', 'Kubernetes namespace', 'default')
  .option('--limit <n>', 'at most this many releases', (v) => positiveInt(v, '--limit'), 20)
  .option('-o, --output <format>', 'text or json', outputFormat, 'text')
  .addHelpText('after', '\nExample:\n  bluegreen history fraud -n ml-prod')
  .action(async (service: string, opts: { namespace: string; limit: number; output: Output }) => {
    await withClient(async (client) => {
      const past = await releaseHistory(client, { namespace: opts.namespace, service }, opts.limit);
      if (opts.output === 'json') return console.log(JSON.stringify(past, null, 2));
      if (past.length === 0) return console.log(`no releases of ${opts.namespace}/${service}`);
      table(['VERSION', 'OUTCOME', 'STARTED', 'DURATION', 'BY', 'WHY'], past.map((r) => [
        r.version, r.outcome, r.startedAt.replace(/\.\d+Z$/, 'Z'), r.durationSeconds === undefined ? 'running' : `${r.durationSeconds}s`, who(r), why(r),
      ]));
    });
  });

program.command('rollback')
  .description('release again the version that served before the live one (or --to VERSION), with the pod template it ran')
  .argument('<service>', 'model service name')
  .option('-n, --namespace <ns>', 'Kubernetes namespace', 'default')
  .option('--to <version>', 'the version to go back to (default: the one live before the current)')
  .option('-w, --wait', 'follow the release until it ends; exit 1 unless it succeeds')
  .option('--by <name>', 'who starts it (default: BLUEGREEN_USER or the login name)')
  .addHelpText('after', '\nExamples:\n  bluegreen rollback fraud -n ml-prod --wait\n  bluegreen rollback fraud -n ml-prod --to v3')
  .action(async (service: string, opts: { namespace: string; to?: string; wait?: boolean; by?: string }) => {
    await withClient(async (client) => {
      const { spec, from } = await rollbackSpec(client, { namespace: opts.namespace, service }, opts.to);
      console.log(`rolling back to ${spec.version}: the spec and pod template of ${from.releaseId} (${from.startedAt})`);
      await launch(client, spec, opts.wait === true, opts.by ?? whoami());
    });
  });

type Output = 'text' | 'json';
function outputFormat(value: string): Output {
  if (value !== 'text' && value !== 'json') throw new InvalidArgumentError('allowed: text, json');
  return value;
}
function phaseName(value: string): string {
  if (!(PHASES as readonly string[]).includes(value)) throw new InvalidArgumentError(`allowed: ${PHASES.join(', ')}`);
  return value;
}
function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} must be a whole number of at least 1`);
  return n;
}
const who = (r: PastRelease): string => [r.startedBy ? `started by ${r.startedBy}` : undefined, ...r.messages.map((m) => `${m.kind === 'approve' ? 'approved' : 'aborted'} by ${m.by}`)].filter(Boolean).join(', ') || '-';
const why = (r: PastRelease): string => r.messages.find((m) => m.kind === 'abort')?.reason ?? r.reason ?? r.messages.find((m) => m.comment)?.comment ?? '';

/** Columns as wide as their widest cell; the last one is cut to the terminal's width. */
function table(headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const width = process.stdout.isTTY ? process.stdout.columns : undefined;
  for (const cells of [headers, ...rows]) {
    const text = cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
    console.log(width !== undefined && text.length > width ? `${text.slice(0, width - 1)}…` : text);
  }
}

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof InvalidSpecError) {
    console.error(`${err.source}: invalid release spec (${err.errors.length} error${err.errors.length === 1 ? '' : 's'})`);
    for (const e of err.errors) console.error(`  ${formatFieldError(e)}`);
  } else {
    console.error(`bluegreen: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
  process.exit(1);
});
