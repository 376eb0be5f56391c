// What a protocol module provides: verification and analysis speak to every
// model server through this, whatever the server's API.
import type { Signature } from '../../rules/signature.js';

/** A golden or recorded request as the spec gives it: tensors (v2), a JSON body (http), or a chat or prompt (openai). */
export interface ModelRequest {
  inputs?: unknown; body?: unknown;
  /** protocol v2: the request's parameters (MLServer's content_type, Triton's sequence_id) */
  parameters?: unknown;
  /** protocol http: raw bytes instead of a JSON body, with their content type; the method */
  bodyBase64?: string; contentType?: string; method?: 'POST' | 'PUT';
  messages?: unknown; prompt?: string; maxTokens?: number; stream?: boolean;
}

/** What is sent: JSON (`body`), or raw bytes (`raw`), POSTed unless `method` says PUT. */
export interface Outgoing {
  url: string;
  body?: unknown;
  raw?: { bytes: Uint8Array; contentType: string };
  method?: 'POST' | 'PUT';
}

export interface ModelProtocol {
  /** Where a request goes and what it carries. */
  request(base: string, request: ModelRequest): Outgoing;
  /** The answer as a golden request's `expected` is written against it. */
  answerOf(answer: unknown): unknown;
  /** The answer as named outputs, which shadow agreement compares one by one. */
  outputsOf(answer: unknown): Record<string, unknown>;
  /** The model's declared signature (or why it has none); undefined for a protocol without one. */
  signature?(base: string): Promise<Signature | string>;
  /** An answer against the model's own signature: the first problem, or undefined. */
  checkAnswer?(answer: unknown, signature: Signature): string | undefined;
  /** The ways one golden request is sent, each a check of its own (whole and streamed); default: as given. */
  variants?(request: ModelRequest): { label: string; request: ModelRequest }[];
  /** An answer against a golden request's expectations, for a protocol whose answers are not compared as JSON. */
  judge?(expected: unknown, answer: unknown): string | undefined;
}
