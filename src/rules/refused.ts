/** A state of the cluster a release must not start from; the message says what to do. */
export class RefusedError extends Error {
  override readonly name = 'RefusedError';
}
