import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { synthesize, writeFiles } from '../../../charts/src';
import {
  writeModelPin,
  ENVIRONMENTS,
  modelPinPath,
  type EvaluationPolicyInput,
  type ModelPin,
} from '../../../charts/src/config';
import { parseDocument } from 'yaml';

/** This checkout: the source of the charts config copied into temp repositories. */
export const REPO_ROOT = resolve(__dirname, '..', '..', '..');

/** Runs git in `cwd` and returns trimmed stdout. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } }).trim();
}

/** A bare remote and a clone holding what promote needs: the charts env config, pins and synthesized dist/. */
export interface TempRepo {
  readonly remote: string;
  readonly root: string;
}

/**
 * Creates `<dir>/remote.git` and `<dir>/work` (branch main, origin = the bare remote, pushed). The env configs
 * come from this checkout's charts/; every pin is set to `pin`; dist/ and argocd/ are synthesized by the real
 * charts code.
 */
export function createTempRepo(dir: string, pin: ModelPin): TempRepo {
  const remote = join(dir, 'remote.git');
  const root = join(dir, 'work');
  mkdirSync(root, { recursive: true });
  execFileSync('git', ['init', '--quiet', '--bare', '--initial-branch=main', remote]);
  git(root, 'init', '--quiet', '--initial-branch=main');
  git(root, 'config', 'user.name', 'Test User');
  git(root, 'config', 'user.email', 'test@example.com');
  git(root, 'config', 'commit.gpgsign', 'false');
  const envDir = join(root, 'charts', 'environments');
  mkdirSync(envDir, { recursive: true });
  for (const name of readdirSync(join(REPO_ROOT, 'charts', 'environments'))) {
    if (name.endsWith('.yaml'))
      copyFileSync(join(REPO_ROOT, 'charts', 'environments', name), join(envDir, name));
  }
  copyFileSync(join(REPO_ROOT, 'charts', 'argocd.yaml'), join(root, 'charts', 'argocd.yaml'));
  // The golden set the environment configs' evaluation policies name.
  cpSync(join(REPO_ROOT, 'charts', 'golden-sets'), join(root, 'charts', 'golden-sets'), { recursive: true });
  for (const env of ENVIRONMENTS) writeModelPin(modelPinPath(root, env), pin);
  writeFiles(root, synthesize(root));
  git(root, 'add', '--all');
  git(root, 'commit', '--quiet', '-m', 'initial: charts config, pins and dist');
  git(root, 'remote', 'add', 'origin', remote);
  git(root, 'push', '--quiet', '--set-upstream', 'origin', 'main');
  return { remote, root };
}

/** A second clone of the remote, for simulating someone else pushing. */
export function cloneRepo(remote: string, into: string): string {
  execFileSync('git', ['clone', '--quiet', remote, into]);
  git(into, 'config', 'user.name', 'Other User');
  git(into, 'config', 'user.email', 'other@example.com');
  return into;
}

/**
 * Someone else's push to main: in a fresh clone of `remote` at `into`, writes `file` (relative) with `content`,
 * commits it with `message` and pushes. Returns that commit.
 */
export function pushFromElsewhere(
  remote: string,
  into: string,
  file: string,
  content: string,
  message: string,
): string {
  const other = cloneRepo(remote, into);
  writeFileSync(join(other, file), content);
  git(other, 'add', file);
  git(other, 'commit', '--quiet', '-m', message);
  git(other, 'push', '--quiet', 'origin', 'main');
  return git(other, 'rev-parse', 'HEAD');
}

/** What identifies a working tree's state: HEAD, branches, status (incl. untracked) and any content diff. */
export function treeState(root: string): { head: string; branches: string; status: string; diff: string } {
  return {
    head: git(root, 'rev-parse', 'HEAD'),
    branches: git(root, 'branch', '--list'),
    status: git(root, 'status', '--porcelain', '--untracked-files=all'),
    diff: git(root, 'diff', 'HEAD', '--binary'),
  };
}

/** Replaces keys of an environment's `evaluation` policy in a temp repo (null removes one) and commits. */
export function setEvaluationPolicy(
  root: string,
  env: string,
  policy: { [K in keyof EvaluationPolicyInput]?: EvaluationPolicyInput[K] | null },
  message = `test: evaluation policy of ${env}`,
): void {
  const file = join(root, 'charts', 'environments', `${env}.yaml`);
  const doc = parseDocument(readFileSync(file, 'utf8'));
  for (const [key, value] of Object.entries(policy)) {
    if (value === null) doc.deleteIn(['evaluation', key]);
    else doc.setIn(['evaluation', key], value);
  }
  writeFileSync(file, doc.toString());
  git(root, 'commit', '--quiet', '--all', '-m', message);
}
