// Finds the Temporal binaries: an environment variable, then PATH; undefined lets
// the SDK download them (on a machine with internet).
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch { /* not here */ }
  }
  return undefined;
}

const executable = (path: string | undefined) => (path === undefined ? undefined : { type: 'existing-path' as const, path });

export const temporalCli = () => executable(process.env.TEMPORAL_CLI_PATH || onPath('temporal'));
export const temporalTestServer = () => executable(process.env.TEMPORAL_TEST_SERVER_PATH || onPath('temporal-test-server'));
