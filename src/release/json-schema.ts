// JSON Schemas an LLM's answer must fit (a golden prompt's `expected.json`,
// protocol openai), checked with Ajv: draft 2020-12, the draft OpenAI's
// structured outputs and vLLM's guided decoding take.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';

// Not strict: schemas written for a server's structured outputs carry keywords Ajv does not know.
const ajv = new Ajv2020({ strict: false });
// Compiled once per schema text. Ajv keeps every schema it compiled (by object, and by $id), and
// each release brings new objects: each is removed from Ajv at once and kept here, a bounded few.
const compiled = new Map<string, ValidateFunction>();

function compile(schema: object | boolean): ValidateFunction {
  const key = JSON.stringify(schema);
  let validate = compiled.get(key);
  if (validate === undefined) {
    try {
      validate = ajv.compile(schema);
    } finally {
      if (typeof schema === 'object') ajv.removeSchema(schema);
    }
    if (compiled.size >= 64) compiled.clear();
    compiled.set(key, validate);
  }
  return validate;
}

/** Why `schema` is not a usable JSON Schema, or undefined. */
export function schemaError(schema: unknown): string | undefined {
  const object = typeof schema === 'object' && schema !== null && !Array.isArray(schema);
  if (typeof schema !== 'boolean' && !object) return 'must be a JSON Schema (an object)';
  try {
    compile(schema);
    return undefined;
  } catch (e) {
    return `is not a JSON Schema: ${(e as Error).message.replace(/^schema is invalid: /, '')}`;
  }
}

const said = (e: ErrorObject): string => {
  const at = e.instancePath === '' ? 'the answer' : e.instancePath;
  const values = e.keyword === 'enum' ? (e.params as { allowedValues: unknown[] }).allowedValues : undefined;
  const allowed = values === undefined ? '' : ` (${values.map((v) => JSON.stringify(v)).join(', ')})`;
  return `${at} ${e.message ?? 'does not fit'}${allowed}`;
};

/** The first way `value` breaks `schema` ("/label must be equal to one of the allowed values ("spam", "ham")"), or undefined. */
export function schemaViolation(schema: object | boolean, value: unknown): string | undefined {
  const validate = compile(schema);
  return validate(value) ? undefined : said(validate.errors![0]!);
}
