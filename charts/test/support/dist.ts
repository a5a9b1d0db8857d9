import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import type { KubeObject } from '../../src/synth';

/** The repository root. */
export const REPO_ROOT = resolve(__dirname, '..', '..', '..');

/** One committed generated file and the object in it. */
export interface DistFile {
  /** Path relative to the repository root, e.g. `dist/production/Deployment.cats-dogs-classifier.yaml`. */
  readonly file: string;
  /** The object. */
  readonly obj: KubeObject;
}

/** Every committed file below `dir` (`dist/<env>` or `argocd`), parsed. */
export function readGenerated(dir: string): DistFile[] {
  return readdirSync(join(REPO_ROOT, dir))
    .filter((n) => n.endsWith('.yaml'))
    .sort()
    .map((n) => ({
      file: `${dir}/${n}`,
      obj: parse(readFileSync(join(REPO_ROOT, dir, n), 'utf8')) as KubeObject,
    }));
}

/** Every object of `kind` in the files. */
export function ofKind(files: readonly DistFile[], kind: string): DistFile[] {
  return files.filter((f) => f.obj.kind === kind);
}

/** The kinds that run the service's pods: a Deployment (`delivery: rolling`) or an Argo Rollouts Rollout (`canary`). */
export const WORKLOAD_KINDS: readonly string[] = ['Deployment', 'Rollout'];

/** Every Deployment and Rollout in the files. */
export function workloadsOf(files: readonly DistFile[]): DistFile[] {
  return files.filter((f) => WORKLOAD_KINDS.includes(f.obj.kind));
}

/** Result of validating one object against its schema. */
export interface SchemaResult {
  readonly index: number;
  readonly kind: string;
  readonly name: string;
  /** The first schema violation, null when valid. */
  readonly error: string | null;
}

/** Validates objects with kubernetes-models and @kubernetes-models/* (ESM-only, hence a child process). */
export function validateSchemas(objects: readonly unknown[]): SchemaResult[] {
  const out = execFileSync(process.execPath, [join(__dirname, 'validate-schemas.mjs')], {
    input: JSON.stringify(objects),
    encoding: 'utf8',
    timeout: 60_000,
  });
  return JSON.parse(out) as SchemaResult[];
}

/** Loose accessor for nested JSON in assertions (synthesized objects are plain, untyped JSON). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test-only navigation of untyped manifests
export type Json = any;
