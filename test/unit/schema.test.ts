// The committed JSON Schema is the zod schema's, and it accepts the example
// release files and rejects what validation rejects.
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { releaseSpecJsonSchema } from '../../src/release/schema.js';

const committed = JSON.parse(readFileSync('schema/release-spec.schema.json', 'utf8')) as Record<string, unknown>;
const validate = new Ajv2020({ strict: false, allErrors: true, validateFormats: false }).compile(committed);
const specFiles = [
  ...readdirSync('examples').filter((f) => f.endsWith('.yaml') && f !== 'mlserver-deployment.yaml').map((f) => `examples/${f}`),
  ...readdirSync('examples/real-node').filter((f) => f.endsWith('.yaml')).map((f) => `examples/real-node/${f}`),
  ...readdirSync('examples/context').filter((f) => f.endsWith('.yaml')).map((f) => `examples/context/${f}`),
];

describe('the JSON Schema of release specs', () => {
  it('is what the zod schema generates (npm run schema writes it)', () => {
    expect(committed).toEqual(JSON.parse(JSON.stringify(releaseSpecJsonSchema())));
  });

  it.each(specFiles)('accepts %s, which names it for editors', (file) => {
    const text = readFileSync(file, 'utf8');
    expect(text.split('\n')[0]).toMatch(/^# yaml-language-server: \$schema=(\.\.\/)+schema\/release-spec\.schema\.json$/);
    expect(validate(parse(text)), JSON.stringify(validate.errors)).toBe(true);
  });

  it('rejects an unknown field and a bad value, naming them', () => {
    expect(validate({ model: 'fraud', version: 'v2', image: 'x:1', replica: 2 })).toBe(false);
    expect(validate.errors).toContainEqual(expect.objectContaining({ keyword: 'additionalProperties', params: { additionalProperty: 'replica' } }));
    expect(validate({ model: 'Fraud', version: 'v2', image: 'x:1' })).toBe(false);
    expect(validate.errors).toContainEqual(expect.objectContaining({ instancePath: '/model', keyword: 'pattern' }));
  });
});

describe('the design of record', () => {
  it('shows the example with every check as the example file holds it', () => {
    const example = readFileSync('examples/fraud-v2-every-check.yaml', 'utf8').split('\n').filter((l) => !l.startsWith('#')).join('\n').trim();
    expect(readFileSync('docs/design.md', 'utf8')).toContain(`\`\`\`yaml\n${example}\n\`\`\``);
  });
});
