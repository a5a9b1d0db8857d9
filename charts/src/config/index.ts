/**
 * The charts' configuration, importable without cdk8s: the environment list and model pins, the promotion gate's
 * evaluation policy, and the environment config schema with its reader. The pipeline imports the charts through this
 * entry (and `charts/src` only for synth); a test checks that loading it loads neither cdk8s nor cdk8s-plus.
 */
export * from './environment-config';
export * from './evaluation-policy';
export * from './model-pin';
