// Real processes for end-to-end tests: the worker and model servers as their own
// processes, and the CLI run the way a user runs it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const children = new Set<ChildProcess>();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

export interface Started { child: ChildProcess; output: () => string; line: string }

/** Spawns a process and waits for a stdout line matching `ready`. */
function startProcess(args: string[], env: NodeJS.ProcessEnv, ready: RegExp, timeoutMs = 30_000, onOutput?: (out: string) => void): Promise<Started> {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} not ready after ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      onOutput?.(out);
      const match = out.split('\n').find((l) => ready.test(l));
      if (match !== undefined) {
        clearTimeout(timer);
        resolve({ child, output: () => out, line: match });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (c: Buffer) => { out += c.toString(); onOutput?.(out); });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${args.join(' ')} exited with ${code}:\n${out}`)); });
  });
}

export interface WorkerEnv {
  temporalAddress: string; kubeconfig: string; taskQueue: string; namespaces?: string; waitForTemporal?: string; env?: NodeJS.ProcessEnv;
  /** Called with all the worker printed so far, as it prints, before it is ready. */
  onOutput?: (out: string) => void;
}

export function startWorker(w: WorkerEnv): Promise<Started> {
  return startProcess(['dist/worker.js'], {
    TEMPORAL_ADDRESS: w.temporalAddress, KUBECONFIG: w.kubeconfig, BLUEGREEN_TASK_QUEUE: w.taskQueue,
    BLUEGREEN_NAMESPACES: w.namespaces ?? '*', BLUEGREEN_CONNECT_TIMEOUT: w.waitForTemporal ?? '60s',
    // The example model servers the tests verify against listen on loopback.
    BLUEGREEN_VERIFY_HOSTS: '127.0.0.1',
    ...w.env,
  }, /bluegreen worker: Temporal/, 90_000, w.onOutput);
}

/** An example model server on loopback; `faults` are its fault flags (--error-rate 0.5, ...). */
export async function startModelServer(modelFile: string, delayMs = 0, faults: string[] = []): Promise<{ url: string; stop: () => void }> {
  const started = await startProcess(['examples/model-server/server.mjs', '--model', modelFile, '--port', '0', '--delay-ms', String(delayMs), ...faults], {}, /^model server:/);
  const url = started.line.match(/(http:\/\/\S+)/)?.[1];
  if (url === undefined) throw new Error(`no URL in "${started.line}"`);
  return { url, stop: () => started.child.kill('SIGTERM') };
}

export async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill(signal);
  return exited;
}

export interface CliResult { code: number | null; stdout: string; stderr: string }

/** Runs `bluegreen ...` as a user would (node dist/client/cli.js). */
export function cli(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return spawnCli(args, env).result;
}

/** Starts `bluegreen ...` and hands back the process (to interrupt it), its output so far, and its end. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv, tty = false): { child: ChildProcess; stdout: () => string; result: Promise<CliResult> } {
  const command = [process.execPath, 'dist/client/cli.js', ...args];
  // On a terminal: util-linux's `script` gives the CLI a pseudo-terminal (-e: its exit code).
  const quoted = command.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const [file, argv] = tty ? ['script', ['-qefc', quoted, '/dev/null']] : [command[0]!, command.slice(1)];
  const child = spawn(file, argv, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  return { child, stdout: () => stdout, result: new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr }))) };
}

/** A port nothing listens on now (a process binds it a moment later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    }).on('error', reject);
  });
}
