import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { readContainerEnvironment } from '../../../charts/src';

/** The rollout-relevant settings of the generated inference Deployment. */
export interface RolloutSettings {
  readonly readiness: {
    readonly periodSeconds: number;
    readonly failureThreshold: number;
    readonly successThreshold: number;
    readonly timeoutSeconds: number;
  };
  readonly maxSurge: string | number;
  readonly maxUnavailable: string | number;
  readonly drainDelayMs: number;
  readonly terminationGracePeriodSeconds: number;
  /** The inference container's environment: the generated ConfigMap under the pod template's own env. */
  readonly config: Readonly<Record<string, string>>;
}

/**
 * Reads the readiness probe, rolling-update strategy and DRAIN_DELAY_MS from the generated manifests
 * (`dist/<env>/Deployment.cats-dogs-classifier.yaml` and the ConfigMap it reads), so the simulation follows them.
 */
export function readRolloutSettings(repoRoot: string, env = 'production'): RolloutSettings {
  const dir = path.join(repoRoot, 'dist', env);
  const read = (file: string): Record<string, unknown> =>
    parse(readFileSync(path.join(dir, file), 'utf8')) as Record<string, unknown>;
  // Parsed manifests are plain JSON; the shapes below are the Kubernetes API's.
  const dep = read('Deployment.cats-dogs-classifier.yaml') as {
    spec: {
      strategy: { rollingUpdate: { maxSurge: string | number; maxUnavailable: string | number } };
      template: {
        spec: {
          terminationGracePeriodSeconds?: number;
          containers: { name: string; readinessProbe?: Record<string, number | undefined> }[];
        };
      };
    };
  };
  const containerEnv = readContainerEnvironment(dir);
  const container = dep.spec.template.spec.containers.find((c) => c.readinessProbe);
  if (!container?.readinessProbe) throw new Error(`${dir}: no container with a readinessProbe`);
  const p = container.readinessProbe;
  return {
    readiness: {
      periodSeconds: p.periodSeconds ?? 10,
      failureThreshold: p.failureThreshold ?? 3,
      successThreshold: p.successThreshold ?? 1,
      timeoutSeconds: p.timeoutSeconds ?? 1,
    },
    maxSurge: dep.spec.strategy.rollingUpdate.maxSurge,
    maxUnavailable: dep.spec.strategy.rollingUpdate.maxUnavailable,
    drainDelayMs: Number(containerEnv.DRAIN_DELAY_MS ?? 5000),
    terminationGracePeriodSeconds: dep.spec.template.spec.terminationGracePeriodSeconds ?? 30,
    config: containerEnv,
  };
}
