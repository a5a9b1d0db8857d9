import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Strict validation against the Kubernetes v1.28.0 OpenAPI definitions (a subset kept in
 * `../fixtures/k8s-1.28-definitions.json`): types, enums, required fields, and — like
 * `kubectl apply --validate=strict` on a 1.28 API server — no field the 1.28 API does not know.
 */

type Schema = {
  $ref?: string;
  type?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  oneOf?: Schema[];
  'x-kubernetes-group-version-kind'?: { group: string; version: string; kind: string }[];
};

const DEFINITIONS = (
  JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'k8s-1.28-definitions.json'), 'utf8')) as {
    definitions: Record<string, Schema>;
  }
).definitions;

function rootFor(apiVersion: string, kind: string): Schema | undefined {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  return Object.values(DEFINITIONS).find((s) =>
    (s['x-kubernetes-group-version-kind'] ?? []).some(
      (g) => g.group === group && g.version === version && g.kind === kind,
    ),
  );
}

function walk(value: unknown, schema: Schema, path: string, errors: string[]): void {
  if (schema.$ref) {
    walk(value, DEFINITIONS[schema.$ref.split('/').pop()!]!, path, errors);
    return;
  }
  if (schema.oneOf) {
    const fits = schema.oneOf.some((branch) => {
      const e: string[] = [];
      walk(value, branch, path, e);
      return e.length === 0;
    });
    if (!fits) errors.push(`${path}: ${JSON.stringify(value)} fits none of the allowed types`);
    return;
  }
  if (schema.enum && !schema.enum.includes(value)) {
    errors.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  }
  switch (schema.type) {
    case 'string':
      if (typeof value !== 'string') errors.push(`${path}: must be a string`);
      return;
    case 'integer':
      if (!Number.isInteger(value)) errors.push(`${path}: must be an integer`);
      return;
    case 'number':
      if (typeof value !== 'number') errors.push(`${path}: must be a number`);
      return;
    case 'boolean':
      if (typeof value !== 'boolean') errors.push(`${path}: must be a boolean`);
      return;
    case 'array':
      if (!Array.isArray(value)) errors.push(`${path}: must be an array`);
      else if (schema.items) value.forEach((v, i) => walk(v, schema.items!, `${path}[${i}]`, errors));
      return;
    case 'object': {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        errors.push(`${path}: must be an object`);
        return;
      }
      const record = value as Record<string, unknown>;
      for (const key of schema.required ?? []) {
        if (!(key in record)) errors.push(`${path}.${key}: required`);
      }
      for (const [key, v] of Object.entries(record)) {
        const property = schema.properties?.[key];
        if (property) walk(v, property, `${path}.${key}`, errors);
        else if (typeof schema.additionalProperties === 'object')
          walk(v, schema.additionalProperties, `${path}.${key}`, errors);
        else if (schema.properties) errors.push(`${path}.${key}: unknown field in Kubernetes 1.28`);
      }
      return;
    }
    default:
      return; // free-form (e.g. RawExtension)
  }
}

/** Errors of one object against the Kubernetes 1.28 schema; `undefined` when 1.28 has no such kind here. */
export function validateK8s128(obj: { apiVersion: string; kind: string }): string[] | undefined {
  const root = rootFor(obj.apiVersion, obj.kind);
  if (!root) return undefined;
  const errors: string[] = [];
  walk(obj, root, obj.kind, errors);
  return errors;
}
