// A real Prometheus (Debian's `prometheus` package) on loopback for the analysis
// tests: it scrapes the model servers named in a file-based service discovery
// file every second, so targets can be added while it runs.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './processes.js';

/** The prometheus binary (BLUEGREEN_PROMETHEUS, or on PATH), or why there is none. */
export function prometheusBinary(): { path: string } | { missing: string } {
  const path = process.env.BLUEGREEN_PROMETHEUS ?? 'prometheus';
  const probe = spawnSync(path, ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) return { missing: `no prometheus binary (${path}): install Debian's prometheus package or set BLUEGREEN_PROMETHEUS` };
  return { path };
}

export interface Prometheus {
  url: string;
  /** scrapes these host:port targets from now on, each with its labels (a pod's `pod` and `namespace`, as Kubernetes discovery sets them) */
  scrape: (targets: string[], labels?: Record<string, string>[]) => Promise<void>;
  /** one instant query's value, for tests that wait on the data */
  value: (query: string) => Promise<number | undefined>;
  stop: () => Promise<void>;
}

export async function startPrometheus(binary: string): Promise<Prometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'bluegreen-prometheus-'));
  const targetsFile = join(dir, 'targets.json');
  writeFileSync(targetsFile, '[]');
  writeFileSync(join(dir, 'prometheus.yml'), [
    'global: { scrape_interval: 1s, evaluation_interval: 1s }',
    'scrape_configs:',
    '  - job_name: model-servers',
    `    file_sd_configs: [{ files: ["${targetsFile}"], refresh_interval: 1s }]`,
    '',
  ].join('\n'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(binary, [
    `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (c: Buffer) => { log = (log + c.toString()).slice(-4_000); });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ready) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`prometheus did not get ready:\n${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const value = async (query: string): Promise<number | undefined> => {
    const body = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`).then((r) => r.json()) as { data?: { result?: { value: [number, string] }[] } };
    const first = body.data?.result?.[0];
    return first === undefined ? undefined : Number(first.value[1]);
  };
  let groups: { targets: string[]; labels: Record<string, string> }[] = [];
  return {
    url,
    value,
    async scrape(more, labels = []) {
      groups = [...groups, ...more.map((t, i) => ({ targets: [t], labels: labels[i] ?? {} }))];
      // Written whole and renamed, so Prometheus never reads half a file.
      writeFileSync(`${targetsFile}.tmp`, JSON.stringify(groups));
      renameSync(`${targetsFile}.tmp`, targetsFile);
      const until = Date.now() + 30_000;
      while ((await value(`count(up{instance=~"${more.join('|')}"} == 1)`) ?? 0) < more.length) {
        if (Date.now() > until) throw new Error(`prometheus never scraped ${more.join(', ')}:\n${log}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
