// The labels, annotation and field manager Bluegreen writes on what it owns.
export const FIELD_MANAGER = 'bluegreen';
export const MANAGED_BY = 'bluegreen';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const NAME_LABEL = 'app.kubernetes.io/name';
export const VERSION_LABEL = 'bluegreen.dev/version';
/** Names the model service a pod belongs to, so Services of one model never select each other's pods. */
export const SERVICE_LABEL = 'bluegreen.dev/service';
export const RELEASE_ANNOTATION = 'bluegreen.dev/release';
