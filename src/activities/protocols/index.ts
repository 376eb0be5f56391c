// The protocols verification and analysis speak to a model server, behind one
// interface: where a request goes, how an answer is read, and what the model
// declares about itself. A new protocol is one module here.
import type { ReleaseSpec } from '../../release/spec.js';
import type { Fetch, RequestOptions } from '../http.js';
import { plainHttp } from './http.js';
import { openAi } from './openai.js';
import type { ModelProtocol } from './protocol.js';
import { openInference } from './v2.js';

export type { ModelProtocol, ModelRequest, Outgoing } from './protocol.js';

/** The protocol as one side speaks it: the candidate, or the live model (whose model version may differ). */
export function protocolOf(
  spec: ReleaseSpec, fetch: Fetch, request: RequestOptions = {}, side: 'candidate' | 'live' = 'candidate',
): ModelProtocol {
  const modelName = spec.verify.modelName ?? spec.model;
  switch (spec.verify.protocol) {
    case 'http': return plainHttp(spec.verify.path);
    case 'openai': return openAi(modelName, fetch, request);
    default: return openInference(modelName, fetch, request, side === 'live' ? spec.verify.liveModelVersion : spec.verify.modelVersion);
  }
}
