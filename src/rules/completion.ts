// Answers over the OpenAI API (LLM servers), judged: the text and finish
// reason of a whole or streamed answer, a golden prompt's expectations, and the
// served model as a signature. Pure, so the verdicts are tested as tables of cases.
import { schemaViolation } from '../release/json-schema.js';
import { clip } from './compare.js';
import type { Signature } from './signature.js';

/** An answer's text and why it ended, whole or assembled from its stream's events. */
export interface Completion { text: string; finishReason?: string }

type Choice = { message?: { content?: unknown }; delta?: { content?: unknown }; text?: unknown; finish_reason?: unknown };
const firstChoice = (x: unknown): Choice | undefined => (x as { choices?: Choice[] } | null)?.choices?.[0];

export function completionOf(answer: unknown): Completion | string {
  const events = (answer as { events?: unknown[] } | null)?.events;
  if (Array.isArray(events)) {
    const choices = events.map(firstChoice);
    const text = choices.map((c) => c?.delta?.content ?? c?.text ?? '').filter((t) => typeof t === 'string').join('');
    const finish = choices.map((c) => c?.finish_reason).filter((f) => typeof f === 'string').at(-1) as string | undefined;
    return { text, ...(finish === undefined ? {} : { finishReason: finish }) };
  }
  const choice = firstChoice(answer);
  const text = choice?.message?.content ?? choice?.text;
  if (typeof text !== 'string') return `the answer has no text in choices[0]: ${clip(JSON.stringify(answer), 120)}`;
  return { text, ...(typeof choice?.finish_reason === 'string' ? { finishReason: choice.finish_reason } : {}) };
}

/** What a golden prompt's answer must hold: the first thing it lacks, or undefined. */
export function judgeCompletion(expected: unknown, answer: unknown): string | undefined {
  const got = completionOf(answer);
  if (typeof got === 'string') return got;
  const e = expected as { contains?: string; matches?: string; json?: object | boolean; finishReason?: string };
  const quoted = JSON.stringify(clip(got.text, 120));
  if (e.contains !== undefined && !got.text.includes(e.contains)) return `the answer does not contain ${JSON.stringify(e.contains)}: ${quoted}`;
  if (e.matches !== undefined && !new RegExp(e.matches).test(got.text)) return `the answer does not match /${e.matches}/: ${quoted}`;
  if (e.json !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(got.text);
    } catch (err) {
      return `the answer is not JSON (${(err as Error).message}): ${quoted}`;
    }
    const broken = schemaViolation(e.json, parsed);
    if (broken !== undefined) return `the answer does not fit the JSON Schema: ${broken}: ${quoted}`;
  }
  if (e.finishReason !== undefined && got.finishReason !== e.finishReason) return `finish reason ${got.finishReason ?? 'missing'}, expected ${e.finishReason}: ${quoted}`;
  return undefined;
}

/** The served model as a signature: its context length is what callers' prompts must fit. */
export function modelsSignature(listing: unknown, modelName: string): Signature | string {
  const models = (listing as { data?: { id?: unknown; max_model_len?: unknown }[] } | null)?.data;
  if (!Array.isArray(models)) return `model list is not an OpenAI model list: ${clip(JSON.stringify(listing), 120)}`;
  const served = models.find((m) => m?.id === modelName);
  if (served === undefined) return `server serves no model named "${modelName}" (it serves ${models.map((m) => String(m?.id)).join(', ') || 'none'})`;
  const context = Number.isInteger(served.max_model_len) ? served.max_model_len as number : -1;
  return { inputs: [{ name: 'context', datatype: 'TOKENS', shape: [context] }], outputs: [], undeclared: { outputs: true } };
}

/**
 * When a streamed answer's first token came, and the mean time between its
 * tokens, from each event's arrival (ms since the request, in event order).
 * A token is an event with text: the first event of an OpenAI stream carries
 * only the role, sent before any work, and the last only the finish reason.
 * A stream of other events (no text in any) is timed by its events.
 */
export function tokenTimings(events: readonly unknown[], arrivals: readonly number[]): { firstEventMs?: number; interEventMs?: number } {
  const texts = events.map((e) => {
    const c = firstChoice(e);
    const t = c?.delta?.content ?? c?.text;
    return typeof t === 'string' && t !== '';
  });
  const timed = texts.some(Boolean) ? arrivals.filter((_, i) => texts[i]) : arrivals;
  if (timed.length === 0) return {};
  const first = timed[0]!;
  const between = timed.length > 1 ? { interEventMs: Math.round(((timed.at(-1)! - first) / (timed.length - 1)) * 10) / 10 } : {};
  return { firstEventMs: Math.round(first), ...between };
}
