#!/usr/bin/env node
// For `bluegreen demo --context`: the demo on the current kube context instead of
// the local cluster. `prepare NAMESPACE` checks what the demo needs there and says
// what is missing (an API that answers, the right to create what a release
// creates), then creates the namespace and a ConfigMap holding the example model
// server, which the demo's pods run with a public Node.js image. `clean NAMESPACE`
// deletes the namespace again.
import { readFileSync } from 'node:fs';
import { AppsV1Api, AuthorizationV1Api, CoreV1Api, KubeConfig, VersionApi } from '@kubernetes/client-node';

const [verb, namespace] = process.argv.slice(2);
const fail = (message) => {
  console.error(`bluegreen demo --context: ${message}`);
  process.exit(1);
};
if (!['prepare', 'clean'].includes(verb) || !namespace) fail('usage: demo-context.mjs prepare|clean NAMESPACE');

const config = new KubeConfig();
try {
  config.loadFromDefault();
} catch (err) {
  fail(`no kubeconfig to use (KUBECONFIG=${process.env.KUBECONFIG ?? 'unset'}): ${err.message.split('\n')[0]}`);
}
const context = config.getCurrentContext();
const server = config.getCurrentCluster()?.server;
if (!server) fail(`the kubeconfig has no current context with a cluster (KUBECONFIG=${process.env.KUBECONFIG ?? '~/.kube/config'})`);
const core = config.makeApiClient(CoreV1Api);
const status = (err) => err?.code ?? err?.statusCode ?? err?.response?.statusCode;
/** An error in one line, with the network cause (ECONNREFUSED, ENOTFOUND) where fetch hides it. */
const why = (err) => [err.message.split('\n')[0], err.cause?.code ?? err.cause?.message].filter(Boolean).join(': ');

// The demo marks the namespace it creates, and uses or deletes only a namespace with that mark.
const MARK = ['app.kubernetes.io/part-of', 'bluegreen-demo'];
const madeByDemo = (ns) => ns?.metadata?.labels?.[MARK[0]] === MARK[1];
const existing = async () => core.readNamespace({ name: namespace }).catch((err) => (status(err) === 404 ? undefined : Promise.reject(err)));

if (verb === 'clean') {
  const ns = await existing().catch(() => undefined);
  if (ns !== undefined && !madeByDemo(ns)) {
    console.log(`left namespace ${namespace} on ${context} as it is: the demo did not create it (no ${MARK[0]}=${MARK[1]} label)`);
    process.exit(0);
  }
  await core.deleteNamespace({ name: namespace }).catch((err) => { if (status(err) !== 404) fail(`could not delete namespace ${namespace}: ${err.message.split('\n')[0]}`); });
  console.log(`deleted namespace ${namespace} on ${context}`);
  process.exit(0);
}

try {
  const version = await config.makeApiClient(VersionApi).getCode();
  console.log(`== the current kube context: ${context} at ${server} (Kubernetes ${version.gitVersion})`);
} catch (err) {
  fail(`cannot reach the Kubernetes API of context ${context} at ${server}: ${why(err)}`);
}

// What a release does in its namespace, asked of the API server before anything is created.
const needs = [
  ['', 'namespaces', 'create', undefined], ['', 'configmaps', 'create', namespace], ['apps', 'deployments', 'create', namespace],
  ['apps', 'deployments', 'delete', namespace], ['', 'services', 'create', namespace], ['', 'services', 'patch', namespace],
  ['', 'pods', 'list', namespace], ['discovery.k8s.io', 'endpointslices', 'list', namespace],
];
const auth = config.makeApiClient(AuthorizationV1Api);
const denied = [];
for (const [group, resource, verbAsked, ns] of needs) {
  const review = await auth.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { group, resource, verb: verbAsked, namespace: ns } } } });
  if (!review.status?.allowed) denied.push(`${verbAsked} ${group ? `${group}/` : ''}${resource}${ns ? ` in ${ns}` : ''}`);
}
if (denied.length > 0) fail(`the current user of ${context} may not: ${denied.join(', ')}; use a context that may, or run the demo on the local cluster (without --context)`);

const found = await existing().catch((err) => fail(`could not read namespace ${namespace}: ${why(err)}`));
if (found !== undefined && !madeByDemo(found)) {
  fail(`namespace ${namespace} exists on ${context} and the demo did not create it (no ${MARK[0]}=${MARK[1]} label): the demo neither uses nor deletes it; delete or rename it yourself, or run the demo on the local cluster (without --context)`);
}
await core.createNamespace({ body: { metadata: { name: namespace, labels: { [MARK[0]]: MARK[1] } } } })
  .catch((err) => { if (status(err) !== 409) fail(`could not create namespace ${namespace}: ${err.message.split('\n')[0]}`); });
const file = (path) => readFileSync(new URL(`../examples/model-server/${path}`, import.meta.url), 'utf8');
const body = {
  metadata: { name: 'fraud-model-server', namespace },
  data: { 'server.mjs': file('server.mjs'), 'fraud-v1.json': file('models/fraud-v1.json'), 'fraud-v2.json': file('models/fraud-v2.json') },
};
await core.createNamespacedConfigMap({ namespace, body })
  .catch((err) => (status(err) === 409 ? core.replaceNamespacedConfigMap({ name: body.metadata.name, namespace, body }) : Promise.reject(err)))
  .catch((err) => fail(`could not store the example model server in ConfigMap ${namespace}/fraud-model-server: ${err.message.split('\n')[0]}`));
// A namespace with a Deployment left from an earlier demo would be adopted; say so instead.
const left = await config.makeApiClient(AppsV1Api).listNamespacedDeployment({ namespace });
if (left.items.length > 0) console.log(`   namespace ${namespace} already holds ${left.items.map((d) => d.metadata.name).join(', ')}: the demo releases beside them`);
console.log(`   namespace ${namespace} and ConfigMap fraud-model-server ready; the pods run node:20-alpine with it`);
