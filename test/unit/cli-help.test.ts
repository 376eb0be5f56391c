// Every verb's --help ends with an example a person can copy (dist/ is built by the test setup).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const help = (args: string[]) => spawnSync(process.execPath, ['dist/client/cli.js', ...args, '--help'], { encoding: 'utf8' });
const verbs = [...help([]).stdout.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]!).filter((v) => v !== 'help');

describe('the CLI\'s help', () => {
  it('lists the verbs', () => {
    expect(verbs).toEqual(expect.arrayContaining(['validate', 'schema', 'start', 'status', 'approve', 'abort', 'list', 'history', 'rollback', 'demo']));
  });
  it.each(verbs)('%s --help gives an example', (verb) => {
    const out = help([verb]);
    expect(out.status).toBe(0);
    expect(out.stdout).toMatch(new RegExp(`\\nExamples?:\\n {2}(\\S+=\\S+ )?bluegreen ${verb}\\b`));
  });
});
