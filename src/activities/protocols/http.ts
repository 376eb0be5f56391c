// Plain HTTP: the golden request's JSON body, or its raw bytes (an image, as
// TorchServe takes one), POSTed or PUT to verify.path; the JSON answer compared
// as a whole.
import type { ModelProtocol } from './protocol.js';

export const plainHttp = (path: string): ModelProtocol => ({
  request: (base, request) => ({
    url: `${base}${path}`, method: request.method ?? 'POST',
    ...(request.bodyBase64 === undefined
      ? { body: request.body }
      : { raw: { bytes: Buffer.from(request.bodyBase64, 'base64'), contentType: request.contentType ?? 'application/octet-stream' } }),
  }),
  answerOf: (answer) => answer,
  outputsOf: (answer) => ({ answer }),
});
