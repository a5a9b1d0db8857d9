import { Construct } from 'constructs';
import {
  PrometheusRule,
  PrometheusRuleSpecGroups,
  PrometheusRuleSpecGroupsRulesExpr,
} from '../../../imports/prometheus-rule-monitoring.coreos.com';
import { InferenceRules, inferenceRules, InferenceRulesProps } from './inference-rules';

/** Props of `InferenceAlerts`: the rule settings plus where the PrometheusRule goes. */
export interface InferenceAlertsProps extends InferenceRulesProps {
  /**
   * Name of the PrometheusRule.
   * @default '<jobName>'
   */
  readonly name?: string;
  /**
   * Labels the Prometheus Operator selects rules by (kube-prometheus-stack's `ruleSelector`).
   * @default { release: 'prometheus' }
   */
  readonly ruleSelectorLabels?: Readonly<Record<string, string>>;
}

/**
 * A PrometheusRule (monitoring.coreos.com/v1) with the classifier's recording rules and alerts, in the
 * namespace of the service (`namespace` prop). The same groups are written to `monitoring/rules.yml`.
 */
export class InferenceAlerts extends Construct {
  /** The PrometheusRule. */
  public readonly resource: PrometheusRule;
  /** The rule groups, record names and resolved thresholds. */
  public readonly rules: InferenceRules;
  /** Name of the PrometheusRule. */
  public readonly name: string;

  public constructor(scope: Construct, id: string, props: InferenceAlertsProps = {}) {
    super(scope, id);
    this.rules = inferenceRules(props);
    this.name = props.name ?? this.rules.props.jobName;
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(this.name) || this.name.length > 253) {
      throw new Error(
        `'name' (${JSON.stringify(this.name)}) must be a Kubernetes object name: lower-case letters, digits, - and .`,
      );
    }
    const groups: PrometheusRuleSpecGroups[] = this.rules.groups.map((group) => ({
      name: group.name,
      rules: group.rules.map((rule) =>
        'record' in rule
          ? { record: rule.record, expr: PrometheusRuleSpecGroupsRulesExpr.fromString(rule.expr) }
          : {
              alert: rule.alert,
              expr: PrometheusRuleSpecGroupsRulesExpr.fromString(rule.expr),
              for: rule.for,
              labels: { ...rule.labels },
              annotations: { ...rule.annotations },
            },
      ),
    }));
    this.resource = new PrometheusRule(this, 'Resource', {
      metadata: {
        name: this.name,
        namespace: this.rules.props.namespace,
        labels: {
          'app.kubernetes.io/name': this.rules.props.jobName,
          ...(props.ruleSelectorLabels ?? { release: 'prometheus' }),
        },
      },
      spec: { groups },
    });
  }
}
