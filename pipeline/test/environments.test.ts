import { mkdtempSync, rmSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeSelector, environmentSelector } from '../src/environments';
import { REPO_ROOT } from './support/repo';

describe('environment selectors', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'envs-'));
    mkdirSync(join(tmp, 'charts', 'environments'), { recursive: true });
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it('reads the alias an environment follows from charts/environments/<env>.yaml', async () => {
    copyFileSync(
      join(REPO_ROOT, 'charts/environments/production.yaml'),
      join(tmp, 'charts/environments/production.yaml'),
    );
    expect(await environmentSelector(tmp, 'production')).toEqual({ kind: 'alias', value: 'production' });
  });

  it('has no selector for an environment serving the baked model', async () => {
    writeFileSync(
      join(tmp, 'charts/environments/local.yaml'),
      'image: ghcr.io/example/model-gitops:0.1.0\nmodel:\n  from: baked\nreplicas: 1\n' +
        'argocd:\n  destinationServer: https://kubernetes.default.svc\n',
    );
    expect(await environmentSelector(tmp, 'local')).toBeUndefined();
  });

  it('describes selectors in words', () => {
    expect(describeSelector({ kind: 'alias', value: 'production' })).toBe("alias 'production'");
    expect(describeSelector({ kind: 'stage', value: 'Staging' })).toBe("stage 'Staging'");
    expect(describeSelector({ kind: 'version', value: '3' })).toBe('version 3');
  });
});
