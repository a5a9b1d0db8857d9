import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './support/dist';

// `npm run synth` (main.ts) and `npm run synth:check` (synth-check.ts) as real processes in a throw-away git
// repository holding a copy of charts/ and imports/.

let root: string;
const git = (...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.com', ...args], {
    cwd: root,
    encoding: 'utf8',
  });
const run = (script: string) =>
  spawnSync(
    process.execPath,
    [join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), `charts/src/${script}`],
    {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    },
  );

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'charts-main-'));
  cpSync(join(REPO_ROOT, 'charts'), join(root, 'charts'), { recursive: true });
  cpSync(join(REPO_ROOT, 'imports'), join(root, 'imports'), { recursive: true });
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'));
  writeFileSync(join(root, '.gitignore'), 'node_modules\n');
  git('init', '-q');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('synth and synth:check processes', () => {
  it('synth writes dist/<env>/ and argocd/ and reports what it wrote', () => {
    const result = run('main.ts');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('wrote   dist/production/Deployment.cats-dogs-classifier.yaml');
    expect(result.stdout).toContain('wrote   argocd/AppProject.cats-dogs-classifier.yaml');
    expect(readFileSync(join(root, 'dist', 'local', 'Service.cats-dogs-classifier.yaml'), 'utf8')).toContain(
      'type: NodePort',
    );
    git('add', '.');
    git('commit', '-q', '-m', 'synth');
  });

  it('synth:check passes when the committed output is current', () => {
    const result = run('synth-check.ts');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('synth:check: dist/ and argocd/ are up to date');
  });

  it('synth:check fails naming the stale file when a config changed without a re-synth', () => {
    const file = join(root, 'charts', 'environments', 'staging.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('maxReplicas: 10', 'maxReplicas: 12'));
    git('commit', '-q', '-am', 'config only');
    const result = run('synth-check.ts');
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      'synth:check failed: dist/ or argocd/ differ from what charts/ generates',
    );
    expect(result.stderr).toContain('dist/staging/HorizontalPodAutoscaler.cats-dogs-classifier.yaml');
    expect(result.stderr).toContain('Run `npm run synth` and commit the result');
    git('commit', '-q', '-am', 're-synth');
  });

  it('synth:check fails when a generated file was edited by hand', () => {
    const file = join(root, 'dist', 'production', 'ConfigMap.cats-dogs-classifier.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('LOG_LEVEL: info', 'LOG_LEVEL: debug'));
    git('commit', '-q', '-am', 'hand edit');
    const result = run('synth-check.ts');
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('dist/production/ConfigMap.cats-dogs-classifier.yaml');
  });

  it('synth exits 1 with the validation message and writes nothing when a config is invalid', () => {
    git('checkout', '-q', '--', '.');
    const file = join(root, 'charts', 'environments', 'production.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('minAvailable: 2', 'minAvailable: 3'));
    const before = git('status', '--porcelain', '--', 'dist', 'argocd');
    const result = run('main.ts');
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`synth failed: ${file}: invalid environment config`);
    expect(result.stderr).toContain(
      "'podDisruptionBudget.minAvailable' (3) must be < 'autoscaling.minReplicas' (3)",
    );
    expect(git('status', '--porcelain', '--', 'dist', 'argocd')).toBe(before);
  });
});
