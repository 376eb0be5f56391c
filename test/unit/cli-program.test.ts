// The CLI driven in-process: the program parses, runs and reports through its
// Io, and returns the exit code a shell would see.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/client/program.js';

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('the CLI in-process', () => {
  it('validates a spec and summarises it', async () => {
    const run = await cli('validate', '-f', 'examples/fraud-v2-every-check.yaml');
    expect(run).toMatchObject({ code: 0, err: '' });
    expect(run.out).toMatch(/^examples\/fraud-v2-every-check\.yaml: valid\n {2}default\/fraud version v2/);
  });

  it('lists every field error of a bad spec and exits 1', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'bluegreen-cli-')), 'bad.yaml');
    writeFileSync(file, 'model: Fraud\nversion: v2\nmonitor: { interval: 1m30, failureLimit: -1 }\n');
    const run = await cli('validate', '-f', file);
    expect(run.code).toBe(1);
    expect(run.err).toContain(`${file}: invalid release spec (3 errors)`);
    expect(run.err).toMatch(/model: .*DNS-1035/);
    expect(run.err).toMatch(/monitor\.interval: .*must be a duration/);
    expect(run.err).toMatch(/monitor\.failureLimit: /);
  });

  it('refuses a bad flag value naming what is allowed', async () => {
    const run = await cli('list', '--phase', 'Done');
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/option '--phase <phase>' argument 'Done' is invalid\. allowed: Pending, Preflight/);
  });

  it('prints the schema and the help, exit 0', async () => {
    const schema = await cli('schema');
    expect(schema.code).toBe(0);
    expect(JSON.parse(schema.out)).toMatchObject({ type: 'object' });
    const help = await cli('approve', '--help');
    expect(help.code).toBe(0);
    expect(help.out).toContain('bluegreen approve fraud -n ml');
  });
});
