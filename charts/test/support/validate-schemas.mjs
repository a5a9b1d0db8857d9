// Validates Kubernetes objects against the Kubernetes API schema (kubernetes-models) and the Prometheus Operator,
// Argo CD and Argo Rollouts CRD schemas (@kubernetes-models/*), and ExternalSecrets structurally. ESM because those packages
// are ESM-only; the Jest tests run it as a child process. Input: a JSON array of objects on stdin. Output: a JSON array of
// { index, kind, name, error } on stdout, error null when the object is valid.
import { readFileSync } from 'node:fs';

const MODULES = {
  '': 'kubernetes-models/v1',
  apps: 'kubernetes-models/apps/v1',
  autoscaling: 'kubernetes-models/autoscaling/v2',
  policy: 'kubernetes-models/policy/v1',
  'networking.k8s.io': 'kubernetes-models/networking.k8s.io/v1',
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1',
  'argoproj.io': '@kubernetes-models/argo-cd/argoproj.io/v1alpha1',
};

// Argo CD and Argo Rollouts share the group argoproj.io/v1alpha1; these kinds are Argo Rollouts' (its models are
// generated from the Argo Rollouts v1.9.0 API types; v1.9.1 is a patch release with the same API).
const ARGO_ROLLOUTS_KINDS = new Set([
  'Rollout',
  'AnalysisTemplate',
  'ClusterAnalysisTemplate',
  'AnalysisRun',
  'Experiment',
]);
const ARGO_ROLLOUTS_MODULE = '@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1';

// No schema package for the External Secrets Operator is installed: check the fields the operator requires.
function checkExternalSecret(obj) {
  const spec = obj.spec ?? {};
  if (!spec.secretStoreRef?.name) return 'spec.secretStoreRef.name is required';
  if (!['ClusterSecretStore', 'SecretStore'].includes(spec.secretStoreRef.kind))
    return 'bad secretStoreRef.kind';
  if (!spec.target?.name) return 'spec.target.name is required';
  if (!(spec.dataFrom ?? []).every((d) => typeof d.extract?.key === 'string'))
    return 'dataFrom[].extract.key';
  if (!(spec.data?.length || spec.dataFrom?.length)) return 'spec.data or spec.dataFrom is required';
  return null;
}

const objects = JSON.parse(readFileSync(0, 'utf8'));
const results = [];
for (const [index, obj] of objects.entries()) {
  const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : ['', obj.apiVersion];
  const path =
    group === 'argoproj.io' && ARGO_ROLLOUTS_KINDS.has(obj.kind) ? ARGO_ROLLOUTS_MODULE : MODULES[group];
  let error = null;
  if (obj.apiVersion === 'external-secrets.io/v1' && obj.kind === 'ExternalSecret') {
    results.push({ index, kind: obj.kind, name: obj.metadata?.name, error: checkExternalSecret(obj) });
    continue;
  }
  if (!path || !path.endsWith(`/${version}`)) {
    error = `no schema for apiVersion ${obj.apiVersion}`;
  } else {
    const Model = (await import(path))[obj.kind];
    if (!Model) {
      error = `no schema for kind ${obj.kind} in ${obj.apiVersion}`;
    } else {
      try {
        new Model(obj).validate();
      } catch (err) {
        error = err.message;
      }
    }
  }
  results.push({ index, kind: obj.kind, name: obj.metadata?.name, error });
}
process.stdout.write(JSON.stringify(results));
