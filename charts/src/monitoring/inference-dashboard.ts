import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { dashboard, GrafanaDashboard, table, timeseries } from './grafana-dashboard';
import {
  InferenceRules,
  inferenceRules,
  InferenceRulesProps,
  LATENCY_QUANTILES,
  POD_TEMPLATE_HASH_SERIES_LABEL,
} from './inference-rules';

/**
 * The classifier's Grafana dashboard. Panels query the recording rules of `rules` (one source of truth),
 * filtered to the service's job, so a renamed record cannot leave a panel empty unnoticed.
 */
export function inferenceDashboard(rules: InferenceRules): GrafanaDashboard {
  const n = rules.names;
  const p = rules.props;
  const sel = `{job="${p.jobName}"}`;
  const q = n.quality[p.qualityWindow];
  const hash = POD_TEMPLATE_HASH_SERIES_LABEL;
  const rollout = `namespace="${p.namespace}", name="${p.deploymentName}"`;
  return dashboard({
    uid: p.jobName,
    title: `${p.jobName} inference`,
    description:
      'Traffic, latency, errors, predictions and model quality of the image classifier (generated).',
    tags: ['inference', 'generated'],
    rows: [
      {
        title: 'Traffic and latency',
        panels: [
          timeseries({
            title: 'Requests per second by status',
            description: 'All routes except probes and /metrics.',
            unit: 'reqps',
            queries: [{ expr: `sum by (status) (${n.requestRateByStatus}${sel})`, legend: '{{status}}' }],
          }),
          timeseries({
            title: `Latency quantiles of ${p.predictRoute}`,
            description: `From http_request_duration_seconds over ${p.rateWindow}; the SLO is ${p.latencyP99SloSeconds} s at p99.`,
            unit: 's',
            queries: LATENCY_QUANTILES.map((quantile) => ({
              expr: `max(${n.requestLatency[quantile]}${sel})`,
              legend: `p${Math.round(quantile * 100)}`,
            })),
          }),
          timeseries({
            title: 'Error ratio (5xx)',
            description: 'Share of requests answered with a server error.',
            unit: 'percentunit',
            min: 0,
            queries: [{ expr: `max(${n.errorRatio}${sel})`, legend: 'error ratio' }],
          }),
          timeseries({
            title: 'Inference errors by reason',
            description: 'inference_errors_total per reason (bad input, timeouts, overload, model failures).',
            unit: 'reqps',
            queries: [{ expr: `sum by (reason) (${n.errorsByReason}${sel})`, legend: '{{reason}}' }],
          }),
          timeseries({
            title: 'In-flight requests and queue depth',
            description: 'Requests being served and images waiting for a model worker.',
            unit: 'short',
            queries: [
              { expr: `sum(${n.inFlight}${sel})`, legend: 'in flight' },
              { expr: `sum(${n.queueDepth}${sel})`, legend: 'queued' },
            ],
          }),
          timeseries({
            title: 'Inference and preprocessing p99',
            description: 'Time in the model and in image decoding/resizing, 99th percentile.',
            unit: 's',
            queries: [
              { expr: `max(${n.inferenceLatencyP99}${sel})`, legend: 'inference p99' },
              { expr: `max(${n.preprocessLatencyP99}${sel})`, legend: 'preprocess p99' },
            ],
          }),
        ],
      },
      {
        title: 'Predictions',
        panels: [
          timeseries({
            title: 'Predictions per second by class',
            description: 'inference_predictions_total per predicted label and model version.',
            unit: 'reqps',
            queries: [
              {
                expr: `sum by (label, model_version) (${n.predictionsByClass}${sel})`,
                legend: '{{label}} (v{{model_version}})',
              },
            ],
          }),
          timeseries({
            title: `Share of predictions by class (${p.driftWindow}), today and yesterday`,
            description: 'The drift alert compares these two lines.',
            unit: 'percentunit',
            min: 0,
            max: 1,
            queries: [
              { expr: `max by (label) (${n.driftClassShare}${sel})`, legend: '{{label}}' },
              {
                expr: `max by (label) (${n.driftClassShare}${sel} offset 1d)`,
                legend: '{{label}} yesterday',
              },
            ],
          }),
          timeseries({
            title: 'Mean batch size',
            description: 'Images per model run (inference_batch_size).',
            unit: 'short',
            queries: [{ expr: `max(${n.batchSizeMean}${sel})`, legend: 'mean batch size' }],
          }),
        ],
      },
      {
        title: 'Pods',
        panels: [
          timeseries({
            title: 'CPU per pod',
            description: 'Cores used by each service process.',
            unit: 'short',
            queries: [
              { expr: `sum by (pod, instance) (${n.cpuPerPod}${sel})`, legend: '{{pod}} {{instance}}' },
            ],
          }),
          timeseries({
            title: 'Memory per pod',
            description: 'Resident set size of each service process.',
            unit: 'bytes',
            queries: [
              { expr: `sum by (pod, instance) (${n.memoryPerPod}${sel})`, legend: '{{pod}} {{instance}}' },
            ],
          }),
          timeseries({
            title: 'Pods per model version',
            description: 'More than one line for longer than a rollout means the rollout is stuck.',
            unit: 'short',
            queries: [{ expr: `sum by (version) (${n.podsPerModelVersion}${sel})`, legend: 'v{{version}}' }],
          }),
          table({
            title: 'Model version per pod',
            description: 'model_info of every scraped pod.',
            unit: 'none',
            queries: [
              { expr: `max by (pod, instance, name, version, sha256) (model_info${sel})`, legend: '' },
            ],
          }),
        ],
      },
      {
        title: 'Canary (Argo Rollouts; empty with rolling delivery)',
        panels: [
          timeseries({
            title: 'Share of traffic by pod template hash',
            description:
              'The weight the canary really gets: its share of requests (probes excluded), per ReplicaSet. ' +
              'Without a traffic router it follows the share of pods.',
            unit: 'percentunit',
            min: 0,
            max: 1,
            queries: [
              {
                expr: `sum by (${hash}) (${n.requestRateByPodTemplateHash}${sel}) / scalar(sum(${n.requestRate}${sel}))`,
                legend: '{{' + hash + '}}',
              },
            ],
          }),
          timeseries({
            title: 'Predictions by class per pod template hash',
            description: 'The class mix the canary analysis compares, canary against stable.',
            unit: 'reqps',
            queries: [
              {
                expr: `sum by (${hash}, label) (${n.predictionsByPodTemplateHash}${sel})`,
                legend: '{{label}} ({{' + hash + '}})',
              },
            ],
          }),
          timeseries({
            title: 'Rollout phase and available replicas',
            description:
              'From the Argo Rollouts controller metrics (rollout_info, rollout_info_replicas_available).',
            unit: 'short',
            queries: [
              { expr: `max by (phase) (rollout_info{${rollout}})`, legend: 'phase {{phase}}' },
              { expr: `max(rollout_info_replicas_available{${rollout}})`, legend: 'available replicas' },
            ],
          }),
          table({
            title: 'Analysis results',
            description:
              'Phase of every metric of the canary analysis runs (error-ratio, latency-p99, ' +
              'prediction-mix-distance, smoke): Successful, Failed, Inconclusive, Error, Running.',
            unit: 'none',
            queries: [
              {
                expr: `max by (name, metric, phase) (analysis_run_metric_phase{namespace="${p.namespace}", name=~"${p.deploymentName}-.*"} == 1)`,
                legend: '',
              },
            ],
          }),
        ],
      },
      {
        title: `Model quality from feedback (${p.qualityWindow})`,
        panels: [
          timeseries({
            title: 'Accuracy and macro F1',
            description: `From POST /feedback confusion counts over ${p.qualityWindow}, per model version.`,
            unit: 'percentunit',
            min: 0,
            max: 1,
            queries: [
              { expr: `max by (model_version) (${q.accuracy}${sel})`, legend: 'accuracy v{{model_version}}' },
              { expr: `max by (model_version) (${q.macroF1}${sel})`, legend: 'macro F1 v{{model_version}}' },
            ],
          }),
          timeseries({
            title: 'Feedback received',
            description: `Answers received over ${p.qualityWindow}; quality is judged from ${p.qualityMinFeedback}.`,
            unit: 'short',
            queries: [{ expr: `max by (model_version) (${q.feedback}${sel})`, legend: 'v{{model_version}}' }],
          }),
          timeseries({
            title: 'Precision by class',
            description: 'Of the images predicted as the class, the share that were.',
            unit: 'percentunit',
            min: 0,
            max: 1,
            queries: [
              {
                expr: `max by (class, model_version) (${q.precision}${sel})`,
                legend: '{{class}} v{{model_version}}',
              },
            ],
          }),
          timeseries({
            title: 'Recall by class',
            description: 'Of the images of the class, the share predicted as it.',
            unit: 'percentunit',
            min: 0,
            max: 1,
            queries: [
              {
                expr: `max by (class, model_version) (${q.recall}${sel})`,
                legend: '{{class}} v{{model_version}}',
              },
            ],
          }),
          timeseries({
            title: 'F1 by class',
            description: 'Harmonic mean of precision and recall.',
            unit: 'percentunit',
            min: 0,
            max: 1,
            wide: true,
            queries: [
              {
                expr: `max by (class, model_version) (${q.f1}${sel})`,
                legend: '{{class}} v{{model_version}}',
              },
            ],
          }),
        ],
      },
    ],
  });
}

/** The dashboard JSON as stored in the ConfigMap and in `monitoring/grafana/dashboards/`. */
export function renderInferenceDashboard(rules: InferenceRules): string {
  return `${JSON.stringify(inferenceDashboard(rules), null, 2)}\n`;
}

/** Props of `InferenceDashboard`. */
export interface InferenceDashboardProps {
  /**
   * The rule settings whose records the panels query; use the same as the `InferenceAlerts`.
   * @default - the defaults of `InferenceRulesProps`
   */
  readonly rules?: InferenceRulesProps;
  /**
   * Name of the ConfigMap.
   * @default '<jobName>-dashboard'
   */
  readonly name?: string;
  /**
   * Namespace of the ConfigMap (the Grafana sidecar must watch it).
   * @default - the `namespace` of `rules` ('cats-dogs-classifier')
   */
  readonly namespace?: string;
  /**
   * Label the Grafana dashboard sidecar selects ConfigMaps by (kube-prometheus-stack: `grafana_dashboard`).
   * @default 'grafana_dashboard'
   */
  readonly sidecarLabel?: string;
}

/**
 * A ConfigMap, labelled for the Grafana dashboard sidecar, holding the classifier's generated dashboard.
 */
export class InferenceDashboard extends Construct {
  /** The ConfigMap. */
  public readonly resource: kplus.ConfigMap;
  /** The dashboard it holds. */
  public readonly dashboard: GrafanaDashboard;
  /** Name of the ConfigMap. */
  public readonly name: string;
  /** Namespace of the ConfigMap. */
  public readonly namespace: string;
  /** The label (value "1") the Grafana sidecar selects the ConfigMap by. */
  public readonly sidecarLabel: string;

  public constructor(scope: Construct, id: string, props: InferenceDashboardProps = {}) {
    super(scope, id);
    const rules = inferenceRules(props.rules);
    this.name = props.name ?? `${rules.props.jobName}-dashboard`;
    this.namespace = props.namespace ?? rules.props.namespace;
    this.sidecarLabel = props.sidecarLabel ?? 'grafana_dashboard';
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(this.name) || this.name.length > 253) {
      throw new Error(
        `'name' (${JSON.stringify(this.name)}) must be a Kubernetes object name: lower-case letters, digits and -.`,
      );
    }
    this.dashboard = inferenceDashboard(rules);
    this.resource = new kplus.ConfigMap(this, 'Resource', {
      metadata: {
        name: this.name,
        namespace: this.namespace,
        labels: { [this.sidecarLabel]: '1', 'app.kubernetes.io/name': rules.props.jobName },
      },
      data: { [`${rules.props.jobName}.json`]: renderInferenceDashboard(rules) },
    });
  }
}
