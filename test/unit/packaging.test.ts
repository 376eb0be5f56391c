// The packaging users run: docker-compose.yml as Debian's docker-compose reads it
// (Temporal on PostgreSQL, the UI, the search attributes, the worker), and the
// worker's Dockerfile building what the worker runs.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { searchAttributes } from '../../src/release/ids.js';

const compose = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config'], { encoding: 'utf8', env: { ...process.env, KUBECONFIG: '/kube/config-on-host' } });
const missing = compose.error !== undefined;
// CI (BLUEGREEN_REAL_NODE=required) installs docker-compose: there, a missing one is a failure.
const skip = missing && process.env.BLUEGREEN_REAL_NODE !== 'required';
if (skip) console.warn('docker-compose.yml not checked: no docker-compose (Debian\'s docker-compose package)');

type Service = { image?: string; build?: { context: string; dockerfile: string }; environment?: Record<string, string>; depends_on?: Record<string, { condition: string }>; command?: string[]; ports?: unknown[]; volumes?: string[] };

describe.skipIf(skip)('docker-compose.yml', () => {
  it('is valid for docker-compose, and wires Temporal on PostgreSQL, the UI, the search attributes and the worker', () => {
    expect(compose.status, compose.stderr).toBe(0);
    const services = (parse(compose.stdout) as { services: Record<string, Service> }).services;
    expect(Object.keys(services).sort()).toEqual(['postgresql', 'search-attributes', 'temporal', 'temporal-ui', 'ui', 'worker']);
    expect(services.temporal!.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql' });
    expect(services.temporal!.depends_on).toEqual({ postgresql: { condition: 'service_healthy' } });
    expect(services['temporal-ui']!.environment).toEqual({ TEMPORAL_ADDRESS: 'temporal:7233' });
    for (const key of Object.values(searchAttributes)) expect(services['search-attributes']!.command!.join(' ')).toContain(key.name);
    const worker = services.worker!;
    expect(worker.build?.dockerfile).toBe('deploy/Dockerfile');
    expect(worker.depends_on).toEqual({ 'search-attributes': { condition: 'service_completed_successfully' } });
    expect(worker.environment).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233', KUBECONFIG: '/kube/config', BLUEGREEN_METRICS_ADDRESS: '0.0.0.0:9464' });
    expect(worker.volumes).toEqual(['/kube/config-on-host:/kube/config:ro']);
    // The release page needs Temporal only, and is published on the host's loopback.
    const ui = services.ui!;
    expect(ui.command).toEqual(['node', 'dist/client/cli.js', 'ui', '--address', '0.0.0.0', '--port', '8090']);
    expect(ui.volumes).toBeUndefined();
    expect(ui.ports).toEqual(['127.0.0.1:8090:8090/tcp']);
  });
});

describe('the worker\'s Dockerfile', () => {
  it('copies what exists and runs the worker the build makes', () => {
    const dockerfile = readFileSync('deploy/Dockerfile', 'utf8');
    const copied = [...dockerfile.matchAll(/^COPY (.+) \S+$/gm)].flatMap((m) => m[1]!.split(' '));
    expect(copied.length).toBeGreaterThan(0);
    for (const path of copied) expect(existsSync(path), path).toBe(true);
    expect(dockerfile).toMatch(/npx tsc -p tsconfig\.json/);
    expect(dockerfile).toMatch(/^CMD \["node", "dist\/worker\.js"\]$/m);
    expect((JSON.parse(readFileSync('tsconfig.json', 'utf8')) as { compilerOptions: { outDir: string } }).compilerOptions.outDir).toMatch(/^(\.\/)?dist$/);
  });
});
