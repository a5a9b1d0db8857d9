import { App, Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { KubeObject, synthesize, synthObjects } from '../src/synth';
import { Json, REPO_ROOT } from './support/dist';
import { parse } from 'yaml';

// Credentials never reach dist/: pods reference Secrets by name, and no synthesized Secret carries a value.

/** Secrets with `data`/`stringData`, and env vars with a literal value whose name looks like a credential. */
function secretValues(objects: readonly KubeObject[]): string[] {
  const found: string[] = [];
  for (const obj of objects) {
    const o = obj as Json;
    if (o.kind === 'Secret' && (o.data !== undefined || o.stringData !== undefined)) {
      found.push(`Secret ${o.metadata.name} carries data`);
    }
    const spec = o.spec?.template?.spec;
    for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) {
      for (const e of c.env ?? []) {
        if (/TOKEN|PASSWORD|SECRET|KEY/.test(e.name) && e.value !== undefined) {
          found.push(`${o.metadata.name}/${c.name} sets ${e.name} literally`);
        }
      }
    }
  }
  return found;
}

describe('secrets in synthesized output', () => {
  const objects = [...synthesize(REPO_ROOT).values()].map((text) => parse(text) as KubeObject);

  it('no Secret carries data or stringData and no credential variable has a literal value', () => {
    expect(objects.length).toBeGreaterThan(0);
    expect(secretValues(objects)).toEqual([]);
  });

  it('every credential variable is read from a Secret by name', () => {
    const refs = objects
      .flatMap((o) => {
        const spec = (o as Json).spec?.template?.spec;
        return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
      })
      .flatMap((c: Json) => c.env ?? [])
      .filter((e: Json) => /TOKEN|PASSWORD|SECRET/.test(e.name));
    expect(refs.length).toBeGreaterThan(0);
    for (const e of refs) expect(e.valueFrom.secretKeyRef.name).toMatch(/^[a-z0-9-]+$/);
  });

  it('fails when a chart synthesizes a Secret with a value', () => {
    const app = new App();
    const chart = new Chart(app, 'leak');
    new kplus.Secret(chart, 'S', { metadata: { name: 'leak' }, stringData: { GITHUB_TOKEN: 'ghp_example' } });
    expect(secretValues(synthObjects(app))).toEqual(['Secret leak carries data']);
  });
});
