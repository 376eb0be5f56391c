// Validating specs: every error at once, each naming the field, the value given
// and what is allowed. No I/O, so the workflow validates its input with it too.
import type { z } from 'zod';
import { ReleaseSpecSchema, type ReleaseSpec } from './spec.js';

export interface FieldError {
  /** e.g. `verify.requests[0].inputs`; empty for the document itself */
  field: string;
  message: string;
  value?: unknown;
}

export class InvalidSpecError extends Error {
  override readonly name = 'InvalidSpecError';
  constructor(readonly source: string, readonly errors: readonly FieldError[]) {
    super(`invalid release spec ${source}: ${errors.map(formatFieldError).join('; ')}`);
  }
}

export function formatFieldError(e: FieldError): string {
  const where = e.field === '' ? 'spec' : e.field;
  const shown = e.value === undefined ? '' : ` (got ${preview(e.value)})`;
  return `${where}: ${e.message}${shown}`;
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, key) =>
    typeof key === 'number' ? `${acc}[${key}]` : acc === '' ? String(key) : `${acc}.${String(key)}`, '');
}

function toFieldErrors(issues: readonly z.core.$ZodIssue[]): FieldError[] {
  return issues.flatMap((issue): FieldError[] => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        field: fieldPath([...issue.path, key]),
        message: 'is not a known field (check its spelling)',
      }));
    }
    const field = fieldPath(issue.path);
    const value = 'input' in issue ? issue.input : undefined;
    if (issue.code === 'invalid_type' && value === undefined) return [{ field, message: 'is required' }];
    return [{ field, message: issue.message, value }];
  });
}

/** Validates a parsed document; throws InvalidSpecError listing every problem. */
export function validateSpec(input: unknown, source = 'spec'): ReleaseSpec {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InvalidSpecError(source, [{ field: '', message: 'must be a mapping of fields', value: input }]);
  }
  const result = ReleaseSpecSchema.safeParse(input, { reportInput: true });
  if (!result.success) throw new InvalidSpecError(source, toFieldErrors(result.error.issues));
  return result.data;
}

/** A spec checked: the field errors, or the spec with its defaults filled in (left out when that is exactly what was sent). */
export type SpecCheck = { errors: string } | { spec?: ReleaseSpec };

/**
 * What a release checks first. It runs in the worker, outside the workflow
 * sandbox, where the schema is built once: in the sandbox it was built again for
 * every release loaded, which cost milliseconds of CPU and about 2 MiB each.
 */
export function checkSpec(input: unknown): SpecCheck {
  let spec: ReleaseSpec;
  try {
    spec = validateSpec(input);
  } catch (err) {
    if (err instanceof InvalidSpecError) return { errors: err.errors.map(formatFieldError).join('; ') };
    throw err;
  }
  // A spec the CLI validated comes back unchanged: no need to store it in the history twice.
  return JSON.stringify(spec) === JSON.stringify(input) ? {} : { spec };
}
