import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** How a delivery ended; the `outcome` label of `relay_deliveries_total`. */
export type DeliveryOutcome =
  | 'dispatched'
  | 'ignored'
  | 'duplicate'
  | 'in_progress'
  | 'unauthorized'
  | 'stale'
  | 'invalid'
  | 'too_large'
  | 'overloaded'
  | 'dispatch_failed';

/** The relay's metrics, on a registry of its own. */
export interface RelayMetrics {
  readonly registry: Registry;
  readonly deliveries: Counter<'outcome'>;
  readonly dispatchDuration: Histogram<'result'>;
  readonly dispatchFailures: Counter<'reason'>;
}

/** Creates the relay's registry with default process metrics and the relay's own series. */
export function createRelayMetrics(): RelayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    deliveries: new Counter({
      name: 'relay_deliveries_total',
      help: 'MLflow webhook deliveries received, by outcome',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    dispatchDuration: new Histogram({
      name: 'relay_dispatch_duration_seconds',
      help: 'Time to send a repository_dispatch to GitHub, retries included',
      labelNames: ['result'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    dispatchFailures: new Counter({
      name: 'relay_dispatch_failures_total',
      help: 'repository_dispatch calls GitHub did not accept, by reason (http_<status> or network)',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
}
