// The worker takes the prebuilt workflow bundle only while it is newer than
// every compiled file it could hold: after a tsc alone, it bundles at start.
import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { prebuiltBundle } from '../../src/prebuilt-workflows.js';

function dist(): { dir: string; url: URL; touch: (file: string, secondsAgo: number) => void } {
  const dir = mkdtempSync(join(tmpdir(), 'bluegreen-dist-'));
  for (const sub of ['workflows', 'release', 'activities']) mkdirSync(join(dir, sub));
  const touch = (file: string, secondsAgo: number) => {
    writeFileSync(join(dir, file), '');
    const at = Date.now() / 1000 - secondsAgo;
    utimesSync(join(dir, file), at, at);
  };
  return { dir, url: pathToFileURL(`${dir}/`), touch };
}

describe('the prebuilt workflow bundle', () => {
  it('is used when built after the workflow code', () => {
    const d = dist();
    d.touch('workflows/release.js', 60);
    d.touch('release/spec.js', 60);
    d.touch('workflow-bundle.js', 30);
    expect(prebuiltBundle(d.url)).toBe(join(d.dir, 'workflow-bundle.js'));
  });

  it('is not used when any compiled file it holds is newer (tsc ran alone since), nor when there is none', () => {
    const d = dist();
    d.touch('workflows/release.js', 60);
    d.touch('workflow-bundle.js', 30);
    d.touch('activities/cluster-logic.js', 10);
    expect(prebuiltBundle(d.url)).toBeUndefined();
    expect(prebuiltBundle(dist().url)).toBeUndefined();
  });
});
