// Analysis conditions: small expressions over a measurement's `result`, as in
// Argo Rollouts' successCondition and failureCondition (`result < 0.01`,
// `result >= 0.95 && result < 2`). Parsed when the spec is validated, so a typo
// is refused before anything in the cluster changes; no eval, no I/O.

type Node =
  | { kind: 'num'; value: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'result' }
  | { kind: 'neg' | 'not'; arg: Node }
  | { kind: 'bin'; op: string; left: Node; right: Node };

type Type = 'number' | 'boolean';

export interface Condition {
  source: string;
  /** true when the condition holds for this result */
  holds(result: number): boolean;
}

const TOKEN = /\s*(?:(\d+(?:\.\d*)?(?:e[-+]?\d+)?|\.\d+(?:e[-+]?\d+)?)|(&&|\|\||<=|>=|==|!=|[-+*/<>!()])|([A-Za-z_]\w*))/y;

function tokenize(source: string): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < source.length) {
    const at = TOKEN.lastIndex;
    if (/^\s*$/.test(source.slice(at))) break;
    const m = TOKEN.exec(source);
    if (m === null) throw new Error(`unexpected "${source.slice(at).trim().slice(0, 10)}" at character ${at + 1}`);
    tokens.push(m[1] ?? m[2] ?? m[3]!);
  }
  return tokens;
}

const WORDS: Record<string, string> = { and: '&&', or: '||', not: '!' };
const COMPARISONS = ['<', '<=', '>', '>=', '==', '!='];

/** Parses a condition; throws an Error that says what is wrong and where. */
export function parseCondition(source: string): Condition {
  const tokens = tokenize(source).map((t) => WORDS[t] ?? t);
  let i = 0;
  const peek = () => tokens[i];
  const take = () => tokens[i++];
  const expect = (type: Type, node: Node, what: string): Node => {
    if (typeOf(node) !== type) throw new Error(`${what} must be a ${type}`);
    return node;
  };

  const primary = (): Node => {
    const t = take();
    if (t === undefined) throw new Error('ends too early');
    if (t === '(') {
      const inner = or();
      if (take() !== ')') throw new Error('a "(" is not closed');
      return inner;
    }
    if (t === '-') return { kind: 'neg', arg: expect('number', primary(), 'what follows "-"') };
    if (t === '!') return { kind: 'not', arg: expect('boolean', comparison(), 'what follows "!"') };
    if (t === 'result') return { kind: 'result' };
    if (t === 'true' || t === 'false') return { kind: 'bool', value: t === 'true' };
    if (/^[\d.]/.test(t)) return { kind: 'num', value: Number(t) };
    throw new Error(`unexpected "${t}": conditions use result, numbers, + - * /, < <= > >= == !=, && || ! and parentheses`);
  };
  const binary = (next: () => Node, ops: string[], type: Type) => (): Node => {
    let left = next();
    while (ops.includes(peek() ?? '')) {
      const op = take()!;
      left = { kind: 'bin', op, left: expect(type, left, `the left of "${op}"`), right: expect(type, next(), `the right of "${op}"`) };
    }
    return left;
  };
  const product = binary(primary, ['*', '/'], 'number');
  const sum = binary(product, ['+', '-'], 'number');
  const comparison = (): Node => {
    const left = sum();
    if (!COMPARISONS.includes(peek() ?? '')) return left;
    const op = take()!;
    const right = sum();
    if (typeOf(left) !== typeOf(right)) throw new Error(`"${op}" compares a ${typeOf(left)} with a ${typeOf(right)}`);
    return { kind: 'bin', op, left, right };
  };
  const and = binary(comparison, ['&&'], 'boolean');
  const or = binary(and, ['||'], 'boolean');

  if (tokens.length === 0) throw new Error('is empty');
  const tree = or();
  if (i < tokens.length) throw new Error(`unexpected "${tokens[i]}" after a complete expression`);
  expect('boolean', tree, 'the condition');
  if (!mentionsResult(tree)) throw new Error('never looks at result');
  return { source, holds: (result) => evaluate(tree, result) as boolean };
}

function typeOf(node: Node): Type {
  switch (node.kind) {
    case 'num': case 'result': case 'neg': return 'number';
    case 'bool': case 'not': return 'boolean';
    case 'bin': return ['+', '-', '*', '/'].includes(node.op) ? 'number' : 'boolean';
  }
}

function mentionsResult(node: Node): boolean {
  if (node.kind === 'result') return true;
  if (node.kind === 'neg' || node.kind === 'not') return mentionsResult(node.arg);
  if (node.kind === 'bin') return mentionsResult(node.left) || mentionsResult(node.right);
  return false;
}

function evaluate(node: Node, result: number): number | boolean {
  switch (node.kind) {
    case 'num': case 'bool': return node.value;
    case 'result': return result;
    case 'neg': return -(evaluate(node.arg, result) as number);
    case 'not': return !(evaluate(node.arg, result) as boolean);
    case 'bin': {
      const l = evaluate(node.left, result);
      // && and || short-circuit, as users expect.
      if (node.op === '&&') return (l as boolean) && (evaluate(node.right, result) as boolean);
      if (node.op === '||') return (l as boolean) || (evaluate(node.right, result) as boolean);
      const r = evaluate(node.right, result);
      switch (node.op) {
        case '+': return (l as number) + (r as number);
        case '-': return (l as number) - (r as number);
        case '*': return (l as number) * (r as number);
        case '/': return (l as number) / (r as number);
        case '<': return l < r;
        case '<=': return l <= r;
        case '>': return l > r;
        case '>=': return l >= r;
        case '==': return l === r;
        default: return l !== r;
      }
    }
  }
}

/** The error of a condition, or undefined when it parses. */
export function conditionError(source: string): string | undefined {
  try {
    parseCondition(source);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
