// The example model server's pod template on the test cluster's real node, as
// examples/real-node/fraud-v1.yaml gives it to users. The traffic tests and the
// benchmarks start from it, so what they run is what the example shows.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

const example = parse(readFileSync(new URL('../../../examples/real-node/fraud-v1.yaml', import.meta.url), 'utf8')).template;

/**
 * A copy of the example's template with what a caller changes.
 * @param {{ labels?: Record<string, string>, modelFile?: string, args?: string[], readyAfterSeconds?: number, preStopSeconds?: number, tokenMs?: number, graceSeconds?: number }} [changes]
 *   pod labels, the MODEL_FILE the server loads, the server's args, a readiness delay,
 *   a preStop sleep (a pod leaving while a Service selects it serves until node proxies know),
 *   the time between streamed tokens (TOKEN_MS), terminationGracePeriodSeconds
 */
export function realNodeTemplate({ labels, modelFile, args, readyAfterSeconds, preStopSeconds, tokenMs, graceSeconds } = {}) {
  const template = structuredClone(example);
  const container = template.spec.containers[0];
  if (modelFile !== undefined) container.env = [{ name: 'MODEL_FILE', value: modelFile }];
  if (tokenMs !== undefined) container.env = [...container.env ?? [], { name: 'TOKEN_MS', value: String(tokenMs) }];
  if (graceSeconds !== undefined) template.spec.terminationGracePeriodSeconds = graceSeconds;
  if (args !== undefined) container.args = args;
  if (readyAfterSeconds !== undefined) container.readinessProbe.initialDelaySeconds = readyAfterSeconds;
  if (labels !== undefined) template.metadata = { labels };
  if (preStopSeconds !== undefined) container.lifecycle = { preStop: { sleep: { seconds: preStopSeconds } } };
  return template;
}
