import { Duration, Testing } from 'cdk8s';
import { workloadServiceMonitor } from '../src/service-monitor';
import { Json } from './support/dist';

function synth(scrapeInterval: Duration): Json {
  const chart = Testing.chart();
  workloadServiceMonitor(chart, {
    name: 'app',
    namespace: 'apps',
    labels: { app: 'x', release: 'prometheus' },
    selectorLabels: { app: 'x' },
    scrapeInterval,
  });
  return Testing.synth(chart)[0];
}

describe('workloadServiceMonitor', () => {
  it("scrapes /metrics on the Service port named http in the workload's namespace, at the interval in seconds", () => {
    expect(synth(Duration.minutes(1))).toEqual({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { name: 'app', namespace: 'apps', labels: { app: 'x', release: 'prometheus' } },
      spec: {
        selector: { matchLabels: { app: 'x' } },
        namespaceSelector: { matchNames: ['apps'] },
        endpoints: [{ port: 'http', path: '/metrics', interval: '60s' }],
      },
    });
  });

  it('fails when the interval is not a whole number of seconds, or zero', () => {
    expect(() => synth(Duration.millis(1500))).toThrow(
      "'scrapeInterval' (1.5 s) must be a whole number of seconds ≥ 0.",
    );
    expect(() => synth(Duration.seconds(0))).toThrow("'scrapeInterval' (0 s) must be at least 1 second.");
  });

  it('accepts the shortest interval, 1 second', () => {
    expect(synth(Duration.seconds(1)).spec.endpoints[0].interval).toBe('1s');
  });
});
