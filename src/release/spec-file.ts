// Reading spec files (YAML or JSON) on the client: bounded size and aliases, and
// `templateFrom` resolved into an inline `template`, so the workflow's input is
// self-contained and the worker never reads files.
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseAllDocuments, parseDocument } from 'yaml';
import { InvalidSpecError, validateSpec } from './validate.js';
import type { ReleaseSpec } from './spec.js';

export const MAX_SPEC_BYTES = 256 * 1024;
const MAX_YAML_ALIASES = 50;

/** Reads a file of at most MAX_SPEC_BYTES, checking the size before reading (`-f /dev/zero` must not hang). */
export function readBounded(file: string, source: string, field = '', encoding: BufferEncoding = 'utf8'): string {
  let size: number;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new InvalidSpecError(source, [{ field, message: `${file} is not a regular file` }]);
    size = stat.size;
  } catch (err) {
    if (err instanceof InvalidSpecError) throw err;
    throw new InvalidSpecError(source, [{ field, message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }]);
  }
  if (size > MAX_SPEC_BYTES) throw new InvalidSpecError(source, [{ field, message: `${file} is ${size} bytes; at most ${MAX_SPEC_BYTES} are allowed` }]);
  return readFileSync(file, encoding);
}

function parseYaml(text: string, source: string): unknown {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_SPEC_BYTES) {
    throw new InvalidSpecError(source, [{ field: '', message: `is ${bytes} bytes; at most ${MAX_SPEC_BYTES} are allowed` }]);
  }
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new InvalidSpecError(source, doc.errors.map((e) => ({ field: '', message: `is not valid YAML or JSON: ${e.message.split('\n')[0]}` })));
  }
  try {
    return doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (err) {
    throw new InvalidSpecError(source, [{ field: '', message: `cannot be read: ${(err as Error).message}` }]);
  }
}

/** Parses YAML or JSON text (JSON is YAML) with bounded size and aliases, then validates. */
export function parseSpecText(text: string, source = 'spec'): ReleaseSpec {
  return validateSpec(parseYaml(text, source), source);
}

/**
 * The pod template of a manifest: a Deployment (or StatefulSet-like object with
 * spec.template), a PodTemplate, or a bare pod template. A file with several
 * documents uses the first Deployment in it.
 */
/** The fields of a Kubernetes manifest that hold a pod template. */
type Manifest = {
  kind?: string; template?: unknown; metadata?: { name?: string };
  spec?: { template?: unknown; containers?: unknown; volumeClaimTemplates?: { metadata?: { name?: string } }[] };
};
type Template = { metadata?: { labels?: Record<string, unknown> } & Record<string, unknown>; spec?: unknown };

export function templateOfManifest(text: string, file: string): unknown {
  const docs = parseAllDocuments(text, { prettyErrors: false }) as ReturnType<typeof parseAllDocuments>;
  const list = Array.isArray(docs) ? docs : [docs];
  const objects = list.map((d) => d.toJS({ maxAliasCount: MAX_YAML_ALIASES }) as Manifest | null)
    .filter((o): o is Manifest => o !== null && typeof o === 'object');
  const deployment = objects.find((o) => o.kind === 'Deployment') ?? objects[0];
  if (deployment === undefined) throw new InvalidSpecError(file, [{ field: 'templateFrom.file', message: `${file} holds no manifest` }]);
  if (deployment.kind === 'PodTemplate') return deployment.template;
  const perPod = deployment.spec?.volumeClaimTemplates ?? [];
  if (perPod.length > 0) {
    // A Deployment has no per-pod claims: dropping them would leave the mounts pointing at volumes that do not exist.
    const names = perPod.map((c) => c.metadata?.name ?? '?').join(', ');
    throw new InvalidSpecError(file, [{ field: 'templateFrom.file', message: `${file} holds ${deployment.kind ?? 'a manifest'} ${deployment.metadata?.name ?? ''} with volumeClaimTemplates (${names}), which a Deployment cannot have: create a claim per slot (name it with {{slot}}, e.g. ${perPod[0]?.metadata?.name ?? 'cache'}-{{slot}}), mount it as a persistentVolumeClaim volume in the template, and give that as templateFrom` }]);
  }
  if (deployment.spec?.template !== undefined) return deployment.spec.template;
  if (deployment.spec?.containers !== undefined) return { metadata: deployment.metadata, spec: deployment.spec };
  throw new InvalidSpecError(file, [{ field: 'templateFrom.file', message: `${file} holds a ${deployment.kind ?? 'manifest'} without a pod template (spec.template)` }]);
}

/**
 * Recorded requests for shadow agreement: a JSON array, or JSON lines, of
 * `{ inputs }` (protocol v2) or `{ body }` (http). A bare Open Inference
 * Protocol request (`{ "inputs": [...] }`) is one of them already.
 */
export function shadowInputsOfFile(text: string, file: string): unknown[] {
  const field = 'verify.shadow.inputsFile';
  const trimmed = text.trim();
  try {
    if (trimmed.startsWith('[')) return JSON.parse(trimmed) as unknown[];
    return trimmed.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as unknown);
  } catch (err) {
    throw new InvalidSpecError(file, [{ field, message: `${file} is neither a JSON array nor JSON lines: ${(err as Error).message}` }]);
  }
}

/** Inlines `verify.shadow.inputsFile` (relative to the spec file) as `verify.shadow.inputs`. */
function inlineShadowInputs(data: Record<string, unknown>, file: string): void {
  const shadow = (data.verify as { shadow?: Record<string, unknown> } | undefined)?.shadow;
  if (typeof shadow !== 'object' || shadow === null || typeof shadow.inputsFile !== 'string') return;
  const recorded = resolve(dirname(file), shadow.inputsFile);
  const inputs = shadowInputsOfFile(readBounded(recorded, file, 'verify.shadow.inputsFile'), recorded);
  shadow.inputs = [...(Array.isArray(shadow.inputs) ? shadow.inputs as unknown[] : []), ...inputs];
  delete shadow.inputsFile;
}

/** Inlines each golden request's `bodyFile` (relative to the spec file) as `bodyBase64`. */
function inlineBodyFiles(data: Record<string, unknown>, file: string): void {
  const requests = (data.verify as { requests?: unknown } | undefined)?.requests;
  if (!Array.isArray(requests)) return;
  requests.forEach((r: Record<string, unknown> | null, i) => {
    if (typeof r !== 'object' || r === null || typeof r.bodyFile !== 'string') return;
    const field = `verify.requests[${i}].bodyFile`;
    r.bodyBase64 = readBounded(resolve(dirname(file), r.bodyFile), file, field, 'base64');
    delete r.bodyFile;
  });
}

/**
 * Reads a spec file, inlines `templateFrom`, `verify.shadow.inputsFile` and
 * request `bodyFile`s (relative to the spec file) and validates the result.
 */
export function loadSpecFile(file: string): ReleaseSpec {
  const data = parseYaml(readBounded(file, file), file) as Record<string, unknown> | null;
  if (data !== null && typeof data === 'object' && !Array.isArray(data)) {
    inlineShadowInputs(data, file);
    inlineBodyFiles(data, file);
  }
  const from = (data as { templateFrom?: { file?: unknown } } | null)?.templateFrom;
  if (data !== null && typeof data === 'object' && from !== undefined && typeof from?.file === 'string') {
    const manifest = resolve(dirname(file), from.file);
    const template = templateOfManifest(readBounded(manifest, file, 'templateFrom.file'), manifest) as Template;
    // Bluegreen sets the slot, version and its own labels; the rest of the template is the user's.
    if (template?.metadata?.labels !== undefined) {
      const slotLabel = typeof data.slotLabel === 'string' ? data.slotLabel : 'slot';
      delete template.metadata.labels[slotLabel];
    }
    const { templateFrom: _resolved, ...rest } = data;
    return validateSpec({ ...rest, template: pruneTemplate(template) }, file);
  }
  return validateSpec(data, file);
}

/** Drops what the API server fills in (creationTimestamp: null from kubectl output). */
function pruneTemplate(template: Template): Template {
  const metadata = template.metadata ?? {};
  const kept = Object.fromEntries(Object.entries(metadata).filter(([k]) => k === 'labels' || k === 'annotations'));
  return { ...(Object.keys(kept).length > 0 ? { metadata: kept } : {}), spec: template.spec };
}
