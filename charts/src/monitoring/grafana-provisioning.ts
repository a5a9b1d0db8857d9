/**
 * Grafana provisioning files for running Grafana next to a local Prometheus: a Prometheus datasource and
 * a file provider that loads the generated dashboard. In a cluster, kube-prometheus-stack provides the
 * datasource and its sidecar loads the `InferenceDashboard` ConfigMap instead.
 */
import { APP_NAME } from '../config/names';

/** Settings of the provisioning files. */
export interface GrafanaProvisioningOptions {
  /**
   * URL Grafana reaches Prometheus at.
   * @default 'http://127.0.0.1:9090'
   */
  readonly prometheusUrl?: string;
  /**
   * Prometheus's scrape interval, Grafana's smallest useful step.
   * @default '15s'
   */
  readonly scrapeInterval?: string;
  /**
   * Directory inside Grafana holding the dashboard JSON (mount `monitoring/grafana/dashboards` there).
   * @default '/var/lib/grafana/dashboards/cats-dogs-classifier'
   */
  readonly dashboardsPath?: string;
}

/** `provisioning/datasources/prometheus.yml`: the datasource the dashboard's `datasource` variable picks. */
export function grafanaDatasourceProvisioning(options: GrafanaProvisioningOptions = {}): object {
  return {
    apiVersion: 1,
    datasources: [
      {
        name: 'Prometheus',
        type: 'prometheus',
        uid: 'prometheus',
        access: 'proxy',
        url: options.prometheusUrl ?? 'http://127.0.0.1:9090',
        isDefault: true,
        editable: false,
        jsonData: { timeInterval: options.scrapeInterval ?? '15s' },
      },
    ],
  };
}

/** `provisioning/dashboards/cats-dogs-classifier.yml`: loads the dashboard JSON from a directory. */
export function grafanaDashboardProvisioning(options: GrafanaProvisioningOptions = {}): object {
  return {
    apiVersion: 1,
    providers: [
      {
        name: APP_NAME,
        type: 'file',
        folder: 'Inference',
        disableDeletion: true,
        allowUiUpdates: false,
        options: { path: options.dashboardsPath ?? `/var/lib/grafana/dashboards/${APP_NAME}` },
      },
    ],
  };
}
