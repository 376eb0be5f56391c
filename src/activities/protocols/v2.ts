// The Open Inference Protocol (KServe v2): tensors POSTed to
// /v2/models/{name}[/versions/{version}]/infer, with the request's parameters;
// outputs by name, the signature from the model's metadata.
import { v2Outputs } from '../../rules/compare.js';
import { outputsAgainstSignature, signatureOf } from '../../rules/signature.js';
import { getJson, type Fetch, type RequestOptions } from '../http.js';
import type { ModelProtocol } from './protocol.js';

export const openInference = (modelName: string, fetch: Fetch, request: RequestOptions = {}, version?: string): ModelProtocol => {
  const model = `/v2/models/${encodeURIComponent(modelName)}${version === undefined ? '' : `/versions/${encodeURIComponent(version)}`}`;
  return {
    request: (base, request) => ({
      url: `${base}${model}/infer`,
      body: { inputs: request.inputs, ...(request.parameters === undefined ? {} : { parameters: request.parameters }) },
    }),
    answerOf: v2Outputs,
    outputsOf: v2Outputs,
    async signature(base) {
      const res = await getJson(fetch, `${base}${model}`, request);
      return res.ok ? signatureOf(res.answer) : `model metadata could not be read: ${res.error}`;
    },
    checkAnswer: outputsAgainstSignature,
  };
};
