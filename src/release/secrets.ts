// Values named by reference (a Secret's key), so they never enter the release's
// history: environment variables, and the headers of requests to model servers
// and Prometheus.
import { z } from 'zod';
import { DNS1123_SUBDOMAIN } from './k8s-names.js';

/** A key of a Secret in the release's namespace, named instead of its value. */
export const secretKeyRef = z.strictObject({
  name: z.string().max(253).regex(DNS1123_SUBDOMAIN, { error: 'must be a Secret name (DNS-1123 subdomain)' }),
  key: z.string().regex(/^[-._a-zA-Z0-9]+$/, { error: 'must be a Secret key: letters, digits, "-", "_", "."' }).max(253),
}).optional();

/** Exactly one of a literal value or a Secret's key, for an env var and a request header alike. */
export const oneValue = { error: 'give exactly one of value or secretKeyRef' };
export const oneOf = (v: { value?: string; secretKeyRef?: unknown }) => (v.value === undefined) !== (v.secretKeyRef === undefined);

/** Headers a request may not set: fetch or the protocol sets them. */
const RESERVED_HEADERS = ['host', 'content-length', 'content-type', 'connection', 'transfer-encoding'];

const requestHeader = z.strictObject({
  name: z.string().max(256).regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: 'must be an HTTP header name such as Authorization or X-Api-Key' })
    .refine((n) => !RESERVED_HEADERS.includes(n.toLowerCase()), { error: `must not be one the request sets itself (${RESERVED_HEADERS.join(', ')})` }),
  /** A literal, non-secret value: it is stored in the release's history. */
  value: z.string().max(8192).regex(/^[^\r\n]*$/, { error: 'must be one line' }).optional(),
  /** A Secret in the release's namespace that the worker reads when it sends, so the value never enters the history. */
  secretKeyRef,
}).refine(oneOf, oneValue);

/** One request header as a spec gives it: a literal value or a Secret's key. */
export type RequestHeader = z.infer<typeof requestHeader>;

/** Headers every request carries: an API key, a gateway's or Prometheus' token. */
export const requestHeaderList = z.array(requestHeader).max(20)
  .refine((hs) => new Set(hs.map((h) => h.name.toLowerCase())).size === hs.length, { error: 'names a header twice' });
