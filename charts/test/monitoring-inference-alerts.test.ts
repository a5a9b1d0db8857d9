import { Testing } from 'cdk8s';
import { InferenceAlerts } from '../src/monitoring/inference-alerts';
import { inferenceRules } from '../src/monitoring/inference-rules';
import { rulesFile } from '../src/monitoring/standalone-config';
import { validateSchemas } from './support/dist';

interface SynthRule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface SynthPrometheusRule {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: { groups: Array<{ name: string; rules: SynthRule[] }> };
}

function synth(props: ConstructorParameters<typeof InferenceAlerts>[2] = {}): SynthPrometheusRule {
  const chart = Testing.chart();
  new InferenceAlerts(chart, 'Alerts', props);
  const objects = Testing.synth(chart) as SynthPrometheusRule[];
  expect(objects).toHaveLength(1);
  return objects[0];
}

describe('InferenceAlerts', () => {
  it('emits a monitoring.coreos.com/v1 PrometheusRule named after the service in its namespace', () => {
    const rule = synth();
    expect(rule.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(rule.kind).toBe('PrometheusRule');
    expect(rule.metadata).toEqual({
      name: 'cats-dogs-classifier',
      namespace: 'cats-dogs-classifier',
      labels: { 'app.kubernetes.io/name': 'cats-dogs-classifier', release: 'prometheus' },
    });
  });

  it('validates against the Prometheus Operator PrometheusRule CRD schema', () => {
    expect(validateSchemas([synth()]).map((r) => r.error)).toEqual([null]);
  });

  it('carries exactly the groups of the standalone rules file', () => {
    expect(synth().spec).toEqual(rulesFile(inferenceRules()));
  });

  it('gives every alert a for window, a severity label and a runbook', () => {
    const alerts = synth()
      .spec.groups.flatMap((g) => g.rules)
      .filter((r) => r.alert !== undefined);
    expect(alerts).toHaveLength(8);
    for (const a of alerts) {
      expect(a.for).toMatch(/^[0-9]+[smhd]$/);
      expect(a.labels?.severity).toMatch(/^(critical|warning)$/);
      expect(a.annotations?.runbook_url).toContain('monitoring/README.md#');
    }
  });

  it('passes threshold props through to the alert expressions', () => {
    const rule = synth({ latencyP99SloSeconds: 0.2, namespace: 'ml', deploymentName: 'clf' });
    const rules = rule.spec.groups.flatMap((g) => g.rules);
    expect(rules.find((r) => r.alert === 'InferenceLatencyP99OverSlo')?.expr).toBe(
      'job:http_request_duration_seconds:p99_rate5m > 0.2',
    );
    expect(rules.find((r) => r.alert === 'InferenceNoReadyPods')?.expr).toBe(
      'kube_deployment_status_replicas_available{namespace="ml", deployment="clf"} == 0',
    );
    expect(rule.metadata.namespace).toBe('ml');
  });

  it('uses the given name and rule selector labels', () => {
    const rule = synth({ name: 'classifier-rules', ruleSelectorLabels: { prometheus: 'k8s' } });
    expect(rule.metadata.name).toBe('classifier-rules');
    expect(rule.metadata.labels).toEqual({
      'app.kubernetes.io/name': 'cats-dogs-classifier',
      prometheus: 'k8s',
    });
  });

  it('fails when the name is not a Kubernetes object name', () => {
    expect(() => new InferenceAlerts(Testing.chart(), 'Alerts', { name: 'Rules_1' })).toThrow(
      `'name' ("Rules_1") must be a Kubernetes object name: lower-case letters, digits, - and .`,
    );
  });

  it('fails when a threshold is invalid, with the prop named', () => {
    expect(() => new InferenceAlerts(Testing.chart(), 'Alerts', { errorRatioThreshold: 1 })).toThrow(
      "'errorRatioThreshold' (1) must be a fraction 0 < x < 1",
    );
  });
});
