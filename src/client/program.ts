// The CLI's commands, as a program that runs in-process: `runCli` parses the
// arguments, runs the command, writes through `io` and returns the exit code
// (0 on success; otherwise one clear line). cli.ts is only the entry.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import type { Client } from '@temporalio/client';
import type { V1PodSpec } from '@kubernetes/client-node';
import { cliUser, clusterName, uiAuth } from '../config.js';
import { PHASES, FINAL_PHASES } from '../release/status.js';
import { InvalidSpecError, formatFieldError } from '../release/validate.js';
import { loadSpecFile } from '../release/spec-file.js';
import type { ReleaseSpec } from '../release/spec.js';
import { releaseSpecJsonSchema } from '../release/schema.js';
import { analysisWarnings } from '../rules/analysis.js';
import { probeWarnings } from '../rules/rollout.js';
import {
  connectClient, followRelease, hasWorker, listReleases, readStatus, releaseTaskQueue, sendMessage, startRelease, UserError,
  withSenderIdentities, type ListOptions, type OutgoingMessage,
} from './releases.js';
import { releaseHistory, rollbackSpec } from './history.js';
import { runningSteps, timelineLine, watchLive } from './live-view.js';
import { consoleIo, printStatus, table, who, why, type Io } from './format.js';
import { newToken, uiServer } from '../ui/server.js';

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

/** The options of approve and abort. */
interface MessageOptions { namespace: string; cluster?: string; by?: string; version?: string; run?: string }

/** Every verb that names one release takes its cluster; BLUEGREEN_CLUSTER_NAME is the default. */
const clusterOption = ['--cluster <name>', 'the cluster the release targets, as its spec names it (default: BLUEGREEN_CLUSTER_NAME)', clusterName()] as const;

/**
 * Sends approve or abort and says what the release did with it: acted on (`done`
 * with the phase it was in), refused and why (exit 1), or recorded by Temporal
 * while no worker runs the release (not a failure: it is acted on when one does).
 */
async function steer(
  io: Io, service: string, opts: MessageOptions, message: OutgoingMessage, done: (phase: string) => string,
): Promise<void> {
  await withClient(async (client) => {
    const ref = { namespace: opts.namespace, service, cluster: opts.cluster, runId: opts.run };
    const out = await sendMessage(client, ref, message);
    if ('pending' in out) {
      return io.err(`bluegreen: ${message.kind} recorded for the release of ${ref.namespace}/${ref.service}, but no worker has acted on it yet `
        + '(none answered in 30s): it is in the release\'s history and is acted on when a worker runs (npm run worker); follow it with bluegreen status --watch');
    }
    if (!out.accepted) throw new UserError(`${message.kind} not acted on: ${out.entry.detail ?? 'see bluegreen status'}`);
    io.out(done(out.entry.phase));
  });
}

/** Starts a release, warns when no worker would run it, and with `wait` follows it to its end. */
async function launch(io: Io, client: Client, spec: ReleaseSpec, wait: boolean, by: string): Promise<void> {
  const handle = await startRelease(client, spec, undefined, by);
  const service = spec.service ?? spec.model;
  io.out(`started ${handle.workflowId} (run ${handle.firstExecutionRunId}): ${spec.version} of ${spec.namespace}/${service}`);
  const taskQueue = releaseTaskQueue(spec);
  if (!(await hasWorker(client, taskQueue).catch(() => true))) {
    io.err(`bluegreen: no worker polls task queue "${taskQueue}" in this Temporal namespace: the release waits until one starts (npm run worker, or BLUEGREEN_TASK_QUEUE)`);
  }
  if (!wait) return;
  onInterrupt(spec.namespace, service);
  const ref = { namespace: spec.namespace, service, cluster: spec.cluster, runId: handle.firstExecutionRunId };
  const result = await followRelease(client, ref, (e) => io.out(timelineLine(e)), 1_000, (note) => io.err(`bluegreen: ${note}`));
  if (result.phase !== 'Succeeded') throw new UserError(`release ${result.phase}: ${result.reason ?? 'see bluegreen status'}`);
  io.out(`release Succeeded: ${spec.version} is live in ${result.liveSlot}`);
}

function validateCommand(program: Command, io: Io): void {
  program.command('validate')
    .description('check a release spec and print every error, or a summary of a valid spec')
    .requiredOption('-f, --file <file>', 'release spec (YAML or JSON)')
    .addHelpText('after', '\nExample:\n  bluegreen validate -f examples/fraud-v2-every-check.yaml')
    .action((opts: { file: string }) => {
      const spec = loadSpecFile(opts.file);
      const gates = [
        spec.approval.beforeSwitch ? 'approval before switch' : undefined,
        spec.approval.afterSwitch === 'manual' ? 'approval after monitoring' : undefined,
      ].filter(Boolean);
      io.out(`${opts.file}: valid`);
      io.out(`  ${spec.namespace}/${spec.service ?? spec.model} version ${spec.version}, image ${spec.image ?? `of the ${spec.template ? 'template' : 'live Deployment'}`}, ${spec.template ? 'its own pod template' : 'the live pod template'}, ${spec.replicas ?? 'the live Deployment\'s (else 1)'} replicas${spec.previewReplicas ? ` (${spec.previewReplicas} while verifying)` : ''}`);
      const checks = [
        spec.verify.protocol === 'v2' ? `signature${spec.verify.allowSignatureChange ? ' (changes allowed)' : ''}` : undefined,
        `${spec.verify.requests.length} golden requests (${spec.verify.protocol})`,
        spec.verify.latency && 'latency percentiles', spec.verify.shadow && `shadow agreement >= ${spec.verify.shadow.minAgreement}`,
      ].filter(Boolean).join(', ');
      const analysis = spec.monitor.analysis === undefined ? `every ${spec.monitor.interval}` : `with ${spec.monitor.analysis.map((a) => a.name).join(', ')}`;
      io.out(`  verify ${checks}; monitor ${spec.monitor.window} ${analysis}; ${gates.length ? gates.join(', ') : 'no manual gates'}`);
      for (const warning of specWarnings(spec)) io.err(`warning: ${warning}`);
    });
}

/** What the spec alone shows will go wrong: analysis that cannot finish in its window, probes that restart a loading model. */
const specWarnings = (spec: ReleaseSpec): string[] => [
  ...analysisWarnings(spec), ...probeWarnings(spec.template?.spec as V1PodSpec | undefined, spec.rolloutTimeout, 'template'),
];

function demoCommand(program: Command, _io: Io): void {
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
      const args = [join(root, 'examples/demo.sh'), ...(opts.once ? ['--once'] : []), ...(opts.context ? ['--context'] : [])];
      const child = spawn('bash', args, { cwd: root, stdio: 'inherit' });
      // Ctrl-C reaches the demo too (same terminal): it stops what it started, then so do we.
      process.on('SIGINT', () => undefined);
      const code = await new Promise<number>((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal === 'SIGINT' ? 130 : 1))));
      process.exit(code);
    });
}

function schemaCommand(program: Command, io: Io): void {
  program.command('schema')
    .description('print the JSON Schema of release specs (what schema/release-spec.schema.json holds)')
    .addHelpText('after', '\nExample:\n  bluegreen schema > release-spec.schema.json')
    .action(() => {
      io.out(JSON.stringify(releaseSpecJsonSchema(), null, 2));
    });
}

function startCommand(program: Command, io: Io): void {
  program.command('start')
    .description('start a release (validates the spec before connecting to anything)')
    .requiredOption('-f, --file <file>', 'release spec (YAML or JSON)')
    .option('-w, --wait', 'follow the release until it ends; exit 1 unless it succeeds')
    .option('--by <name>', 'who starts it (default: BLUEGREEN_USER or the login name)')
    .addHelpText('after', '\nExample:\n  bluegreen start -f examples/release.yaml --wait')
    .action(async (opts: { file: string; wait?: boolean; by?: string }) => {
      const spec = loadSpecFile(opts.file);
      for (const warning of specWarnings(spec)) io.err(`warning: ${warning}`);
      await withClient((client) => launch(io, client, spec, opts.wait === true, opts.by ?? cliUser()));
    });
}

function statusCommand(program: Command, io: Io): void {
  program.command('status')
    .description('show the phase, slots, checks and timeline of the latest release of a model service')
    .argument('<service>', 'model service name (the spec\'s service, which defaults to its model)')
    .option('-n, --namespace <ns>', 'Kubernetes namespace', 'default')
    .option(...clusterOption)
    .option('--watch', 'follow the release until it ends: a live view on a terminal, new timeline lines otherwise')
    .option('-o, --output <format>', 'text or json', outputFormat, 'text')
    .option('--json', 'the same as --output json')
    .addHelpText('after', '\nExamples:\n  bluegreen status fraud -n ml --watch\n  bluegreen status fraud -n ml -o json')
    .action(async (service: string, opts: { namespace: string; cluster?: string; watch?: boolean; json?: boolean; output: Output }) => {
      await withClient(async (client) => {
        const ref = { namespace: opts.namespace, service, cluster: opts.cluster };
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
        // What the running step waits on is in its heartbeat, on the server: pods ready, the scheduler's message.
        const runId = status.releaseId.split('/').at(-1);
        const running = FINAL_PHASES.includes(status.phase) ? [] : await runningSteps(client, { ...ref, runId }).catch(() => []);
        if (json) io.out(JSON.stringify(running.length > 0 ? { ...status, running } : status, null, 2));
        else printStatus(status, io, running);
        if (!opts.watch) return;
        let phase = status.phase;
        if (!FINAL_PHASES.includes(phase)) {
          onInterrupt(opts.namespace, service);
          const pinned = { ...ref, runId: status.releaseId.split('/').at(-1) };
          const onNote = (note: string) => io.err(`bluegreen: ${note}`);
          phase = (await followRelease(client, pinned, (e) => io.out(`  ${timelineLine(e)}`), 1_000, onNote, status.timeline.length)).phase;
        }
        // Scripts watch for the outcome: only a release that succeeded exits 0.
        if (phase !== 'Succeeded') throw new UserError(`release ${phase}`);
      });
    });
}

function approveCommand(program: Command, io: Io): void {
  program.command('approve')
    .description('approve the release waiting at a gate (before the switch, or promote during monitoring)')
    .argument('<service>', 'model service name')
    .option('-n, --namespace <ns>', 'Kubernetes namespace', 'default')
    .option(...clusterOption)
    .option('--comment <text>', 'recorded with the approval')
    .option('--by <name>', 'who approves (default: BLUEGREEN_USER or the login name)')
    .option('--version <version>', 'only if the running release is of this version')
    .option('--run <runId>', 'only this run (as status shows it)')
    .addHelpText('after', '\nExample:\n  bluegreen approve fraud -n ml --comment "error rate flat, p95 unchanged" --version v2')
    .action(async (service: string, opts: MessageOptions & { comment?: string }) => {
      const message = { kind: 'approve' as const, by: opts.by ?? cliUser(), comment: opts.comment, version: opts.version };
      await steer(io, service, opts, message, (phase) => `approved: the release of ${opts.namespace}/${service} goes on from ${phase}`);
    });
}

function abortCommand(program: Command, io: Io): void {
  program.command('abort')
    .description('abort the release: roll back to what served before')
    .argument('<service>', 'model service name')
    .option('-n, --namespace <ns>', 'Kubernetes namespace', 'default')
    .option(...clusterOption)
    .requiredOption('--reason <text>', 'why; recorded in the release\'s timeline')
    .option('--by <name>', 'who aborts (default: BLUEGREEN_USER or the login name)')
    .option('--version <version>', 'only if the running release is of this version')
    .option('--run <runId>', 'only this run (as status shows it)')
    .addHelpText('after', '\nExample:\n  bluegreen abort fraud -n ml --reason "p95 latency doubled"')
    .action(async (service: string, opts: MessageOptions & { reason: string }) => {
      const message = { kind: 'abort' as const, by: opts.by ?? cliUser(), reason: opts.reason, version: opts.version };
      await steer(io, service, opts, message, (phase) => `aborted: the release of ${opts.namespace}/${service} is rolling back (was ${phase})`);
    });
}

function listCommand(program: Command, io: Io): void {
  program.command('list')
    .description('list releases, newest first: the running ones, or all with --all or --phase')
    .option('-n, --namespace <ns>', 'only this Kubernetes namespace')
    .option('--cluster <name>', 'only releases of this cluster (as their spec names it)')
    .option('--model <model>', 'only releases of this model')
    .option('--phase <phase>', `only releases in this phase (${PHASES.join(', ')})`, phaseName)
    .option('--running', 'only running releases (the default unless --all or --phase)')
    .option('--all', 'include ended releases')
    .option('-o, --output <format>', 'text or json', outputFormat, 'text')
    .addHelpText('after', '\nExamples:\n  bluegreen list\n  bluegreen list --all --model fraud -o json')
    .action(async (opts: ListOptions & { running?: boolean; output: Output }) => {
      await withClient(async (client) => {
        const all = !opts.running && (opts.all === true || opts.phase !== undefined);
        const rows = await listReleases(client, { ...opts, all });
        const json = rows.map((r) => ({ ...r, startTime: r.startTime.toISOString() }));
        if (opts.output === 'json') return io.out(JSON.stringify(json, null, 2));
        if (rows.length === 0) return io.out(all ? 'no releases' : 'no running releases');
        table(io, ['NAMESPACE', 'SERVICE', 'VERSION', 'PHASE', 'STARTED'], rows.map((r) => [
          r.namespace ?? '-', r.workflowId.split('/').at(-1) ?? r.workflowId, r.version ?? '-', r.phase ?? r.status,
          r.startTime.toISOString().replace(/\.\d+Z$/, 'Z'),
        ]));
      });
    });
}

function historyCommand(program: Command, io: Io): void {
  program.command('history')
    .description('past releases of a model service, newest first: version, outcome, when, how long, who approved or aborted and why')
    .argument('<service>', 'model service name')
    .option('-n, --namespace <ns>', 'Kubernetes namespace', 'default')
    .option(...clusterOption)
    .option('--limit <n>', 'at most this many releases', (v) => positiveInt(v, '--limit'), 20)
    .option('-o, --output <format>', 'text or json', outputFormat, 'text')
    .addHelpText('after', '\nExample:\n  bluegreen history fraud -n ml-prod')
    .action(async (service: string, opts: { namespace: string; cluster?: string; limit: number; output: Output }) => {
      await withClient(async (client) => {
        const past = await releaseHistory(client, { namespace: opts.namespace, service, cluster: opts.cluster }, opts.limit);
        if (opts.output === 'json') return io.out(JSON.stringify(past, null, 2));
        if (past.length === 0) return io.out(`no releases of ${opts.namespace}/${service}`);
        table(io, ['VERSION', 'OUTCOME', 'STARTED', 'DURATION', 'BY', 'WHY'], past.map((r) => [
          r.version, r.outcome, r.startedAt.replace(/\.\d+Z$/, 'Z'),
          r.durationSeconds === undefined ? 'running' : `${r.durationSeconds}s`, who(r), why(r),
        ]));
      });
    });
}

function rollbackCommand(program: Command, io: Io): void {
  program.command('rollback')
    .description('release again the version that served before the live one (or --to VERSION), with the pod template it ran')
    .argument('<service>', 'model service name')
    .option('-n, --namespace <ns>', 'Kubernetes namespace', 'default')
    .option(...clusterOption)
    .option('--to <version>', 'the version to go back to (default: the one live before the current)')
    .option('-w, --wait', 'follow the release until it ends; exit 1 unless it succeeds')
    .option('--by <name>', 'who starts it (default: BLUEGREEN_USER or the login name)')
    .addHelpText('after', '\nExamples:\n  bluegreen rollback fraud -n ml-prod --wait\n  bluegreen rollback fraud -n ml-prod --to v3')
    .action(async (service: string, opts: { namespace: string; cluster?: string; to?: string; wait?: boolean; by?: string }) => {
      await withClient(async (client) => {
        const { spec, from } = await rollbackSpec(client, { namespace: opts.namespace, service, cluster: opts.cluster }, opts.to);
        io.out(`rolling back to ${spec.version}: the spec and pod template of ${from.releaseId} (${from.startedAt})`);
        await launch(io, client, spec, opts.wait === true, opts.by ?? cliUser());
      });
    });
}

function uiCommand(program: Command, io: Io): void {
  program.command('ui')
    .description('serve the release page: the releases, each one live with approve and abort, and a model\'s history (Temporal only, no Kubernetes credentials)')
    .option('--address <host>', 'address to listen on (only this machine by default; behind a proxy, the proxy\'s side of it)', '127.0.0.1')
    .option('--port <port>', 'port to listen on', (v) => portNumber(v), 8080)
    .option('--user-header <name>', 'behind an authenticating proxy: the header with the user\'s name, e.g. X-Forwarded-User (default: BLUEGREEN_UI_USER_HEADER)')
    .option('--user <name>', 'without a proxy: who the token\'s holder acts as (default: BLUEGREEN_USER or the login name)')
    .addHelpText('after', '\nExamples:\n  bluegreen ui\n  bluegreen ui --address 127.0.0.1 --port 4180 --user-header X-Forwarded-User')
    .action(async (opts: { address: string; port: number; userHeader?: string; user?: string }) => {
      const auth = uiAuth();
      const userHeader = opts.userHeader ?? auth.userHeader;
      const token = userHeader === undefined ? auth.token ?? newToken() : undefined;
      const client = await connectClient();
      const server = uiServer({ client, ...(userHeader === undefined ? { token, tokenUser: opts.user ?? cliUser() } : { userHeader }) });
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err) => reject(new UserError(`cannot listen on ${opts.address}:${opts.port}: ${err.message}`)));
        server.listen(opts.port, opts.address, resolve);
      });
      const { port } = server.address() as { port: number };
      const host = opts.address.includes(':') ? `[${opts.address}]` : opts.address;
      io.out(userHeader === undefined
        ? `bluegreen ui: open http://${host}:${port}/?token=${token} (acting as ${opts.user ?? cliUser()}; the token is what lets a browser in)`
        : `bluegreen ui: serving http://${host}:${port}/ for the proxy in front of it; each request's user is its ${userHeader} header`);
      await new Promise<void>((resolve) => {
        const stop = () => { server.close(); server.closeAllConnections(); resolve(); };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await client.connection.close();
    });
}

function buildProgram(io: Io): Command {
  const program = new Command('bluegreen')
    .description('Blue-green releases of ML model servers on Kubernetes, driven by Temporal')
    .showHelpAfterError('(add --help for usage)')
    // Before the commands are added, which inherit both: errors return an exit code, output goes through io.
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.out(text.replace(/\n$/, '')), writeErr: (text) => io.err(text.replace(/\n$/, '')) });
  const commands = [
    validateCommand, demoCommand, schemaCommand, startCommand, statusCommand, approveCommand, abortCommand, listCommand, historyCommand,
    rollbackCommand, uiCommand,
  ];
  for (const add of commands) add(program, io);
  return program;
}

type Output = 'text' | 'json';
function outputFormat(value: string): Output {
  if (value !== 'text' && value !== 'json') throw new InvalidArgumentError('allowed: text, json');
  return value;
}
function phaseName(value: string): string {
  if (!(PHASES as readonly string[]).includes(value)) throw new InvalidArgumentError(`allowed: ${PHASES.join(', ')}`);
  return value;
}
function portNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('--port must be a whole number from 0 to 65535 (0: any free port)');
  return n;
}
function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} must be a whole number of at least 1`);
  return n;
}
/** Runs the CLI on `argv` (the arguments after the program's name); resolves to the exit code. */
export async function runCli(argv: readonly string[], io: Io = consoleIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    // Commander has said what was wrong (or printed the help) already.
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof InvalidSpecError) {
      io.err(`${err.source}: invalid release spec (${err.errors.length} error${err.errors.length === 1 ? '' : 's'})`);
      for (const e of err.errors) io.err(`  ${formatFieldError(e)}`);
    } else {
      io.err(`bluegreen: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    }
    return 1;
  }
}
