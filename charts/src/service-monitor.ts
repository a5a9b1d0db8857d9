import { Duration } from 'cdk8s';
import { Construct } from 'constructs';
import { ServiceMonitor } from '../../imports/prometheus-servicemonitor-monitoring.coreos.com';
import { wholeSeconds } from './container-settings';

/** Props of {@link workloadServiceMonitor}. */
export interface WorkloadServiceMonitorProps {
  /** Name of the ServiceMonitor. */
  readonly name: string;
  /** Namespace of the ServiceMonitor and of the Service it selects. */
  readonly namespace: string;
  /** Labels of the ServiceMonitor (the workload's labels plus those Prometheus' serviceMonitorSelector matches). */
  readonly labels: Readonly<Record<string, string>>;
  /** Labels of the Service to scrape. */
  readonly selectorLabels: Readonly<Record<string, string>>;
  /** Scrape interval, whole seconds. */
  readonly scrapeInterval: Duration;
}

/** A Prometheus Operator ServiceMonitor scraping `/metrics` on the Service port named `http`. */
export function workloadServiceMonitor(scope: Construct, props: WorkloadServiceMonitorProps): ServiceMonitor {
  const interval = wholeSeconds(props.scrapeInterval, 'scrapeInterval');
  if (interval < 1) throw new Error(`'scrapeInterval' (${interval} s) must be at least 1 second.`);
  return new ServiceMonitor(scope, 'ServiceMonitor', {
    metadata: { name: props.name, namespace: props.namespace, labels: { ...props.labels } },
    spec: {
      selector: { matchLabels: { ...props.selectorLabels } },
      namespaceSelector: { matchNames: [props.namespace] },
      endpoints: [{ port: 'http', path: '/metrics', interval: `${interval}s` }],
    },
  });
}
