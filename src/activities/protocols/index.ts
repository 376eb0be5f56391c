// The protocols verification and analysis speak to a model server, behind one
// interface: where a request goes, how an answer is read, and what the model
// declares about itself. A new protocol is one module here.
import type { ReleaseSpec } from '../../release/spec.js';
import type { Signature } from '../../rules/signature.js';
import type { Fetch } from '../http.js';
import { plainHttp } from './http.js';
import { openInference } from './v2.js';

/** A golden or recorded request as the spec gives it: tensors (v2) or a JSON body (http). */
export interface ModelRequest { inputs?: unknown; body?: unknown }

export interface ModelProtocol {
  /** Where a request goes and the JSON it carries. */
  request(base: string, request: ModelRequest): { url: string; body: unknown };
  /** The answer as a golden request's `expected` is written against it. */
  answerOf(answer: unknown): unknown;
  /** The answer as named outputs, which shadow agreement compares one by one. */
  outputsOf(answer: unknown): Record<string, unknown>;
  /** The model's declared signature (or why it has none); undefined for a protocol without one. */
  signature?(base: string): Promise<Signature | string>;
  /** An answer against the model's own signature: the first problem, or undefined. */
  checkAnswer?(answer: unknown, signature: Signature): string | undefined;
}

export function protocolOf(spec: ReleaseSpec, fetch: Fetch): ModelProtocol {
  return spec.verify.protocol === 'http' ? plainHttp(spec.verify.path) : openInference(spec.verify.modelName ?? spec.model, fetch);
}
