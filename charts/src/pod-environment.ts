import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { APP_NAME } from './config/names';
import type { KubeObject } from './synth';

/** Which container's environment {@link containerEnvironment} assembles. */
export interface ContainerEnvironmentOptions {
  /**
   * `metadata.name` of the Deployment, or of the Argo Rollouts Rollout that replaces it with canary delivery.
   * @default 'cats-dogs-classifier'
   */
  readonly workload?: string;
  /**
   * Name of the container, or init container, in the workload's pod template.
   * @default 'inference'
   */
  readonly container?: string;
}

interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: { readonly configMapKeyRef?: ConfigMapKeyRef };
}
interface ConfigMapKeyRef {
  readonly name: string;
  readonly key: string;
  readonly optional?: boolean;
}
interface EnvFromSource {
  readonly prefix?: string;
  readonly configMapRef?: { readonly name: string; readonly optional?: boolean };
}
interface Container {
  readonly name: string;
  readonly env?: readonly EnvVar[];
  readonly envFrom?: readonly EnvFromSource[];
}
interface PodTemplateSpec {
  readonly containers: readonly Container[];
  readonly initContainers?: readonly Container[];
}

/**
 * The variables a container of a synthesized workload starts with, assembled as the kubelet does: the data of each
 * ConfigMap its `envFrom` names (in order, with its prefix), then its own `env` on top (literal values and
 * `configMapKeyRef`s; an `env` entry wins over `envFrom`). What only the cluster holds is left out: Secrets (dist/
 * carries no secret values), `fieldRef` and `resourceFieldRef`. This is what a pod of that template reads, which no
 * single object tells: the runtime settings are in the ConfigMap, the model pin in the pod template.
 */
export function containerEnvironment(
  objects: readonly KubeObject[],
  options: ContainerEnvironmentOptions = {},
): Record<string, string> {
  const workloadName = options.workload ?? APP_NAME;
  const containerName = options.container ?? 'inference';
  const workload = objects.find(
    (o) => (o.kind === 'Deployment' || o.kind === 'Rollout') && o.metadata.name === workloadName,
  );
  if (!workload) throw new Error(`no Deployment or Rollout named '${workloadName}'`);
  const where = `${workload.kind} ${workloadName}`;
  // Synthesized objects are plain JSON in the Kubernetes API's shape.
  const pod = (workload as unknown as { spec: { template: { spec: PodTemplateSpec } } }).spec.template.spec;
  const container = [...pod.containers, ...(pod.initContainers ?? [])].find((c) => c.name === containerName);
  if (!container) throw new Error(`${where} has no container named '${containerName}'`);

  const configMapData = (name: string, optional: boolean | undefined): Record<string, string> | undefined => {
    const found = objects.find(
      (o) =>
        o.kind === 'ConfigMap' &&
        o.metadata.name === name &&
        o.metadata.namespace === workload.metadata.namespace,
    ) as { data?: Record<string, string> } | undefined;
    if (!found && !optional) {
      throw new Error(
        `${where}, container '${containerName}': reads ConfigMap '${name}', which is not there`,
      );
    }
    return found && (found.data ?? {});
  };

  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    if (!source.configMapRef) continue;
    const data = configMapData(source.configMapRef.name, source.configMapRef.optional) ?? {};
    for (const [key, value] of Object.entries(data)) env[`${source.prefix ?? ''}${key}`] = value;
  }
  for (const variable of container.env ?? []) {
    const ref = variable.valueFrom?.configMapKeyRef;
    if (variable.value !== undefined) {
      env[variable.name] = variable.value;
    } else if (ref) {
      const value = configMapData(ref.name, ref.optional)?.[ref.key];
      if (value === undefined && !ref.optional) {
        throw new Error(
          `${where}, container '${containerName}': ConfigMap '${ref.name}' has no key '${ref.key}'`,
        );
      }
      if (value !== undefined) env[variable.name] = value;
    } else if (!variable.valueFrom) {
      env[variable.name] = ''; // neither value nor valueFrom: Kubernetes sets it empty
    }
  }
  return env;
}

/** {@link containerEnvironment} over the generated files of one directory, e.g. `dist/production`. */
export function readContainerEnvironment(
  dir: string,
  options: ContainerEnvironmentOptions = {},
): Record<string, string> {
  const objects = readdirSync(dir)
    .filter((name) => name.endsWith('.yaml'))
    .sort()
    .map((name) => parse(readFileSync(join(dir, name), 'utf8')) as KubeObject);
  return containerEnvironment(objects, options);
}
