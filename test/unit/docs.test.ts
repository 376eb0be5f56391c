// The docs say what the code does: the failure types in docs/design.md and the
// spec fields in README.md are the code's, no more and no fewer.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FAILURES } from '../../src/release/errors.js';
import { releaseSpecJsonSchema } from '../../src/release/schema.js';

const rows = (file: string, header: string): string[][] => {
  const text = readFileSync(file, 'utf8');
  const at = text.indexOf(header);
  expect(at, `${file} has a table headed "${header}"`).toBeGreaterThan(-1);
  const lines = text.slice(at).split('\n').slice(2);
  return lines.slice(0, lines.findIndex((l) => !l.startsWith('|'))).map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
};
const unquote = (cell: string) => cell.replace(/^`|`$/g, '');

describe('docs', () => {
  it('design.md lists every failure type, who raises it and what it means, as src/release/errors.ts does', () => {
    const documented = rows('docs/design.md', '| type | raised by | meaning |').map(([type, by, meaning]) => [unquote(type!), by, meaning]);
    expect(documented).toEqual(Object.entries(FAILURES).map(([type, f]) => [type, f.by, f.meaning]));
  });

  it('README lists every field of the spec, and none the schema lacks', () => {
    type Node = { properties?: Record<string, Node>; anyOf?: Node[] };
    const schema = releaseSpecJsonSchema() as Node;
    const documented = rows('README.md', '| field | default | meaning |').map(([field]) => unquote(field!));
    const at = (path: string): Node | undefined => path.split('.').reduce<Node | undefined>((node, key) => node?.properties?.[key], schema);
    expect(documented.filter((f) => at(f) === undefined), 'documented but not in the schema').toEqual([]);
    const top = Object.keys(schema.properties ?? {});
    const undocumented = top.filter((k) => !documented.some((f) => f === k || f.startsWith(`${k}.`)));
    // The sections whose every field has a row of its own.
    for (const section of ['verify', 'approval', 'monitor']) {
      for (const key of Object.keys(at(section)?.properties ?? {})) if (!documented.includes(`${section}.${key}`)) undocumented.push(`${section}.${key}`);
    }
    expect(undocumented, 'in the schema but not in README').toEqual([]);
  });

  it('README\'s Configuration lists every variable src/config.ts reads', () => {
    const source = readFileSync('src/config.ts', 'utf8');
    const read = new Set([...source.matchAll(/env\.([A-Z][A-Z0-9_]+)|'((?:BLUEGREEN|TEMPORAL)_[A-Z0-9_]+)'/g)].map((m) => m[1] ?? m[2]!));
    const documented = rows('README.md', '| variable | default | |').flatMap(([v]) => [...v!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!));
    expect(read.size).toBeGreaterThan(15);
    expect([...read].filter((v) => !documented.includes(v) && v !== 'KUBERNETES_SERVICE_HOST')).toEqual([]);
  });
});
