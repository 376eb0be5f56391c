// Plain HTTP: the golden request's JSON body POSTed to verify.path, the JSON
// answer compared as a whole.
import type { ModelProtocol } from './protocol.js';

export const plainHttp = (path: string): ModelProtocol => ({
  request: (base, request) => ({ url: `${base}${path}`, body: request.body }),
  answerOf: (answer) => answer,
  outputsOf: (answer) => ({ answer }),
});
