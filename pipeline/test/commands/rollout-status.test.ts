/**
 * @jest-environment ./test/support/ort-environment.js
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { promote } from '../../src/commands/promote';
import { judgeRollout } from '../../src/commands/rollout-status';
import { FakeMlflow } from '../support/fake-mlflow';
import { fakeClient } from '../support/models';
import { startPromotionFixture } from '../support/promotion-fixture';
import { git, pushFromElsewhere, type TempRepo } from '../support/repo';
import { runCli } from '../support/cli-process';

const NAME = 'cats-dogs-classifier';

/** The pod template of a synthesized workload (what the Rollout carries), as kubectl would return it. */
type Template = { spec: { initContainers?: Array<{ command?: string[]; args?: string[] }> } };

/** A Rollout as `kubectl get rollout -o json` prints it, with the given template and status. */
function rolloutJson(
  template: Template,
  status: Record<string, unknown>,
  generation = 4,
): Record<string, unknown> {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: NAME, namespace: NAME, generation },
    spec: { template },
    status: { observedGeneration: String(generation), ...status },
  };
}

const templateAt = (version: string): Template => ({
  spec: {
    initContainers: [
      {
        command: ['node', '/app/build/pipeline/src/cli.js', 'model-fetch'],
        args: ['--name', NAME, '--version', version],
      },
    ],
  },
});

const STATUS = {
  promoted: { phase: 'Healthy', currentPodHash: '6d5f8c7b9', stableRS: '6d5f8c7b9' },
  aborted: {
    phase: 'Degraded',
    abort: true,
    message:
      'RolloutAborted: Rollout aborted update to revision 4: Metric "prediction-mix-distance" assessed Failed',
    currentPodHash: '6d5f8c7b9',
    stableRS: '58b9d7f4c',
  },
  paused: {
    phase: 'Paused',
    pauseConditions: [{ reason: 'CanaryPauseStep', startTime: '2026-11-29T10:00:00Z' }],
    currentPodHash: '6d5f8c7b9',
    stableRS: '58b9d7f4c',
  },
  inconclusive: {
    phase: 'Paused',
    // PauseReasonInconclusiveAnalysis in Argo Rollouts' API (pkg/apis/rollouts/v1alpha1/types.go)
    pauseConditions: [{ reason: 'InconclusiveAnalysisRun', startTime: '2026-11-29T10:00:00Z' }],
    currentPodHash: '6d5f8c7b9',
    stableRS: '58b9d7f4c',
  },
};

describe('judgeRollout', () => {
  it.each([
    ['promoted', STATUS.promoted, 'promoted'],
    ['aborted by a failed analysis', STATUS.aborted, 'aborted'],
    ['Degraded without the abort flag', { ...STATUS.aborted, abort: undefined }, 'aborted'],
    ['paused on a canary step', STATUS.paused, 'progressing'],
    ['paused on an inconclusive analysis', STATUS.inconclusive, 'inconclusive'],
    [
      'Healthy but the stable ReplicaSet is still the old one',
      { ...STATUS.promoted, stableRS: '58b9d7f4c' },
      'progressing',
    ],
  ])('%s → %s', (_case, status, verdict) => {
    expect(judgeRollout(rolloutJson(templateAt('2'), status), '2').verdict).toBe(verdict);
  });

  it('reads the version written as --version=2 too', () => {
    const rollout = rolloutJson(templateAt('2'), STATUS.promoted) as {
      spec: { template: { spec: { initContainers: { args: string[] }[] } } };
    };
    const init = rollout.spec.template.spec.initContainers[0]!;
    const i = init.args.indexOf('--version');
    init.args.splice(i, 2, '--version=2');
    expect(judgeRollout(rollout as never, '2').verdict).toBe('promoted');
  });

  it('says syncing while the Rollout still fetches another version', () => {
    const j = judgeRollout(rolloutJson(templateAt('1'), STATUS.promoted), '2');
    expect(j).toEqual({
      verdict: 'syncing',
      detail: `Rollout ${NAME} fetches version 1, not 2: Argo CD has not synced it yet`,
    });
  });

  it('says progressing while the controller has not observed the latest generation', () => {
    const json = rolloutJson(templateAt('2'), { ...STATUS.aborted, observedGeneration: '3' });
    expect(judgeRollout(json, '2').verdict).toBe('progressing');
  });
});

describe('rollout-status: an aborted canary is reverted in git (real repositories, the real CLI)', () => {
  let fake: FakeMlflow;
  let tmp: string;
  let repo: TempRepo;
  let initial: string;
  let promotion: string;

  beforeAll(async () => {
    ({ fake, tmp, repo } = await startPromotionFixture(NAME, 'rollout-status-'));
    initial = git(repo.root, 'rev-parse', 'HEAD');
    await promote(fakeClient(fake), { cwd: repo.root, env: 'production', push: true, log: () => undefined });
    promotion = git(repo.root, 'rev-parse', 'HEAD');
  });
  afterAll(async () => {
    await fake.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  /** The pod template synthesized into dist/production at HEAD: what Argo CD gives the Rollout. */
  const distTemplate = (): Template =>
    (
      parse(readFileSync(join(repo.root, 'dist', 'production', `Deployment.${NAME}.yaml`), 'utf8')) as {
        spec: { template: Template };
      }
    ).spec.template;

  async function cli(
    status: unknown,
    ...extra: string[]
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    const file = join(tmp, 'rollout.json');
    writeFileSync(file, typeof status === 'string' ? status : JSON.stringify(status));
    const args = [
      'rollout-status',
      '--env',
      'production',
      '--expect-version',
      '2',
      '--status-file',
      file,
      ...extra,
    ];
    return runCli(args, { cwd: repo.root });
  }

  it('makes no commit while the canary progresses (exit 3) or once it is promoted (exit 0)', async () => {
    const progressing = await cli(
      rolloutJson(distTemplate(), STATUS.paused),
      '--rollback-on-abort',
      '--push',
    );
    expect([progressing.code, progressing.stdout.trim()]).toEqual([3, 'progressing']);
    const promoted = await cli(rolloutJson(distTemplate(), STATUS.promoted), '--rollback-on-abort', '--push');
    expect([promoted.code, promoted.stdout.trim()]).toEqual([0, 'promoted']);
    expect(git(repo.remote, 'rev-parse', 'main')).toBe(promotion);
  });

  it('on an abort, commits and pushes the rollback on top of what reached main since: the pin and dist/ are back to the previous version', async () => {
    // Someone pushed to main after this checkout (as during verify-deploy's wait): the push race is won.
    pushFromElsewhere(
      repo.remote,
      join(tmp, 'other'),
      'NOTES.md',
      'pushed while the canary ran\n',
      'notes: pushed while the canary ran',
    );

    const res = await cli(rolloutJson(distTemplate(), STATUS.aborted), '--rollback-on-abort', '--push');
    expect([res.code, res.stdout.trim()]).toEqual([1, 'aborted']);
    expect(res.stderr).toContain('Metric "prediction-mix-distance" assessed Failed');
    expect(res.stderr).toContain(
      'rollback: origin/main moved on (push rejected); re-applying on top of it (1/3)',
    );

    // What a reviewer sees on main: the promotion, the other push, then the bot's rollback naming the promotion.
    const head = git(repo.remote, 'rev-parse', 'main');
    expect(git(repo.remote, 'log', '--format=%s', `${initial}..main`).split('\n')).toEqual([
      `rollback(production): ${NAME} 2 -> 1`,
      'notes: pushed while the canary ran',
      `promote(production): ${NAME} 1 -> 2`,
    ]);
    expect(
      git(repo.remote, 'log', '-1', '--format=%(trailers:key=Reverts-Promotion,valueonly)', 'main'),
    ).toBe(promotion);
    // The rollback restores exactly the pre-promotion pin and manifests (and keeps the other push).
    expect(git(repo.remote, 'diff', '--name-only', initial, head)).toBe('NOTES.md');
    expect(
      JSON.parse(readFileSync(join(repo.root, 'charts/environments/production.model.json'), 'utf8')).version,
    ).toBe('1');
  });

  it('does not roll back twice: the same aborted status again finds the pin already reverted', async () => {
    const head = git(repo.remote, 'rev-parse', 'main');
    const res = await cli(rolloutJson(templateAt('2'), STATUS.aborted), '--rollback-on-abort', '--push');
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('not rolling back: production is pinned to version 1 now, not 2');
    expect(git(repo.remote, 'rev-parse', 'main')).toBe(head);
  });

  it('fails naming the file when the status is not a Rollout', async () => {
    const notJson = await cli('{"kind":');
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toMatch(/rollout\.json is not JSON .*kubectl get rollout <name> -o json/);
    const deployment = await cli({ kind: 'Deployment' });
    expect(deployment.stderr).toContain('is not a Rollout as kubectl prints it (kind "Deployment")');
    const oddField = await cli({ kind: 'Rollout', status: { pauseConditions: [null] } });
    expect(oddField.code).toBe(1);
    expect(oddField.stderr).toContain(
      "is not a Rollout as kubectl prints it ('status.pauseConditions.0' Invalid input: expected object, received null)",
    );
  });
});
