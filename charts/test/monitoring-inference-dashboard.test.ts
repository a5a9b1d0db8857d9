import { Testing } from 'cdk8s';
import { GrafanaPanel } from '../src/monitoring/grafana-dashboard';
import {
  inferenceDashboard,
  InferenceDashboard,
  renderInferenceDashboard,
} from '../src/monitoring/inference-dashboard';
import { inferenceRules, RecordingRule } from '../src/monitoring/inference-rules';
import { validateSchemas } from './support/dist';

interface SynthConfigMap {
  kind: string;
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  data: Record<string, string>;
}

function synth(props: ConstructorParameters<typeof InferenceDashboard>[2] = {}): SynthConfigMap {
  const chart = Testing.chart();
  new InferenceDashboard(chart, 'Dashboard', props);
  const objects = Testing.synth(chart) as SynthConfigMap[];
  expect(objects).toHaveLength(1);
  return objects[0];
}

const panelsOf = (d: { panels: readonly GrafanaPanel[] }): GrafanaPanel[] =>
  d.panels.filter((p) => p.type !== 'row');

describe('InferenceDashboard', () => {
  it('is a ConfigMap labelled for the Grafana sidecar, holding the dashboard JSON', () => {
    const cm = synth();
    expect(cm.kind).toBe('ConfigMap');
    expect(cm.metadata.name).toBe('cats-dogs-classifier-dashboard');
    expect(cm.metadata.namespace).toBe('cats-dogs-classifier');
    expect(cm.metadata.labels.grafana_dashboard).toBe('1');
    expect(Object.keys(cm.data)).toEqual(['cats-dogs-classifier.json']);
    const dashboard = JSON.parse(cm.data['cats-dogs-classifier.json']) as { uid: string; title: string };
    expect(dashboard.uid).toBe('cats-dogs-classifier');
  });

  it('validates against the Kubernetes 1.28 ConfigMap schema', () => {
    expect(validateSchemas([synth()]).map((r) => r.error)).toEqual([null]);
  });

  it('goes into the namespace of the rules unless told otherwise', () => {
    expect(synth({ rules: { namespace: 'ml' } }).metadata.namespace).toBe('ml');
  });

  it('uses a different sidecar label, name and namespace when given', () => {
    const cm = synth({ sidecarLabel: 'grafana_dashboard_ml', name: 'clf-dash', namespace: 'monitoring' });
    expect(cm.metadata).toMatchObject({
      name: 'clf-dash',
      namespace: 'monitoring',
      labels: { grafana_dashboard_ml: '1' },
    });
  });

  it('has the panels the issue lists', () => {
    const titles = panelsOf(inferenceDashboard(inferenceRules())).map((p) => p.title);
    expect(titles).toEqual([
      'Requests per second by status',
      'Latency quantiles of /predict',
      'Error ratio (5xx)',
      'Inference errors by reason',
      'In-flight requests and queue depth',
      'Inference and preprocessing p99',
      'Predictions per second by class',
      'Share of predictions by class (1h), today and yesterday',
      'Mean batch size',
      'CPU per pod',
      'Memory per pod',
      'Pods per model version',
      'Model version per pod',
      'Share of traffic by pod template hash',
      'Predictions by class per pod template hash',
      'Rollout phase and available replicas',
      'Analysis results',
      'Accuracy and macro F1',
      'Feedback received',
      'Precision by class',
      'Recall by class',
      'F1 by class',
    ]);
  });

  /** Series of the Argo Rollouts controller (its /metrics), shown in the canary row. */
  const ROLLOUTS_CONTROLLER_METRICS = [
    'rollout_info',
    'rollout_info_replicas_available',
    'analysis_run_metric_phase',
  ];

  it('queries recording rules (the model-version table reads model_info, the canary row the Argo Rollouts controller) for the service', () => {
    const rules = inferenceRules();
    const records = new Set(
      rules.groups
        .flatMap((g) => g.rules)
        .filter((r): r is RecordingRule => 'record' in r)
        .map((r) => r.record),
    );
    for (const panel of panelsOf(inferenceDashboard(rules))) {
      for (const target of panel.targets ?? []) {
        const metrics = target.expr.match(/[a-z_:][a-z0-9_:]*(?=\{)/g) ?? [];
        expect(metrics.length).toBeGreaterThan(0);
        for (const metric of metrics) {
          expect({
            panel: panel.title,
            metric,
            known:
              records.has(metric) || metric === 'model_info' || ROLLOUTS_CONTROLLER_METRICS.includes(metric),
          }).toEqual({
            panel: panel.title,
            metric,
            known: true,
          });
        }
        // The Argo Rollouts controller's own series carry its job; they are selected by namespace and Rollout name.
        if (metrics.every((m) => ROLLOUTS_CONTROLLER_METRICS.includes(m))) {
          expect(target.expr).toContain('namespace="cats-dogs-classifier"');
        } else {
          expect(target.expr).toContain('{job="cats-dogs-classifier"}');
        }
      }
    }
  });

  it('shows p50, p90, p95 and p99 in the latency panel', () => {
    const latency = panelsOf(inferenceDashboard(inferenceRules())).find((p) => p.title.startsWith('Latency'));
    expect(latency?.targets?.map((t) => t.legendFormat)).toEqual(['p50', 'p90', 'p95', 'p99']);
    expect(latency?.targets?.[3].expr).toBe(
      'max(job:http_request_duration_seconds:p99_rate5m{job="cats-dogs-classifier"})',
    );
  });

  it('lays panels out without overlap and numbers them uniquely', () => {
    const all = inferenceDashboard(inferenceRules()).panels;
    expect(new Set(all.map((p) => p.id)).size).toBe(all.length);
    const cells = new Set<string>();
    for (const p of all) {
      const { x, y, w, h } = p.gridPos;
      expect(x + w).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++) {
        for (let j = y; j < y + h; j++) {
          const cell = `${i},${j}`;
          expect(cells.has(cell)).toBe(false);
          cells.add(cell);
        }
      }
    }
  });

  it('follows the rule props (quality window, job, namespace and workload names)', () => {
    const rules = inferenceRules({
      jobName: 'shop',
      namespace: 'shop',
      deploymentName: 'shop',
      feedbackWindows: ['1h', '6h'],
      qualityWindow: '6h',
    });
    const json = renderInferenceDashboard(rules);
    expect(json).toContain('job_version:inference_accuracy:ratio6h{job=\\"shop\\"}');
    expect(json).not.toContain('cats-dogs-classifier');
  });

  it('renders byte-identical JSON every time', () => {
    expect(renderInferenceDashboard(inferenceRules())).toBe(renderInferenceDashboard(inferenceRules()));
  });

  it('fails when the name is not a Kubernetes object name', () => {
    expect(() => new InferenceDashboard(Testing.chart(), 'Dashboard', { name: 'My Dashboard' })).toThrow(
      `'name' ("My Dashboard") must be a Kubernetes object name`,
    );
  });
});
