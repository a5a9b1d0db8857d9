import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { check, checkExitCode } from '../../src/commands/check';
import { MlflowClient } from '../../src/mlflow';
import { FakeMlflow } from '../support/fake-mlflow';
import { fakeClient, registeredDigests, registerInFake, tinyModel, writeModel } from '../support/models';
import { PROMOTION_TRAILER, REVERTS_TRAILER, ROLLBACK_TRAILER } from '../../src/promotion-history';
import { createTempRepo, git, type TempRepo } from '../support/repo';

const NAME = 'cats-dogs-classifier';
const execFileAsync = promisify(execFile);

describe('check', () => {
  let fake: FakeMlflow;
  let tmp: string;
  let repo: TempRepo;

  beforeEach(async () => {
    fake = await FakeMlflow.start();
    tmp = mkdtempSync(join(tmpdir(), 'check-'));
    writeModel(join(tmp, 'm1'), tinyModel(1));
    writeModel(join(tmp, 'm2'), tinyModel(2));
    await registerInFake(fake, join(tmp, 'm1'), NAME, 'local');
    await registerInFake(fake, join(tmp, 'm2'), NAME, 'production');
    const v1 = registeredDigests(fake, NAME, '1');
    repo = createTempRepo(join(tmp, 'repos'), {
      name: NAME,
      version: '1',
      ...v1,
      source: 'mlflow-artifacts:/1/r/artifacts/model',
    });
  });
  afterEach(async () => {
    await fake.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('reports per environment: in sync, pending, and an alias that is not set', async () => {
    const rows = await check(fakeClient(fake), repo.root);
    expect(rows.map((r) => [r.env, r.status, r.pinned, r.registry])).toEqual([
      ['local', 'in-sync', '1', '1'],
      ['staging', 'unset', '1', undefined],
      ['production', 'pending', '1', '2'],
    ]);
    expect(rows[1]?.detail).toBe("model 'cats-dogs-classifier' has no alias 'staging'");
    expect(rows[2]?.detail).toBe("pinned 1, registry alias 'production' → 2: promotion pending");
    expect(checkExitCode(rows)).toBe(3);
  });

  /** An empty commit with `subject` and `trailers`, as promote and rollback write them; returns its sha. */
  const recordCommit = (subject: string, trailers: string): string => {
    git(repo.root, 'commit', '--quiet', '--allow-empty', '-m', subject, '-m', trailers);
    return git(repo.root, 'rev-parse', 'HEAD');
  };
  const recordPromotion = (from: string, to: string): string =>
    recordCommit(
      `promote(production): ${NAME} ${from} -> ${to}`,
      `${PROMOTION_TRAILER}: production ${NAME} ${from}->${to}`,
    );
  const recordRollback = (env: string, from: string, to: string, reverts: string): string =>
    recordCommit(
      `rollback(${env}): ${NAME} ${from} -> ${to}`,
      `${ROLLBACK_TRAILER}: ${env} ${NAME} ${from}->${to}\n${REVERTS_TRAILER}: ${reverts}`,
    );

  it('reports a version the environment rolled back as rolled-back, not pending, and exits 0', async () => {
    const rollbackCommit = recordRollback('production', '2', '1', recordPromotion('1', '2'));
    const rows = await check(fakeClient(fake), repo.root);
    expect(rows[2]).toEqual({
      env: 'production',
      status: 'rolled-back',
      selector: "alias 'production'",
      pinned: '1',
      registry: '2',
      rollbackCommit,
      detail:
        `pinned 1, registry alias 'production' → 2: version 2 of '${NAME}' was rolled back in production by ` +
        `${rollbackCommit.slice(0, 12)}, so it is not promoted again: register a new version, point alias ` +
        `'production' at another version, or promote it deliberately with 'promote --env production --version 2'`,
    });
    expect(checkExitCode(rows)).toBe(0);
  });

  it('still reports pending a version rolled back only in another environment, or promoted again since', async () => {
    const promotion = recordPromotion('1', '2');
    recordRollback('staging', '2', '1', promotion);
    expect((await check(fakeClient(fake), repo.root))[2]?.status).toBe('pending');
    recordRollback('production', '2', '1', promotion);
    expect((await check(fakeClient(fake), repo.root))[2]?.status).toBe('rolled-back');
    // Someone promoted version 2 deliberately (--version) after the rollback, then another version replaced it.
    recordPromotion('1', '2');
    recordPromotion('2', '1');
    expect((await check(fakeClient(fake), repo.root))[2]?.status).toBe('pending');
  });

  it('fails (exit 1) for the environment whose history it needs when the clone is shallow', async () => {
    recordRollback('production', '2', '1', recordPromotion('1', '2'));
    git(repo.root, 'push', '--quiet', 'origin', 'main');
    const shallow = join(tmp, 'shallow');
    git(tmp, 'clone', '--quiet', '--depth', '1', `file://${repo.remote}`, shallow);
    const rows = await check(fakeClient(fake), shallow);
    expect(rows.map((r) => r.status)).toEqual(['in-sync', 'unset', 'error']);
    expect(rows[2]?.detail).toMatch(/shallow clone.*fetch-depth: 0/);
    expect(checkExitCode(rows)).toBe(1);
  });

  it('exits 0 when everything is in sync', async () => {
    const client = fakeClient(fake);
    await client.setAlias(NAME, 'production', '1');
    expect(checkExitCode(await check(client, repo.root))).toBe(0);
  });

  it('fails (exit 1) when the registry answers 401, keeping the message per environment', async () => {
    fake.requiredAuthorization = 'Bearer right';
    const rows = await check(fakeClient(fake), repo.root);
    expect(rows.every((r) => r.status === 'error' && /HTTP 401/.test(r.detail))).toBe(true);
    expect(checkExitCode(rows)).toBe(1);
  });

  it('fails (exit 1), not unset, when the model is not in the registry', async () => {
    const empty = await FakeMlflow.start();
    try {
      const rows = await check(fakeClient(empty), repo.root);
      expect(rows.map((r) => r.status)).toEqual(['error', 'error', 'error']);
      expect(rows[0]?.detail).toMatch(/not found \(RESOURCE_DOES_NOT_EXIST\)/);
      expect(checkExitCode(rows)).toBe(1);
    } finally {
      await empty.stop();
    }
  });

  it('fails (exit 1), not unset, when MLFLOW_TRACKING_URI is not a tracking server (an HTML 404)', async () => {
    const wrong = new MlflowClient({ connection: { baseUrl: `${fake.url}/not-mlflow` }, retries: 0 });
    const rows = await check(wrong, repo.root);
    expect(rows.map((r) => r.status)).toEqual(['error', 'error', 'error']);
    expect(rows[0]?.detail).toMatch(/HTTP 404 without an MLflow error body/);
    expect(checkExitCode(rows)).toBe(1);
  });

  it('runs as a CLI: one line per environment and exit code 3 when a promotion is pending', async () => {
    const cli = [require.resolve('tsx/cli'), join(__dirname, '../../src/cli.ts'), 'check'];
    const result = await execFileAsync(process.execPath, cli, {
      cwd: repo.root,
      env: { ...process.env, MLFLOW_TRACKING_URI: fake.url },
    }).catch((e: { code: number; stdout: string }) => e);
    expect(result).toMatchObject({ code: 3 });
    expect(result.stdout.split('\n')).toEqual([
      "local: in-sync: pinned 1 = registry alias 'local'",
      "staging: unset: model 'cats-dogs-classifier' has no alias 'staging'",
      "production: pending: pinned 1, registry alias 'production' → 2: promotion pending",
      '',
    ]);
  });

  it('runs as a CLI: --json names the rollback commit of a rolled-back version, exit 0', async () => {
    const rollbackCommit = recordRollback('production', '2', '1', recordPromotion('1', '2'));
    const cli = [require.resolve('tsx/cli'), join(__dirname, '../../src/cli.ts'), 'check', '--json'];
    const result = await execFileAsync(process.execPath, cli, {
      cwd: repo.root,
      env: { ...process.env, MLFLOW_TRACKING_URI: fake.url },
    });
    const rows = JSON.parse(result.stdout) as Array<Record<string, unknown>>;
    expect(rows[2]).toMatchObject({
      env: 'production',
      status: 'rolled-back',
      registry: '2',
      rollbackCommit,
    });
  });
});
