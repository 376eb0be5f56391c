// The release's messages: the approve and abort signals, the status query, and
// the checks every payload passes before the workflow acts on it. The CLI
// imports these without importing workflow code.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { ReleaseStatus } from './status.js';

/** `version`, when given, pins the message to the release of that version: one meant for another is ignored. */
export interface Approval { by: string; comment?: string; requestId?: string; version?: string }
export interface Abort { by: string; reason: string; requestId?: string; version?: string }

export const approveSignal = defineSignal<[Approval]>('approve');
export const abortSignal = defineSignal<[Abort]>('abort');
export const statusQuery = defineQuery<ReleaseStatus>('status');

const isText = (v: unknown, max: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;
const optionalText = (v: unknown, max: number): boolean => v === undefined || isText(v, max);
const present = <K extends string>(key: K, v: unknown): Partial<Record<K, string>> =>
  (v === undefined ? {} : { [key]: v } as Record<K, string>);

/** An approve payload of the right shape, or undefined (recorded as ignored, never a failure). */
export function asApproval(input: unknown): Approval | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const { by, comment, requestId, version } = input as Record<string, unknown>;
  if (!isText(by, 200) || !optionalText(comment, 2000) || !optionalText(requestId, 100) || !optionalText(version, 63)) return undefined;
  return { by, ...present('comment', comment), ...present('requestId', requestId), ...present('version', version) };
}

/** An abort payload of the right shape, or undefined. */
export function asAbort(input: unknown): Abort | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const { by, reason, requestId, version } = input as Record<string, unknown>;
  if (!isText(by, 200) || !isText(reason, 2000) || !optionalText(requestId, 100) || !optionalText(version, 63)) return undefined;
  return { by, reason, ...present('requestId', requestId), ...present('version', version) };
}

/** A payload as the timeline quotes it: at most 80 characters. */
export function describePayload(input: unknown): string {
  const text = JSON.stringify(input) ?? String(input);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
