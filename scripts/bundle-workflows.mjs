// Bundles the built workflow code once (npm run build), so a worker starts
// polling in about a second instead of bundling for several seconds at every
// start: after a crash, the new worker's start is part of the time a release
// stands still (docs/benchmarks.md, Recovery). The worker uses the bundle only
// while it is newer than every compiled file it holds (src/prebuilt-workflows.ts).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, bundleWorkflowCode } from '@temporalio/worker';

const workflowsPath = fileURLToPath(new URL('../dist/workflows/index.js', import.meta.url));
const { code } = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
writeFileSync(new URL('../dist/workflow-bundle.js', import.meta.url), code);
