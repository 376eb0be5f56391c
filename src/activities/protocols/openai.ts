// The OpenAI API, as LLM servers speak it (vLLM, TGI, SGLang, llama.cpp):
// chats to /v1/chat/completions, completions to /v1/completions, each golden
// prompt sent whole and streamed; the served model and its context length from
// /v1/models. Answers are judged by what they contain, not compared as JSON.
import { completionOf, judgeCompletion, modelsSignature } from '../../rules/completion.js';
import { getJson, type Fetch, type RequestOptions } from '../http.js';
import type { ModelProtocol, ModelRequest } from './protocol.js';

export const openAi = (modelName: string, fetch: Fetch, request: RequestOptions = {}): ModelProtocol => ({
  request: (base, r) => ({
    url: `${base}${r.prompt !== undefined ? '/v1/completions' : '/v1/chat/completions'}`,
    // Greedy and seeded: the same prompt gets the same answer, as far as the server allows.
    // The spec's own body fields (response_format, stop) go in too, and may set temperature or seed.
    body: {
      temperature: 0, seed: 0, ...(r.body as object | undefined),
      model: modelName, ...(r.prompt !== undefined ? { prompt: r.prompt } : { messages: r.messages }),
      ...(r.maxTokens === undefined ? {} : { max_tokens: r.maxTokens }), stream: r.stream === true,
    },
  }),
  variants: (r: ModelRequest) => (r.stream !== undefined ? [{ label: '', request: r }] : [
    { label: '', request: { ...r, stream: false } }, { label: ' (streamed)', request: { ...r, stream: true } },
  ]),
  answerOf: (answer) => completionOf(answer),
  outputsOf: (answer) => {
    const got = completionOf(answer);
    return { text: typeof got === 'string' ? got : got.text };
  },
  judge: judgeCompletion,
  async signature(base) {
    const res = await getJson(fetch, `${base}/v1/models`, request);
    return res.ok ? modelsSignature(res.answer, modelName) : `model list could not be read: ${res.error}`;
  },
});
