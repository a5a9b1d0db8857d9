/**
 * The one source of truth for the classifier's Prometheus rules: recording rules (request rate, error ratio,
 * latency quantiles, predictions per class, model quality from feedback) and the alerts built on them.
 * The `InferenceAlerts` construct puts these groups into a PrometheusRule, the standalone generator writes
 * them to `monitoring/rules.yml`, and the dashboard queries the record names exported here.
 */
import { APP_NAME } from '../config/names';

/** How urgent an alert is: `critical` pages someone, `warning` goes to a ticket queue. */
export type AlertSeverity = 'critical' | 'warning';

/** A Prometheus recording rule. */
export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
}

/** A Prometheus alerting rule; `for` is a Prometheus duration such as `5m`. */
export interface AlertingRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: { readonly severity: AlertSeverity };
  readonly annotations: {
    readonly summary: string;
    readonly description: string;
    readonly runbook_url: string;
  };
}

/** A named group of rules, evaluated in order (later rules may use records of earlier ones). */
export interface RuleGroup {
  readonly name: string;
  readonly rules: ReadonlyArray<RecordingRule | AlertingRule>;
}

/** Thresholds, windows and names the rules are built from. Every field has a default. */
export interface InferenceRulesProps {
  /**
   * The `job` label of the service's scraped series (the Service name under a ServiceMonitor, the
   * `job_name` of the standalone scrape config).
   * @default 'cats-dogs-classifier'
   */
  readonly jobName?: string;
  /**
   * Namespace of the Deployment and PodDisruptionBudget, for the kube-state-metrics series.
   * @default 'cats-dogs-classifier'
   */
  readonly namespace?: string;
  /**
   * Name of the Deployment (or Rollout), for `kube_deployment_status_replicas_available`.
   * @default 'cats-dogs-classifier'
   */
  readonly deploymentName?: string;
  /**
   * What runs the pods: a Deployment (kube-state-metrics reports its available replicas) or, with canary delivery,
   * an Argo Rollouts Rollout (its controller reports them as `rollout_info_replicas_available`).
   * @default 'Deployment'
   */
  readonly workloadKind?: 'Deployment' | 'Rollout';
  /**
   * Name of the PodDisruptionBudget, for `kube_poddisruptionbudget_status_*`.
   * @default 'cats-dogs-classifier'
   */
  readonly podDisruptionBudgetName?: string;
  /**
   * Name of the HorizontalPodAutoscaler, for `kube_horizontalpodautoscaler_*`.
   * @default 'cats-dogs-classifier'
   */
  readonly horizontalPodAutoscalerName?: string;
  /**
   * How long the HPA may sit at its maxReplicas before `InferenceAutoscalerAtMaxReplicas` fires.
   * @default '15m'
   */
  readonly atMaxReplicasFor?: string;
  /**
   * The HTTP route whose latency the SLO covers (the `route` label of the HTTP metrics).
   * @default '/predict'
   */
  readonly predictRoute?: string;
  /**
   * Window of the request-rate, error-ratio and latency recording rules.
   * @default '5m'
   */
  readonly rateWindow?: string;
  /**
   * Share of requests answered with a 5xx above which `InferenceHighErrorRatio` fires (0 < x < 1).
   * @default 0.05
   */
  readonly errorRatioThreshold?: number;
  /**
   * How long the error ratio must stay above the threshold.
   * @default '5m'
   */
  readonly errorRatioFor?: string;
  /**
   * The latency SLO: p99 of `/predict` in seconds above which `InferenceLatencyP99OverSlo` fires.
   * @default 0.5
   */
  readonly latencyP99SloSeconds?: number;
  /**
   * How long p99 must stay above the SLO.
   * @default '10m'
   */
  readonly latencyFor?: string;
  /**
   * How long the Deployment may have no available pod before `InferenceNoReadyPods` fires.
   * @default '2m'
   */
  readonly noReadyPodsFor?: string;
  /**
   * How long fewer pods than the PodDisruptionBudget wants may be healthy.
   * @default '5m'
   */
  readonly belowDisruptionBudgetFor?: string;
  /**
   * The longest a rollout may take: pods serving several model versions for longer fire `InferenceModelVersionSkew`.
   * @default '15m'
   */
  readonly rolloutMaxDuration?: string;
  /**
   * Window over which the predicted-class mix is measured and compared with the same window a day earlier.
   * @default '1h'
   */
  readonly driftWindow?: string;
  /**
   * Change of a class's share of predictions (absolute, 0 < x < 1) versus a day earlier that counts as drift.
   * @default 0.2
   */
  readonly driftThreshold?: number;
  /**
   * Predictions needed in the drift window, now and a day earlier, before drift is judged.
   * @default 100
   */
  readonly driftMinPredictions?: number;
  /**
   * How long the drift must last.
   * @default '30m'
   */
  readonly driftFor?: string;
  /**
   * Windows over which accuracy, precision, recall and F1 are recorded from `inference_feedback_total`.
   * @default ['1h', '1d']
   */
  readonly feedbackWindows?: readonly string[];
  /**
   * The feedback window `InferenceModelQualityLow` judges; must be one of `feedbackWindows`.
   * @default '1h'
   */
  readonly qualityWindow?: string;
  /**
   * Accuracy (0 < x ≤ 1) below which `InferenceModelQualityLow` fires.
   * @default 0.8
   */
  readonly accuracyThreshold?: number;
  /**
   * Feedback needed in the quality window before quality is judged (no feedback, no alert).
   * @default 20
   */
  readonly qualityMinFeedback?: number;
  /**
   * How long accuracy must stay below the threshold.
   * @default '15m'
   */
  readonly qualityFor?: string;
  /**
   * Where the runbook lives; each alert links to `<runbookBaseUrl>#<alert name in lower case>`.
   * @default 'https://github.com/example/model-gitops/blob/main/monitoring/README.md'
   */
  readonly runbookBaseUrl?: string;
}

/**
 * The label Argo Rollouts' `rollouts-pod-template-hash` pod label becomes on scraped series (the ServiceMonitor of a
 * canary service copies it with podTargetLabels); it tells the canary's series from the stable ones.
 */
export const POD_TEMPLATE_HASH_SERIES_LABEL = 'rollouts_pod_template_hash';

/** The route filter of every traffic rule: probes and scrapes are not traffic. */
export const NON_PROBE_ROUTES = `route!~"/health|/ready|/metrics"`;

/** The quantiles recorded for every latency histogram. */
export const LATENCY_QUANTILES = [0.5, 0.9, 0.95, 0.99] as const;
export type LatencyQuantile = (typeof LATENCY_QUANTILES)[number];

/** The names of the alerts, in the order they are defined. */
export const ALERT_NAMES = [
  'InferenceHighErrorRatio',
  'InferenceLatencyP99OverSlo',
  'InferenceNoReadyPods',
  'InferenceFewerReadyPodsThanBudget',
  'InferenceModelVersionSkew',
  'InferencePredictionMixDrift',
  'InferenceModelQualityLow',
  'InferenceAutoscalerAtMaxReplicas',
] as const;
export type AlertName = (typeof ALERT_NAMES)[number];

const DURATION = /^([0-9]+(ms|s|m|h|d|w|y))+$/;
const DURATION_PART = /([0-9]+)(ms|s|m|h|d|w|y)/g;
const UNIT_SECONDS: Record<string, number> = {
  ms: 0.001,
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
  w: 604800,
  y: 31536000,
};
const LABEL_VALUE_SAFE = /^[A-Za-z0-9._/-]+$/;

/** Seconds in a Prometheus duration such as `1h30m`. */
export function durationSeconds(duration: string): number {
  let seconds = 0;
  for (const [, n, unit] of duration.matchAll(DURATION_PART)) seconds += Number(n) * UNIT_SECONDS[unit];
  return seconds;
}

/** The resolved settings: every prop with its default filled in. */
export type ResolvedInferenceRulesProps = Required<InferenceRulesProps>;

/**
 * Fills defaults and validates the props; throws an Error naming the prop, the value, the rule and the fix.
 */
export function resolveInferenceRulesProps(props: InferenceRulesProps = {}): ResolvedInferenceRulesProps {
  const resolved: ResolvedInferenceRulesProps = {
    jobName: props.jobName ?? APP_NAME,
    namespace: props.namespace ?? APP_NAME,
    deploymentName: props.deploymentName ?? APP_NAME,
    workloadKind: props.workloadKind ?? 'Deployment',
    podDisruptionBudgetName: props.podDisruptionBudgetName ?? APP_NAME,
    horizontalPodAutoscalerName: props.horizontalPodAutoscalerName ?? APP_NAME,
    atMaxReplicasFor: props.atMaxReplicasFor ?? '15m',
    predictRoute: props.predictRoute ?? '/predict',
    rateWindow: props.rateWindow ?? '5m',
    errorRatioThreshold: props.errorRatioThreshold ?? 0.05,
    errorRatioFor: props.errorRatioFor ?? '5m',
    latencyP99SloSeconds: props.latencyP99SloSeconds ?? 0.5,
    latencyFor: props.latencyFor ?? '10m',
    noReadyPodsFor: props.noReadyPodsFor ?? '2m',
    belowDisruptionBudgetFor: props.belowDisruptionBudgetFor ?? '5m',
    rolloutMaxDuration: props.rolloutMaxDuration ?? '15m',
    driftWindow: props.driftWindow ?? '1h',
    driftThreshold: props.driftThreshold ?? 0.2,
    driftMinPredictions: props.driftMinPredictions ?? 100,
    driftFor: props.driftFor ?? '30m',
    feedbackWindows: props.feedbackWindows ?? ['1h', '1d'],
    qualityWindow: props.qualityWindow ?? '1h',
    accuracyThreshold: props.accuracyThreshold ?? 0.8,
    qualityMinFeedback: props.qualityMinFeedback ?? 20,
    qualityFor: props.qualityFor ?? '15m',
    runbookBaseUrl:
      props.runbookBaseUrl ?? 'https://github.com/example/model-gitops/blob/main/monitoring/README.md',
  };

  for (const key of [
    'jobName',
    'namespace',
    'deploymentName',
    'podDisruptionBudgetName',
    'horizontalPodAutoscalerName',
    'predictRoute',
  ] as const) {
    if (!LABEL_VALUE_SAFE.test(resolved[key])) {
      throw new Error(
        `'${key}' (${JSON.stringify(resolved[key])}) must be a non-empty label value of letters, digits, . _ / -: ` +
          `use the Kubernetes object name or route it stands for.`,
      );
    }
  }
  const durations = [
    'rateWindow',
    'errorRatioFor',
    'latencyFor',
    'noReadyPodsFor',
    'belowDisruptionBudgetFor',
    'atMaxReplicasFor',
    'rolloutMaxDuration',
    'driftWindow',
    'driftFor',
    'qualityWindow',
    'qualityFor',
  ] as const;
  for (const key of durations) checkDuration(key, resolved[key]);
  if (resolved.feedbackWindows.length === 0) {
    throw new Error(`'feedbackWindows' ([]) must list at least one window: e.g. ['1h', '1d'].`);
  }
  resolved.feedbackWindows.forEach((w, i) => checkDuration(`feedbackWindows[${i}]`, w));
  if (new Set(resolved.feedbackWindows).size !== resolved.feedbackWindows.length) {
    throw new Error(
      `'feedbackWindows' (${JSON.stringify(resolved.feedbackWindows)}) must not repeat a window: remove the duplicate.`,
    );
  }
  if (!resolved.feedbackWindows.includes(resolved.qualityWindow)) {
    throw new Error(
      `'qualityWindow' (${resolved.qualityWindow}) must be one of 'feedbackWindows' ` +
        `(${resolved.feedbackWindows.join(', ')}): add it to feedbackWindows or pick one of them.`,
    );
  }
  if (resolved.workloadKind !== 'Deployment' && resolved.workloadKind !== 'Rollout') {
    throw new Error(
      `'workloadKind' (${JSON.stringify(resolved.workloadKind)}) must be 'Deployment' or 'Rollout'.`,
    );
  }
  checkFraction('errorRatioThreshold', resolved.errorRatioThreshold, false);
  checkFraction('driftThreshold', resolved.driftThreshold, false);
  checkFraction('accuracyThreshold', resolved.accuracyThreshold, true);
  checkPositive('latencyP99SloSeconds', resolved.latencyP99SloSeconds, false);
  checkPositive('driftMinPredictions', resolved.driftMinPredictions, true);
  checkPositive('qualityMinFeedback', resolved.qualityMinFeedback, true);
  if (!/^https?:\/\/\S+$/.test(resolved.runbookBaseUrl)) {
    throw new Error(
      `'runbookBaseUrl' (${JSON.stringify(resolved.runbookBaseUrl)}) must be an http(s) URL: ` +
        `point it at monitoring/README.md in your repository.`,
    );
  }
  return resolved;
}

function checkDuration(key: string, value: string): void {
  if (!DURATION.test(value) || durationSeconds(value) === 0) {
    throw new Error(
      `'${key}' (${JSON.stringify(value)}) must be a positive Prometheus duration such as 30s, 5m, 1h or 1d.`,
    );
  }
}

function checkFraction(key: string, value: number, allowOne: boolean): void {
  if (!Number.isFinite(value) || value <= 0 || value > 1 || (!allowOne && value === 1)) {
    throw new Error(
      `'${key}' (${value}) must be a fraction ${allowOne ? '0 < x ≤ 1' : '0 < x < 1'}: e.g. 0.05 for 5 %.`,
    );
  }
}

function checkPositive(key: string, value: number, integer: boolean): void {
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new Error(`'${key}' (${value}) must be a positive ${integer ? 'whole number' : 'number'}.`);
  }
}

/** Record names, derived from the windows; the dashboard and tests refer to these instead of strings. */
export interface InferenceRecordNames {
  readonly requestRate: string;
  readonly requestRateByStatus: string;
  readonly errorRatio: string;
  readonly requestLatency: Readonly<Record<LatencyQuantile, string>>;
  readonly inferenceLatencyP99: string;
  readonly preprocessLatencyP99: string;
  readonly errorsByReason: string;
  readonly predictionsByClass: string;
  readonly batchSizeMean: string;
  readonly inFlight: string;
  readonly queueDepth: string;
  readonly cpuPerPod: string;
  readonly memoryPerPod: string;
  readonly podsPerModelVersion: string;
  readonly driftPredictionRate: string;
  readonly driftClassShare: string;
  /** Request rate per ReplicaSet (`rollouts_pod_template_hash`; one series without it under rolling delivery). */
  readonly requestRateByPodTemplateHash: string;
  /** Predictions per class per ReplicaSet. */
  readonly predictionsByPodTemplateHash: string;
  /** Per feedback window: the quality records. */
  readonly quality: Readonly<Record<string, QualityRecordNames>>;
}

/** The records computed from `inference_feedback_total` for one window. */
export interface QualityRecordNames {
  /** Confusion counts in the window, labels model_version, true_label, predicted_label. */
  readonly confusion: string;
  /** Feedback received in the window, per model_version. */
  readonly feedback: string;
  /** Per class (label `class`): feedback whose true label is the class. */
  readonly actual: string;
  /** Per class: feedback whose predicted label is the class. */
  readonly predicted: string;
  /** Per class: feedback predicted correctly as the class. */
  readonly correct: string;
  readonly accuracy: string;
  readonly precision: string;
  readonly recall: string;
  readonly f1: string;
  /** Mean of the per-class F1 scores. */
  readonly macroF1: string;
}

/** The record names for the given (resolved) props. */
export function inferenceRecordNames(props: ResolvedInferenceRulesProps): InferenceRecordNames {
  const r = props.rateWindow;
  const quantileName = (q: LatencyQuantile): string =>
    `job:http_request_duration_seconds:p${Math.round(q * 100)}_rate${r}`;
  const quality: Record<string, QualityRecordNames> = {};
  for (const w of props.feedbackWindows) {
    quality[w] = {
      confusion: `job_version:inference_feedback_confusion:count${w}`,
      feedback: `job_version:inference_feedback:count${w}`,
      actual: `job_version_class:inference_feedback_actual:count${w}`,
      predicted: `job_version_class:inference_feedback_predicted:count${w}`,
      correct: `job_version_class:inference_feedback_correct:count${w}`,
      accuracy: `job_version:inference_accuracy:ratio${w}`,
      precision: `job_version_class:inference_precision:ratio${w}`,
      recall: `job_version_class:inference_recall:ratio${w}`,
      f1: `job_version_class:inference_f1:ratio${w}`,
      macroF1: `job_version:inference_f1:macro${w}`,
    };
  }
  return {
    requestRate: `job:http_requests:rate${r}`,
    requestRateByStatus: `job_status:http_requests:rate${r}`,
    errorRatio: `job:http_request_errors:ratio_rate${r}`,
    requestLatency: {
      0.5: quantileName(0.5),
      0.9: quantileName(0.9),
      0.95: quantileName(0.95),
      0.99: quantileName(0.99),
    },
    inferenceLatencyP99: `job:inference_duration_seconds:p99_rate${r}`,
    preprocessLatencyP99: `job:inference_preprocess_duration_seconds:p99_rate${r}`,
    errorsByReason: `job_reason:inference_errors:rate${r}`,
    predictionsByClass: `job_label:inference_predictions:rate${r}`,
    batchSizeMean: `job:inference_batch_size:mean_rate${r}`,
    inFlight: 'job:http_requests_in_flight:sum',
    queueDepth: 'job:inference_queue_depth:sum',
    cpuPerPod: `pod:process_cpu_seconds:rate${r}`,
    memoryPerPod: 'pod:process_resident_memory_bytes:sum',
    podsPerModelVersion: 'job_version:model_info:count',
    driftPredictionRate: `job:inference_predictions:rate${props.driftWindow}`,
    driftClassShare: `job_label:inference_predictions:ratio_rate${props.driftWindow}`,
    requestRateByPodTemplateHash: `job_hash:http_requests:rate${r}`,
    predictionsByPodTemplateHash: `job_hash_label:inference_predictions:rate${r}`,
    quality,
  };
}

/** The rule groups plus the names they record. */
export interface InferenceRules {
  readonly props: ResolvedInferenceRulesProps;
  readonly names: InferenceRecordNames;
  readonly groups: readonly RuleGroup[];
}

/** Builds the classifier's rule groups (recording rules first, alerts last). Throws on invalid props. */
export function inferenceRules(props: InferenceRulesProps = {}): InferenceRules {
  const p = resolveInferenceRulesProps(props);
  const n = inferenceRecordNames(p);
  const job = `job="${p.jobName}"`;
  const by = 'namespace, job';
  const r = p.rateWindow;
  const nonProbe = NON_PROBE_ROUTES;

  const quantile = (q: number, metric: string, extra = ''): string =>
    `histogram_quantile(${q}, sum by (${by}, le) (rate(${metric}_bucket{${job}${extra}}[${r}])))`;

  const traffic: RuleGroup = {
    name: `${p.jobName}.http`,
    rules: [
      {
        record: n.requestRate,
        expr: `sum by (${by}) (rate(http_requests_total{${job}, ${nonProbe}}[${r}]))`,
      },
      {
        record: n.requestRateByStatus,
        expr: `sum by (${by}, status) (rate(http_requests_total{${job}, ${nonProbe}}[${r}]))`,
      },
      {
        record: n.errorRatio,
        expr:
          `sum by (${by}) (rate(http_requests_total{${job}, ${nonProbe}, status=~"5.."}[${r}]))\n` +
          `/\nsum by (${by}) (rate(http_requests_total{${job}, ${nonProbe}}[${r}]))`,
      },
      ...LATENCY_QUANTILES.map((q) => ({
        record: n.requestLatency[q],
        expr: quantile(q, 'http_request_duration_seconds', `, route="${p.predictRoute}"`),
      })),
      { record: n.inFlight, expr: `sum by (${by}) (http_requests_in_flight{${job}})` },
      {
        record: n.requestRateByPodTemplateHash,
        expr: `sum by (${by}, ${POD_TEMPLATE_HASH_SERIES_LABEL}) (rate(http_requests_total{${job}, ${nonProbe}}[${r}]))`,
      },
    ],
  };

  const inference: RuleGroup = {
    name: `${p.jobName}.inference`,
    rules: [
      { record: n.inferenceLatencyP99, expr: quantile(0.99, 'inference_duration_seconds') },
      { record: n.preprocessLatencyP99, expr: quantile(0.99, 'inference_preprocess_duration_seconds') },
      {
        record: n.errorsByReason,
        expr: `sum by (${by}, reason) (rate(inference_errors_total{${job}}[${r}]))`,
      },
      {
        record: n.predictionsByClass,
        expr: `sum by (${by}, label, model_version) (rate(inference_predictions_total{${job}}[${r}]))`,
      },
      {
        record: n.predictionsByPodTemplateHash,
        expr: `sum by (${by}, ${POD_TEMPLATE_HASH_SERIES_LABEL}, label) (rate(inference_predictions_total{${job}}[${r}]))`,
      },
      {
        record: n.batchSizeMean,
        expr:
          `sum by (${by}) (rate(inference_batch_size_sum{${job}}[${r}]))\n` +
          `/\nsum by (${by}) (rate(inference_batch_size_count{${job}}[${r}]))`,
      },
      { record: n.queueDepth, expr: `sum by (${by}) (inference_queue_depth{${job}})` },
      {
        record: n.cpuPerPod,
        expr: `sum by (${by}, pod, instance) (rate(process_cpu_seconds_total{${job}}[${r}]))`,
      },
      {
        record: n.memoryPerPod,
        expr: `sum by (${by}, pod, instance) (process_resident_memory_bytes{${job}})`,
      },
      { record: n.podsPerModelVersion, expr: `count by (${by}, version) (model_info{${job}})` },
      {
        record: n.driftPredictionRate,
        expr: `sum by (${by}) (rate(inference_predictions_total{${job}}[${p.driftWindow}]))`,
      },
      {
        record: n.driftClassShare,
        expr:
          `sum by (${by}, label) (rate(inference_predictions_total{${job}}[${p.driftWindow}]))\n` +
          `/ on (${by}) group_left\n${n.driftPredictionRate}`,
      },
    ],
  };

  const quality: RuleGroup = {
    name: `${p.jobName}.quality`,
    rules: p.feedbackWindows.flatMap((w) => qualityRules(job, w, n.quality[w])),
  };

  const alerts: RuleGroup = { name: `${p.jobName}.alerts`, rules: alertRules(p, n) };
  return { props: p, names: n, groups: [traffic, inference, quality, alerts] };
}

/**
 * Accuracy, precision, recall and F1 over one window from the confusion counter.
 *
 * Counts in the window are `counter - counter offset <window>`, or the whole counter for series younger
 * than the window. Unlike `increase()`, this does not extrapolate and does not lose the first increment of a
 * new series, which matters for feedback: it is sparse and every (model version, true, predicted) cell
 * starts as a new series. After a counter reset inside the window (a container restarted by an OOM kill or
 * its liveness probe keeps its pod's labels) the counter is below its value a window ago: then the count is
 * what came since the reset, a lower bound, so the rates stay meaningful instead of reading 0 for a window.
 */
function qualityRules(job: string, w: string, q: QualityRecordNames): RecordingRule[] {
  const counter = `inference_feedback_total{${job}}`;
  const byVersion = 'namespace, job, model_version';
  const byClass = `${byVersion}, class`;
  const asClass = (from: 'true_label' | 'predicted_label'): string =>
    `label_replace(${q.confusion}, "class", "$1", "${from}", "(.*)")`;
  return [
    {
      record: q.confusion,
      expr:
        `sum by (${byVersion}, true_label, predicted_label) (\n` +
        `  (${counter} - ${counter} offset ${w}) >= 0\n  or\n` +
        `  ${counter} < ${counter} offset ${w}\n  or\n  ${counter}\n)`,
    },
    { record: q.feedback, expr: `sum by (${byVersion}) (${q.confusion})` },
    {
      // Every class seen on either side, so precision, recall and F1 have a denominator for each.
      record: q.actual,
      expr:
        `sum by (${byClass}) (${asClass('true_label')})\nor\n` +
        `sum by (${byClass}) (${asClass('predicted_label')}) * 0`,
    },
    {
      record: q.predicted,
      expr:
        `sum by (${byClass}) (${asClass('predicted_label')})\nor\n` +
        `sum by (${byClass}) (${asClass('true_label')}) * 0`,
    },
    {
      // A cell is correct when its true and predicted labels agree: both relabelled copies match exactly.
      record: q.correct,
      expr:
        `sum by (${byClass}) (\n  ${asClass('true_label')}\n  and\n  ${asClass('predicted_label')}\n)\n` +
        `or\n${q.actual} * 0`,
    },
    { record: q.accuracy, expr: `sum by (${byVersion}) (${q.correct})\n/\n(${q.feedback} > 0)` },
    { record: q.precision, expr: `${q.correct}\n/\n(${q.predicted} > 0)` },
    { record: q.recall, expr: `${q.correct}\n/\n(${q.actual} > 0)` },
    { record: q.f1, expr: `2 * ${q.correct}\n/\n((${q.actual} + ${q.predicted}) > 0)` },
    { record: q.macroF1, expr: `avg by (${byVersion}) (${q.f1})` },
  ];
}

function alertRules(p: ResolvedInferenceRulesProps, n: InferenceRecordNames): AlertingRule[] {
  const runbook = (name: AlertName): string => `${p.runbookBaseUrl}#${name.toLowerCase()}`;
  const alert = (
    name: AlertName,
    severity: AlertSeverity,
    forDuration: string,
    expr: string,
    summary: string,
    description: string,
  ): AlertingRule => ({
    alert: name,
    expr,
    for: forDuration,
    labels: { severity },
    annotations: { summary, description, runbook_url: runbook(name) },
  });
  const ksm = (metric: string, objectLabel: string, name: string): string =>
    `${metric}{namespace="${p.namespace}", ${objectLabel}="${name}"}`;
  const q = n.quality[p.qualityWindow];
  const driftSeconds = durationSeconds(p.driftWindow);
  const p99 = n.requestLatency[0.99];

  return [
    alert(
      'InferenceHighErrorRatio',
      'critical',
      p.errorRatioFor,
      `${n.errorRatio} > ${p.errorRatioThreshold}`,
      '{{ $labels.job }} answers {{ $value | humanizePercentage }} of requests with a 5xx',
      `More than ${p.errorRatioThreshold * 100} % of requests (probes and /metrics excluded) failed with a ` +
        `server error over ${p.rateWindow}, for ${p.errorRatioFor}. Check errors by reason on the dashboard ` +
        'and the pod logs.',
    ),
    alert(
      'InferenceLatencyP99OverSlo',
      'warning',
      p.latencyFor,
      `${p99} > ${p.latencyP99SloSeconds}`,
      '{{ $labels.job }} p99 latency of ' + `${p.predictRoute} is {{ $value | humanizeDuration }}`,
      `The 99th percentile of ${p.predictRoute} latency over ${p.rateWindow} is above the ` +
        `${p.latencyP99SloSeconds} s SLO for ${p.latencyFor}. Check CPU per pod, queue depth and batch sizes.`,
    ),
    alert(
      'InferenceNoReadyPods',
      'critical',
      p.noReadyPodsFor,
      p.workloadKind === 'Rollout'
        ? `${ksm('rollout_info_replicas_available', 'name', p.deploymentName)} == 0`
        : `${ksm('kube_deployment_status_replicas_available', 'deployment', p.deploymentName)} == 0`,
      `${p.workloadKind} ${p.namespace}/${p.deploymentName} has no available pod`,
      `No pod of the classifier has been ready for ${p.noReadyPodsFor}: every prediction fails. ` +
        'Check the init container (model-fetch) and readiness probe events.',
    ),
    alert(
      'InferenceFewerReadyPodsThanBudget',
      'warning',
      p.belowDisruptionBudgetFor,
      `${ksm('kube_poddisruptionbudget_status_current_healthy', 'poddisruptionbudget', p.podDisruptionBudgetName)}\n` +
        `<\n${ksm('kube_poddisruptionbudget_status_desired_healthy', 'poddisruptionbudget', p.podDisruptionBudgetName)}`,
      `{{ $value }} healthy pods, fewer than PodDisruptionBudget ${p.namespace}/${p.podDisruptionBudgetName} wants`,
      `Fewer pods are healthy than the PodDisruptionBudget requires, for ${p.belowDisruptionBudgetFor}: ` +
        'node drains are blocked and one more failure loses capacity.',
    ),
    alert(
      'InferenceModelVersionSkew',
      'warning',
      p.rolloutMaxDuration,
      `count by (namespace, job) (${n.podsPerModelVersion}) > 1`,
      '{{ $labels.job }} pods serve {{ $value }} model versions at once',
      `Pods have served different model versions for longer than a rollout takes (${p.rolloutMaxDuration}). ` +
        'A rollout is stuck or pods run a model other than the pin.',
    ),
    alert(
      'InferencePredictionMixDrift',
      'warning',
      p.driftFor,
      `abs(${n.driftClassShare} - ${n.driftClassShare} offset 1d) > ${p.driftThreshold}\n` +
        `and on (namespace, job) (${n.driftPredictionRate} * ${driftSeconds} >= ${p.driftMinPredictions})\n` +
        `and on (namespace, job) (${n.driftPredictionRate} offset 1d * ${driftSeconds} >= ${p.driftMinPredictions})`,
      'Share of {{ $labels.label }} predictions moved by {{ $value | humanizePercentage }} against yesterday',
      `A class's share of predictions over ${p.driftWindow} differs from the same window a day earlier by more ` +
        `than ${p.driftThreshold * 100} points, for ${p.driftFor}. The input data or the model changed.`,
    ),
    alert(
      'InferenceModelQualityLow',
      'warning',
      p.qualityFor,
      `${q.accuracy} < ${p.accuracyThreshold}\n` +
        `and on (namespace, job, model_version) ${q.feedback} >= ${p.qualityMinFeedback}`,
      'Model {{ $labels.model_version }} accuracy from feedback is {{ $value | humanizePercentage }}',
      `Accuracy measured from user feedback over ${p.qualityWindow} (at least ${p.qualityMinFeedback} answers) ` +
        `is below ${p.accuracyThreshold * 100} % for ${p.qualityFor}. Compare with the previous model version ` +
        'and consider a rollback.',
    ),
    alert(
      'InferenceAutoscalerAtMaxReplicas',
      'warning',
      p.atMaxReplicasFor,
      `${ksm('kube_horizontalpodautoscaler_status_current_replicas', 'horizontalpodautoscaler', p.horizontalPodAutoscalerName)}\n` +
        `>=\n${ksm('kube_horizontalpodautoscaler_spec_max_replicas', 'horizontalpodautoscaler', p.horizontalPodAutoscalerName)}`,
      `HorizontalPodAutoscaler ${p.namespace}/${p.horizontalPodAutoscalerName} runs at its maximum of {{ $value }} replicas`,
      `The autoscaler has been at maxReplicas for ${p.atMaxReplicasFor}: it cannot add capacity, so more load ` +
        'turns into latency and 503s. Check whether the replicas are insufficient: raise autoscaling.maxReplicas ' +
        '(and the cluster capacity behind it) or find what drives the load.',
    ),
  ];
}
