// Model signatures (Open Inference Protocol model metadata): what a model takes
// and gives, and the changes that would break the callers of the live model.

export interface TensorSpec { name: string; datatype: string; shape: number[] }
export interface Signature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /**
   * Sides the metadata leaves out or lists empty: not declared, which the Open
   * Inference Protocol allows (MLServer and KServe's runtimes answer so unless
   * the user declares them). Nothing is checked against a side not declared.
   */
  undeclared?: { inputs?: true; outputs?: true };
}

const describeTensor = (t: TensorSpec): string => `${t.name} ${t.datatype}[${t.shape.join(',')}]`;

/** The signature in a `GET /v2/models/{name}` answer, or a reason it has none. */
export function signatureOf(metadata: unknown): Signature | string {
  const m = metadata as { inputs?: unknown; outputs?: unknown; error?: unknown } | null;
  if (typeof m?.error === 'string') return `model metadata is an error: ${m.error.slice(0, 200)}`;
  const tensors = (list: unknown, what: string): TensorSpec[] | string => {
    if (list === undefined || list === null) return [];
    if (!Array.isArray(list)) return `the model metadata's ${what} is ${JSON.stringify(list).slice(0, 80)}, not a list`;
    const isTensor = (t: Partial<TensorSpec> | null) =>
      typeof t?.name === 'string' && typeof t.datatype === 'string' && Array.isArray(t.shape) && t.shape.every(Number.isInteger);
    const bad = list.find((t: Partial<TensorSpec> | null) => !isTensor(t));
    if (bad !== undefined) return `the model metadata's ${what} include ${JSON.stringify(bad).slice(0, 80)}, not { name, datatype, shape }`;
    return (list as TensorSpec[]).map(({ name, datatype, shape }) => ({ name, datatype, shape }));
  };
  const inputs = tensors(m?.inputs, 'inputs');
  const outputs = tensors(m?.outputs, 'outputs');
  if (typeof inputs === 'string') return inputs;
  if (typeof outputs === 'string') return outputs;
  const undeclared = {
    ...(inputs.length === 0 ? { inputs: true as const } : {}),
    ...(outputs.length === 0 ? { outputs: true as const } : {}),
  };
  return { inputs, outputs, ...(Object.keys(undeclared).length > 0 ? { undeclared } : {}) };
}

/**
 * Whether a tensor of shape `to` accepts everything one of shape `from` did: the
 * same rank, and each fixed dimension of `from` kept or made variable (-1).
 */
const widens = (from: number[], to: number[]): boolean =>
  from.length === to.length && from.every((d, i) => to[i] === -1 || to[i] === d);

/**
 * The changes from the live signature to the candidate's that would break the
 * live model's callers: an input removed, renamed or added (callers do not send
 * it), an input's datatype changed or a dimension narrowed; an output removed or
 * its datatype or shape changed. New outputs break nobody.
 */
export function breakingChanges(live: Signature, candidate: Signature): string[] {
  const names = new Set(live.inputs.map((t) => t.name));
  // A side the live model does not declare has nothing to compare; one it declares must stay declared.
  const side = (kind: 'input' | 'output', compare: () => string[]): string[] => {
    const key = `${kind}s` as const;
    if (live.undeclared?.[key]) return [];
    if (candidate.undeclared?.[key]) return [`${key} no longer declared (the live model declares ${live[key].map(describeTensor).join(', ')})`];
    return compare();
  };
  return [
    // Inputs may widen (callers' tensors still fit); outputs may narrow (callers still read them).
    ...side('input', () => [
      ...changed('input', live.inputs, candidate.inputs, (was, now) => widens(was, now)),
      ...candidate.inputs.filter((t) => !names.has(t.name)).map((t) => `input ${t.name} added (callers do not send it)`),
    ]),
    ...side('output', () => changed('output', live.outputs, candidate.outputs, (was, now) => widens(now, was))),
  ];
}

/** Each tensor of `live` that `candidate` removed, retyped, or reshaped where `keeps` says callers break. */
function changed(kind: string, live: TensorSpec[], candidate: TensorSpec[], keeps: (was: number[], now: number[]) => boolean): string[] {
  const byName = new Map(candidate.map((t) => [t.name, t]));
  return live.flatMap((was) => {
    const now = byName.get(was.name);
    if (now === undefined) return [`${kind} ${was.name} removed`];
    if (now.datatype !== was.datatype) return [`${kind} ${was.name} datatype ${was.datatype} -> ${now.datatype}`];
    return keeps(was.shape, now.shape) ? [] : [`${kind} ${was.name} shape [${was.shape.join(',')}] -> [${now.shape.join(',')}]`];
  });
}

/** A shape a tensor of the signature may have: same rank, fixed dimensions equal. */
const fits = (declared: number[], actual: number[]): boolean =>
  declared.length === actual.length && declared.every((d, i) => d === -1 || d === actual[i]);

/**
 * Checks an inference answer's outputs against the model's own signature: each
 * output declared, with the declared datatype, a shape that fits, and as many
 * values as its shape holds. The first problem, or undefined.
 */
export function outputsAgainstSignature(answer: unknown, signature: Signature): string | undefined {
  const outputs = (answer as { outputs?: unknown } | null)?.outputs;
  if (!Array.isArray(outputs)) return 'the answer has no outputs list';
  for (const output of outputs as { name?: unknown; datatype?: unknown; shape?: unknown; data?: unknown }[]) {
    // Outputs not declared: the golden expectations alone judge the answer.
    if (signature.undeclared?.outputs) continue;
    const declared = signature.outputs.find((o) => o.name === output.name);
    if (declared === undefined) return `output ${String(output.name)} is not in the model's signature (${signature.outputs.map(describeTensor).join(', ')})`;
    if (output.datatype !== declared.datatype) return `output ${declared.name}: datatype ${String(output.datatype)}, the signature says ${declared.datatype}`;
    const shape = Array.isArray(output.shape) ? output.shape as number[] : [];
    if (!fits(declared.shape, shape)) return `output ${declared.name}: shape [${shape.join(',')}] does not fit the signature's [${declared.shape.join(',')}]`;
    const values = Array.isArray(output.data) ? output.data.flat(Infinity).length : -1;
    const expected = shape.reduce((a, b) => a * b, 1);
    if (values !== expected) return `output ${declared.name}: shape [${shape.join(',')}] holds ${expected} values, the answer has ${values}`;
  }
  return undefined;
}

export const describeSignature = (s: Signature): string => {
  const side = (key: 'inputs' | 'outputs') => (s.undeclared?.[key] ? `${key} not declared` : `${key} ${s[key].map(describeTensor).join(', ')}`);
  return `${side('inputs')}; ${side('outputs')}`;
};
