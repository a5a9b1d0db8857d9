/**
 * The PromQL of a canary's analysis (Argo Rollouts AnalysisTemplate, Prometheus provider), next to the recording
 * rules it mirrors: the same series, selectors and route filter as `inference-rules.ts`, narrowed to one pod
 * template hash. Argo Rollouts labels every pod with `rollouts-pod-template-hash`; the ServiceMonitor of a canary
 * service copies it onto the scraped series as `rollouts_pod_template_hash` (podTargetLabels).
 */
import { NON_PROBE_ROUTES, POD_TEMPLATE_HASH_SERIES_LABEL } from './inference-rules';

/** The pod label Argo Rollouts sets on each ReplicaSet's pods. */
export const POD_TEMPLATE_HASH_LABEL = 'rollouts-pod-template-hash';
/** The AnalysisTemplate's argument names; the Rollout fills them from `podTemplateHashValue` Latest and Stable. */
export const CANARY_HASH_ARG = 'canary-hash';
export const STABLE_HASH_ARG = 'stable-hash';

/** What the queries are built from. */
export interface CanaryAnalysisQueryProps {
  /** The `job` label of the service's series (the Service name under a ServiceMonitor). */
  readonly jobName: string;
  /** The route whose latency is judged. */
  readonly predictRoute: string;
  /** Range of each rate(), in seconds. */
  readonly windowSeconds: number;
  /** Canary predictions needed in the window before the class mix is judged. */
  readonly minPredictions: number;
  /** Highest canary 5xx ratio. */
  readonly maxErrorRatio: number;
  /** Highest canary p99 latency, seconds. */
  readonly maxLatencyP99Seconds: number;
  /** Highest total-variation distance of the class shares. */
  readonly maxPredictionMixDistance: number;
}

/** One metric of the AnalysisTemplate: its query and its conditions in Argo Rollouts' expression language. */
export interface CanaryAnalysisMetric {
  /** Metric name in the AnalysisTemplate. */
  readonly name: string;
  /** PromQL with `{{args.canary-hash}}` / `{{args.stable-hash}}` placeholders (Argo Rollouts' templating). */
  readonly query: string;
  /**
   * Passes when the query has a value within the threshold. Both conditions are set, so an empty or NaN result
   * (too little canary traffic) is neither: Argo Rollouts counts it as Inconclusive, not as a pass.
   */
  readonly successCondition: string;
  /** Fails when the query has a value beyond the threshold. */
  readonly failureCondition: string;
}

/** `{{args.<name>}}`: Argo Rollouts replaces it with the argument's value before it sends the query. */
export function argPlaceholder(name: string): string {
  return `{{args.${name}}}`;
}

/**
 * The three metrics: the canary's 5xx ratio, the canary's p99 latency, and the total-variation distance between
 * the canary's and the stable pods' predicted-class shares (½ Σ |canary share − stable share| over the classes
 * either side predicted; 0 = the same mix, 1 = no class in common). Each query returns one sample, or none when
 * there is too little canary traffic to judge.
 */
export function canaryAnalysisMetrics(p: CanaryAnalysisQueryProps): CanaryAnalysisMetric[] {
  const w = `${p.windowSeconds}s`;
  const sel = (hashArg: string, extra = ''): string =>
    `job="${p.jobName}", ${POD_TEMPLATE_HASH_SERIES_LABEL}="${argPlaceholder(hashArg)}"${extra}`;
  const requests = (extra: string): string =>
    `sum(rate(http_requests_total{${sel(CANARY_HASH_ARG, `, ${NON_PROBE_ROUTES}${extra}`)}}[${w}]))`;
  const share = (hashArg: string): string =>
    `(sum by (label) (rate(inference_predictions_total{${sel(hashArg)}}[${w}]))\n` +
    `  / scalar(sum(rate(inference_predictions_total{${sel(hashArg)}}[${w}]))))`;
  const canaryShare = share(CANARY_HASH_ARG);
  const stableShare = share(STABLE_HASH_ARG);
  const within = (max: number): Pick<CanaryAnalysisMetric, 'successCondition' | 'failureCondition'> => ({
    successCondition: `len(result) > 0 && result[0] <= ${max}`,
    failureCondition: `len(result) > 0 && result[0] > ${max}`,
  });
  return [
    {
      name: 'error-ratio',
      query: `(${requests(', status=~"5.."')} or vector(0))\n/\n${requests('')}`,
      ...within(p.maxErrorRatio),
    },
    {
      name: 'latency-p99',
      query:
        `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{` +
        `${sel(CANARY_HASH_ARG, `, route="${p.predictRoute}"`)}}[${w}])))`,
      ...within(p.maxLatencyP99Seconds),
    },
    {
      name: 'prediction-mix-distance',
      query:
        `sum(abs(\n  (${canaryShare} or ${stableShare} * 0)\n  -\n  (${stableShare} or ${canaryShare} * 0)\n)) / 2\n` +
        `and on () (sum(increase(inference_predictions_total{${sel(CANARY_HASH_ARG)}}[${w}])) >= ${p.minPredictions})`,
      ...within(p.maxPredictionMixDistance),
    },
  ];
}

/** The query with Argo Rollouts' `{{args.*}}` placeholders replaced, as the controller sends it. */
export function renderAnalysisQuery(query: string, args: Readonly<Record<string, string>>): string {
  return query.replace(/\{\{\s*args\.([A-Za-z0-9_-]+)\s*\}\}/g, (whole, name: string) => {
    const value = args[name];
    if (value === undefined)
      throw new Error(`analysis query uses ${whole} but no argument '${name}' was given`);
    return value;
  });
}
