// The release spec as JSON Schema, generated from the zod schema that validates
// it, so editors complete and check release files with the same rules.
import { z } from 'zod';
import { ReleaseSpecSchema } from './spec.js';

export function releaseSpecJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(ReleaseSpecSchema, { io: 'input', unrepresentable: 'any' }),
    title: 'Bluegreen release spec',
    description: 'One blue-green release of a model service; `bluegreen validate -f FILE` checks what a schema cannot (durations against each other, the slot label in a template).',
  };
}
