export * from './canary-analysis';
export * from './grafana-dashboard';
export * from './grafana-provisioning';
export * from './inference-alerts';
export * from './inference-dashboard';
export * from './inference-rules';
export * from './standalone-config';
