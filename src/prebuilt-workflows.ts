// The prebuilt workflow bundle (scripts/bundle-workflows.mjs, run by npm run
// build), when it is current: a bundle older than any compiled file it could
// hold (tsc alone ran since) is ignored, and the worker bundles at start.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The folders whose code the workflow bundle holds (the workflows and what they import). */
const BUNDLED = ['workflows', 'release', 'rules', 'activities'];

export function prebuiltBundle(distUrl: URL): string | undefined {
  const bundle = fileURLToPath(new URL('./workflow-bundle.js', distUrl));
  if (!existsSync(bundle)) return undefined;
  const built = statSync(bundle).mtimeMs;
  const newest = Math.max(...BUNDLED.flatMap((dir) => {
    const path = fileURLToPath(new URL(`./${dir}/`, distUrl));
    return existsSync(path) ? readdirSync(path).filter((f) => f.endsWith('.js')).map((f) => statSync(`${path}${f}`).mtimeMs) : [];
  }));
  return newest <= built ? bundle : undefined;
}
