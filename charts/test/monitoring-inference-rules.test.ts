import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ALERT_NAMES,
  AlertingRule,
  durationSeconds,
  inferenceRules,
  InferenceRulesProps,
  RecordingRule,
} from '../src/monitoring/inference-rules';

const alertsOf = (props: InferenceRulesProps = {}): AlertingRule[] =>
  inferenceRules(props).groups.flatMap((g) => g.rules.filter((r): r is AlertingRule => 'alert' in r));
const recordsOf = (props: InferenceRulesProps = {}): RecordingRule[] =>
  inferenceRules(props).groups.flatMap((g) => g.rules.filter((r): r is RecordingRule => 'record' in r));
const alert = (name: string, props: InferenceRulesProps = {}): AlertingRule => {
  const found = alertsOf(props).find((a) => a.alert === name);
  if (!found) throw new Error(`no alert ${name}`);
  return found;
};

describe('inferenceRules', () => {
  it('defines every alert once, with a for window, a severity and summary/description/runbook annotations', () => {
    const alerts = alertsOf();
    expect(alerts.map((a) => a.alert)).toEqual([...ALERT_NAMES]);
    for (const a of alerts) {
      expect(durationSeconds(a.for)).toBeGreaterThan(0);
      expect(['critical', 'warning']).toContain(a.labels.severity);
      expect(a.annotations.summary.length).toBeGreaterThan(10);
      expect(a.annotations.description.length).toBeGreaterThan(20);
      expect(a.annotations.runbook_url).toBe(
        `https://github.com/example/model-gitops/blob/main/monitoring/README.md#${a.alert.toLowerCase()}`,
      );
    }
  });

  it('links every alert to a runbook section that exists in monitoring/README.md', () => {
    const readme = readFileSync(join(__dirname, '..', '..', 'monitoring', 'README.md'), 'utf8');
    // GitHub's anchor of a heading: lower case, spaces to '-', punctuation other than '-' and '_' dropped.
    const anchors = [...readme.matchAll(/^#+ (.+)$/gm)].map((m) =>
      m[1]!
        .trim()
        .toLowerCase()
        .replace(/\s+/g, '-')
        .replace(/[^\w-]/g, ''),
    );
    for (const a of alertsOf()) {
      const anchor = a.annotations.runbook_url.split('#')[1];
      expect({ alert: a.alert, documented: anchors.includes(anchor!) }).toEqual({
        alert: a.alert,
        documented: true,
      });
    }
  });

  it('records request rate, error ratio, p50/p90/p95/p99 latency, class mix and quality per feedback window', () => {
    const names = recordsOf().map((r) => r.record);
    expect(names).toEqual(
      expect.arrayContaining([
        'job:http_requests:rate5m',
        'job:http_request_errors:ratio_rate5m',
        'job:http_request_duration_seconds:p50_rate5m',
        'job:http_request_duration_seconds:p90_rate5m',
        'job:http_request_duration_seconds:p95_rate5m',
        'job:http_request_duration_seconds:p99_rate5m',
        'job_label:inference_predictions:rate5m',
        'job_version:inference_accuracy:ratio1h',
        'job_version_class:inference_precision:ratio1h',
        'job_version_class:inference_recall:ratio1h',
        'job_version_class:inference_f1:ratio1h',
        'job_version:inference_accuracy:ratio1d',
      ]),
    );
    expect(new Set(names).size).toBe(names.length);
  });

  it('builds latency quantiles from the http_request_duration_seconds histogram of the predict route', () => {
    const p99 = recordsOf().find((r) => r.record === 'job:http_request_duration_seconds:p99_rate5m');
    expect(p99?.expr).toBe(
      'histogram_quantile(0.99, sum by (namespace, job, le) (rate(http_request_duration_seconds_bucket' +
        '{job="cats-dogs-classifier", route="/predict"}[5m])))',
    );
  });

  it('uses a record only after the rule that defines it (rules in a group run in order)', () => {
    const all = new Set(recordsOf().map((r) => r.record));
    const defined = new Set<string>();
    const usedBeforeDefined: string[] = [];
    for (const group of inferenceRules().groups) {
      for (const rule of group.rules) {
        for (const used of rule.expr.match(/[a-z_]+:[a-z0-9_]+:[a-z0-9_]+/g) ?? []) {
          if (all.has(used) && !defined.has(used)) usedBeforeDefined.push(`${group.name}: ${used}`);
        }
        if ('record' in rule) defined.add(rule.record);
      }
    }
    expect(usedBeforeDefined).toEqual([]);
  });

  it('puts thresholds and windows from props into the alerts', () => {
    const props: InferenceRulesProps = {
      errorRatioThreshold: 0.02,
      errorRatioFor: '10m',
      latencyP99SloSeconds: 0.25,
      accuracyThreshold: 0.9,
      qualityMinFeedback: 50,
      qualityWindow: '1d',
      rolloutMaxDuration: '30m',
      driftThreshold: 0.3,
      driftMinPredictions: 500,
      driftWindow: '2h',
    };
    expect(alert('InferenceHighErrorRatio', props)).toMatchObject({
      expr: 'job:http_request_errors:ratio_rate5m > 0.02',
      for: '10m',
    });
    expect(alert('InferenceLatencyP99OverSlo', props).expr).toBe(
      'job:http_request_duration_seconds:p99_rate5m > 0.25',
    );
    expect(alert('InferenceModelQualityLow', props).expr).toBe(
      'job_version:inference_accuracy:ratio1d < 0.9\n' +
        'and on (namespace, job, model_version) job_version:inference_feedback:count1d >= 50',
    );
    expect(alert('InferenceModelVersionSkew', props).for).toBe('30m');
    const drift = alert('InferencePredictionMixDrift', props).expr;
    expect(drift).toContain(
      'abs(job_label:inference_predictions:ratio_rate2h - job_label:inference_predictions:ratio_rate2h offset 1d) > 0.3',
    );
    expect(drift).toContain('job:inference_predictions:rate2h * 7200 >= 500');
  });

  it('selects the service by its job label and the kube-state-metrics series by namespace and object name', () => {
    const props = {
      jobName: 'shop-classifier',
      namespace: 'shop',
      deploymentName: 'api',
      podDisruptionBudgetName: 'api-pdb',
    };
    for (const r of recordsOf(props)) {
      if (!r.expr.includes('_total{') && !r.expr.includes('_bucket{')) continue;
      expect(r.expr).toContain('job="shop-classifier"');
      expect(r.expr).not.toContain('cats-dogs-classifier');
    }
    expect(alert('InferenceNoReadyPods', props).expr).toBe(
      'kube_deployment_status_replicas_available{namespace="shop", deployment="api"} == 0',
    );
    expect(alert('InferenceFewerReadyPodsThanBudget', props).expr).toContain(
      'kube_poddisruptionbudget_status_desired_healthy{namespace="shop", poddisruptionbudget="api-pdb"}',
    );
  });

  it('watches a Rollout’s available replicas through the Argo Rollouts controller with canary delivery', () => {
    const props = { namespace: 'shop', deploymentName: 'api', workloadKind: 'Rollout' as const };
    const noPods = alert('InferenceNoReadyPods', props);
    expect(noPods.expr).toBe('rollout_info_replicas_available{namespace="shop", name="api"} == 0');
    expect(noPods.annotations.summary).toBe('Rollout shop/api has no available pod');
  });

  it('leaves probes and /metrics out of the request rate and error ratio', () => {
    const ratio = recordsOf().find((r) => r.record === 'job:http_request_errors:ratio_rate5m');
    expect(ratio?.expr).toContain('route!~"/health|/ready|/metrics"');
    expect(ratio?.expr).toContain('status=~"5.."');
  });

  it('is deterministic', () => {
    expect(JSON.stringify(inferenceRules())).toBe(JSON.stringify(inferenceRules()));
  });

  it('fails when a threshold ratio is not a fraction', () => {
    expect(() => inferenceRules({ errorRatioThreshold: 5 })).toThrow(
      "'errorRatioThreshold' (5) must be a fraction 0 < x < 1: e.g. 0.05 for 5 %.",
    );
    expect(() => inferenceRules({ accuracyThreshold: 0 })).toThrow(
      "'accuracyThreshold' (0) must be a fraction 0 < x ≤ 1",
    );
  });

  it('fails when a window is not a Prometheus duration', () => {
    expect(() => inferenceRules({ rateWindow: '5 minutes' })).toThrow(
      '\'rateWindow\' ("5 minutes") must be a positive Prometheus duration such as 30s, 5m, 1h or 1d.',
    );
    expect(() => inferenceRules({ feedbackWindows: ['1h', '0m'] })).toThrow('\'feedbackWindows[1]\' ("0m")');
  });

  it('fails when the quality window is not one of the feedback windows', () => {
    expect(() => inferenceRules({ feedbackWindows: ['6h'], qualityWindow: '1h' })).toThrow(
      "'qualityWindow' (1h) must be one of 'feedbackWindows' (6h): add it to feedbackWindows or pick one of them.",
    );
  });

  it('fails when feedback windows are empty or repeated', () => {
    expect(() => inferenceRules({ feedbackWindows: [] })).toThrow(
      "'feedbackWindows' ([]) must list at least one window",
    );
    expect(() => inferenceRules({ feedbackWindows: ['1h', '1h'] })).toThrow('must not repeat a window');
  });

  it('fails when the latency SLO or minimum counts are not positive', () => {
    expect(() => inferenceRules({ latencyP99SloSeconds: -1 })).toThrow(
      "'latencyP99SloSeconds' (-1) must be a positive number.",
    );
    expect(() => inferenceRules({ qualityMinFeedback: 2.5 })).toThrow(
      "'qualityMinFeedback' (2.5) must be a positive whole number.",
    );
  });

  it('fails when a name would break the PromQL selector', () => {
    expect(() => inferenceRules({ jobName: 'a"b' })).toThrow(
      `'jobName' ("a\\"b") must be a non-empty label value`,
    );
  });

  it('fails when the runbook base is not a URL', () => {
    expect(() => inferenceRules({ runbookBaseUrl: 'README.md' })).toThrow(
      '\'runbookBaseUrl\' ("README.md") must be an http(s) URL',
    );
  });
});

describe('durationSeconds', () => {
  it('adds up compound durations', () => {
    expect(durationSeconds('1h30m')).toBe(5400);
    expect(durationSeconds('1d')).toBe(86400);
    expect(durationSeconds('500ms')).toBe(0.5);
  });
});
