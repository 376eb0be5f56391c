// Every failure type a release can end with, in one table: the type (an
// ApplicationFailure's `type`), who raises it, and what it means. Activities
// raise theirs as non-retryable, so the workflow rolls back at once; the
// workflow raises its own when a check or a gate says no. A test keeps
// docs/design.md's list equal to this one.
export const FAILURES = {
  InvalidSpec: { by: 'activity', meaning: 'the spec breaks the schema; each field error is named' },
  PreflightRefused: { by: 'activity', meaning: 'the cluster is not in a state a release can start from, or the API server refused the candidate in a dry run' },
  NamespaceNotAllowed: { by: 'activity', meaning: "the namespace is not in the worker's BLUEGREEN_NAMESPACES" },
  EndpointNotAllowed: { by: 'activity', meaning: "a verification or analysis endpoint is neither the release's own Service nor in BLUEGREEN_VERIFY_HOSTS" },
  RolloutFailed: { by: 'activity', meaning: 'the candidate cannot become available (ImagePullBackOff, a crash loop, the progress deadline)' },
  RolloutTimeout: { by: 'activity', meaning: 'the candidate was not available within rolloutTimeout' },
  WaitTimeout: { by: 'activity', meaning: 'another wait (the preview\'s endpoints) did not end within its bound' },
  VerificationFailed: { by: 'both', meaning: 'a verification check failed (each is named with its figure), or the candidate vanished during it' },
  SelectorConflict: { by: 'activity', meaning: 'the live Service\'s selector changed under the release; it is never overwritten' },
  SwitchRefused: { by: 'activity', meaning: 'the proof before the switch failed: the new selector would match pods of another Deployment, or no ready one' },
  SwitchTimeout: { by: 'activity', meaning: 'the live Service\'s EndpointSlices did not hold only the candidate\'s ready pods within switchTimeout' },
  SlotIsLive: { by: 'activity', meaning: 'the slot to delete is selected by the live Service; nothing was deleted' },
  KubernetesRejected: { by: 'activity', meaning: 'the API server answered 401, 403 or 422, which no retry changes' },
  AnalysisFailed: { by: 'both', meaning: 'an analysis metric failed during the monitor window, or a probe could not read a header from its Secret' },
  AnalysisInconclusive: { by: 'workflow', meaning: 'an analysis metric was inconclusive and no one approved within approval.timeout' },
  ApprovalTimeout: { by: 'workflow', meaning: 'a gate waited approval.timeout with onTimeout: rollback' },
  Aborted: { by: 'workflow', meaning: 'an abort was accepted while the last step was finishing' },
  ReleaseFailed: { by: 'workflow', meaning: 'the release ended Failed (a person must look); its result is in the failure\'s details' },
} as const satisfies Record<string, { by: 'activity' | 'workflow' | 'both'; meaning: string }>;

export type FailureType = keyof typeof FAILURES;

/** Each failure type by its own name: `ErrorTypes.RolloutFailed === 'RolloutFailed'`. */
export const ErrorTypes = Object.fromEntries(Object.keys(FAILURES).map((k) => [k, k])) as { readonly [K in FailureType]: K };

/**
 * The types activities raise, which the workflow's retry policies name as
 * non-retryable. Kept to exactly the set recorded before the table existed
 * (plus nothing the workflow raises), so activity options stay as they were.
 */
export const NON_RETRYABLE: readonly FailureType[] = [
  'InvalidSpec', 'PreflightRefused', 'RolloutFailed', 'RolloutTimeout', 'WaitTimeout', 'VerificationFailed', 'SelectorConflict',
  'NamespaceNotAllowed', 'SwitchRefused', 'SwitchTimeout', 'SlotIsLive', 'EndpointNotAllowed', 'KubernetesRejected',
];

/** The failure type of a release that ended Failed; its details hold the ReleaseResult. */
export const RELEASE_FAILED = ErrorTypes.ReleaseFailed;
