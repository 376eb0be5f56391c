// Comparisons of model answers and the figures checks report: pure, so the
// verdicts are tested as tables of cases.

/** Longest text of an answer reflected into a check (and so into the history and status). */
const MAX_REFLECTED = 200;

export const clip = (text: string, max = MAX_REFLECTED): string => (text.length > max ? `${text.slice(0, max - 3)}...` : text);

/** An Open Inference Protocol response as output name -> data. */
export function v2Outputs(answer: unknown): Record<string, unknown> {
  const outputs = (answer as { outputs?: { name?: string; data?: unknown }[] } | null)?.outputs;
  if (!Array.isArray(outputs)) return {};
  return Object.fromEntries(outputs.map((o) => [o.name ?? '', o.data]));
}

/** Deep comparison where numbers match within tolerance; the first difference, or undefined. */
export function compareJson(expected: unknown, actual: unknown, tolerance: number, at: string): string | undefined {
  const where = at === '' ? 'the answer' : at;
  if (typeof expected === 'number') {
    return typeof actual === 'number' && Math.abs(actual - expected) <= tolerance
      ? undefined
      : `${where}: expected ${expected} ± ${tolerance}, got ${JSON.stringify(actual)}`;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) {
      return `${where}: expected ${expected.length} items, got ${Array.isArray(actual) ? actual.length : JSON.stringify(actual)}`;
    }
    for (const [i, item] of expected.entries()) {
      const diff = compareJson(item, actual[i], tolerance, `${at}[${i}]`);
      if (diff !== undefined) return diff;
    }
    return undefined;
  }
  if (typeof expected === 'object' && expected !== null) {
    if (typeof actual !== 'object' || actual === null) return `${where}: expected an object, got ${JSON.stringify(actual)}`;
    for (const [key, value] of Object.entries(expected)) {
      const diff = compareJson(value, (actual as Record<string, unknown>)[key], tolerance, at === '' ? key : `${at}.${key}`);
      if (diff !== undefined) return diff;
    }
    return undefined;
  }
  return expected === actual ? undefined : `${where}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`;
}

/**
 * A JSON value without the fields at the given dotted paths (`id`,
 * `usage.total_tokens`; `*` is any key or item), for comparisons that must not
 * see what differs in every answer. The value itself is left as it is.
 */
export function withoutFields(value: unknown, paths: readonly string[]): unknown {
  let out = value;
  for (const path of paths) out = without(out, path.split('.'));
  return out;
}

function without(value: unknown, path: readonly string[]): unknown {
  if (typeof value !== 'object' || value === null || path.length === 0) return value;
  const [head, ...rest] = path as [string, ...string[]];
  const matches = (key: string) => head === '*' || head === key;
  if (Array.isArray(value)) {
    return rest.length === 0
      ? value.filter((_, i) => !matches(String(i)))
      : value.map((v, i) => (matches(String(i)) ? without(v, rest) : v));
  }
  const entries = Object.entries(value as Record<string, unknown>);
  return Object.fromEntries(rest.length === 0
    ? entries.filter(([key]) => !matches(key))
    : entries.map(([key, v]) => [key, matches(key) ? without(v, rest) : v]));
}

/** The p-th percentile (0 < p <= 100) of sorted values, by nearest rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

/** Words compared at most: an answer longer than this is judged by its beginning (the table is words x words). */
const MAX_WORDS = 2_000;

/**
 * How alike two texts are, word by word: 1 - the word edit distance over the
 * longer text's words (1: the same words in the same order; 0: nothing shared).
 * LLM answers differ by a word or two across batch sizes even at temperature 0.
 */
export function textSimilarity(a: string, b: string): number {
  const [x, y] = [a, b].map((t) => t.split(/\s+/).filter((w) => w !== '').slice(0, MAX_WORDS));
  const longer = Math.max(x!.length, y!.length);
  if (longer === 0) return 1;
  // One row of the edit-distance table at a time.
  let row = Int32Array.from({ length: y!.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x!.length; i++) {
    const next = new Int32Array(y!.length + 1);
    next[0] = i;
    for (let j = 1; j <= y!.length; j++) {
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (x![i - 1] === y![j - 1] ? 0 : 1));
    }
    row = next;
  }
  return 1 - row[y!.length]! / longer;
}
