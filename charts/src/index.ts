/**
 * The charts as a library: the constructs, their configuration (also alone, without cdk8s, in `./config` and
 * `./config/environment-config`) and synth.
 */
export * from './argocd-chart';
export * from './canary-rollout';
export * from './config';
export * from './config/environment-config';
export * from './container-settings';
export * from './config/external-traffic';
export * from './config/image-reference';
export * from './delivery';
export * from './environment-chart';
export * from './external-secret';
export * from './inference-service';
export * from './model-source';
export * from './pod-environment';
export * from './pod-hardening';
export * from './quantity';
export * from './resource-amounts';
export * from './scaling';
export * from './service-exposure';
export * from './synth';
export * from './webhook-relay';
