/**
 * The charts' configuration the CLI reads everywhere, the init container's `model-fetch` included: the environment
 * list, model pins and the promotion gate's evaluation policy (zod only). The environment config schema and reader
 * are a separate entry, `./environment-config` (also without cdk8s), read only where the repository is checked out.
 */
export * from './evaluation-policy';
export * from './model-pin';
export * from './names';
