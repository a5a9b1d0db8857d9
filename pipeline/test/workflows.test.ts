import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { parse, parseAllDocuments } from 'yaml';
import { ENVIRONMENTS } from '../../charts/src/config';
import { buildProgram } from '../src/cli';
import { ROLLBACK_TRAILER } from '../src/promotion-history';
import { randomUUID } from 'node:crypto';
import { loadRelayConfig } from '../src/relay/config';
import { PROMOTION_EVENT_TYPE, PROMOTION_PAYLOAD_FIELDS } from '../src/relay/github';
import { createRelayLogger, startRelay } from '../src/relay/server';
import { GitHubStandIn, fixtureBody, mlflowHeaders } from './fixtures/webhooks/stand-ins';

const ROOT = join(__dirname, '..', '..');
const WORKFLOW_DIR = join(ROOT, '.github', 'workflows');
const BOT_EMAIL = 'model-gitops-bot@users.noreply.github.com';

/** Secrets the workflows may use; each must be documented in .github/WORKFLOWS.md. */
const KNOWN_SECRETS = [
  'GITHUB_TOKEN',
  'PROMOTION_BOT_TOKEN',
  'MLFLOW_TRACKING_URI',
  'MLFLOW_TRACKING_TOKEN',
  'MLFLOW_TRACKING_USERNAME',
  'MLFLOW_TRACKING_PASSWORD',
  'KUBE_CONFIG',
];

interface Step {
  name?: string;
  id?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  if?: string;
  needs?: string | string[];
  'timeout-minutes'?: number;
  concurrency?: { group: string; 'cancel-in-progress'?: boolean | string };
  permissions?: Record<string, string>;
  environment?: string;
  strategy?: { matrix?: Record<string, unknown> };
  steps: Step[];
}
interface Workflow {
  name: string;
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  concurrency?: unknown;
  env?: Record<string, string>;
  jobs: Record<string, Job>;
}

function text(file: string): string {
  return readFileSync(join(WORKFLOW_DIR, file), 'utf8');
}
function load(file: string): Workflow {
  return parse(text(file)) as Workflow;
}
function steps(workflow: Workflow): Step[] {
  return Object.values(workflow.jobs).flatMap((job) => job.steps);
}
function runScripts(workflow: Workflow): string {
  return steps(workflow)
    .map((s) => s.run ?? '')
    .join('\n');
}
function stepUsing(workflow: Workflow, action: string): Step {
  const step = steps(workflow).find((s) => s.uses?.startsWith(`${action}@`));
  if (!step) throw new Error(`no step uses ${action}`);
  return step;
}

const FILES = readdirSync(WORKFLOW_DIR).filter((f) => /\.ya?ml$/.test(f));

describe('workflow files', () => {
  test('exactly ci.yml, promote.yml and verify-deploy.yml exist', () => {
    expect(FILES.sort()).toEqual(['ci.yml', 'promote.yml', 'verify-deploy.yml']);
  });

  test.each(FILES)('%s is one valid YAML document with name, triggers and jobs', (file) => {
    const docs = parseAllDocuments(text(file));
    expect(docs).toHaveLength(1);
    expect(docs[0].errors).toEqual([]);
    const workflow = load(file);
    expect(typeof workflow.name).toBe('string');
    expect(Object.keys(workflow.on).length).toBeGreaterThan(0);
    for (const [id, job] of Object.entries(workflow.jobs)) {
      expect(Array.isArray(job.steps) && job.steps.length > 0).toBe(true);
      expect([id, job['timeout-minutes']]).toEqual([id, expect.any(Number)]);
    }
  });

  test.each(FILES)('%s never leaves a token in the checkout (persist-credentials: false)', (file) => {
    for (const step of steps(load(file))) {
      if (step.uses?.startsWith('actions/checkout@')) expect(step.with?.['persist-credentials']).toBe(false);
    }
  });

  test.each(FILES)('%s declares least-privilege token permissions at the top', (file) => {
    expect(load(file).permissions).toEqual({ contents: 'read' });
  });

  test.each(FILES)('%s pins every action to an exact version or a commit', (file) => {
    for (const step of steps(load(file))) {
      if (!step.uses) continue;
      expect(step.uses).toMatch(/^[\w.-]+\/[\w./-]+@(v\d+\.\d+\.\d+|[0-9a-f]{40})$/);
    }
  });

  test.each(FILES)('%s never expands ${{ }} inside a shell script (script injection)', (file) => {
    for (const step of steps(load(file))) {
      expect([step.name ?? step.id, step.run ?? '']).toEqual([
        step.name ?? step.id,
        expect.not.stringContaining('${{'),
      ]);
    }
  });

  test.each(FILES)('%s uses only documented secrets and contains no credential', (file) => {
    const content = text(file);
    const used = [...content.matchAll(/secrets\.([A-Z0-9_]+)/g)].map((m) => m[1]);
    expect(used.filter((s) => !KNOWN_SECRETS.includes(s))).toEqual([]);
    expect(content).not.toMatch(/gh[pousr]_[A-Za-z0-9]{20,}|github_pat_|-----BEGIN|password:\s*[^$\s]/i);
    const docs = readFileSync(join(ROOT, '.github', 'WORKFLOWS.md'), 'utf8');
    for (const secret of new Set(used))
      expect([secret, docs.includes(`\`${secret}\``)]).toEqual([secret, true]);
  });
});

describe('every script and CLI command the workflows call exists', () => {
  const scripts = (
    JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  ).scripts;
  const program = buildProgram();
  const commands = new Map<string, Command>(program.commands.map((c) => [c.name(), c]));

  test.each(FILES)('%s: every `npm run X` is a package.json script', (file) => {
    const called = [...runScripts(load(file)).matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]);
    expect(called.filter((name) => !(name in scripts))).toEqual([]);
  });

  test.each(FILES)('%s: every `npx model-gitops <command>` is a CLI command', (file) => {
    const called = [...runScripts(load(file)).matchAll(/npx model-gitops ([\w-]+)/g)].map((m) => m[1]);
    expect(called.filter((name) => !commands.has(name))).toEqual([]);
  });

  test.each([
    ['promote', ['--env', '--push', '--version', '--alias']],
    ['rollback', ['--env', '--push']],
    ['smoke', ['--url', '--expect-version', '--evidence']],
    ['check', ['--json']],
  ])('`%s` accepts the flags the workflows pass: %j', (name, flags) => {
    const command = commands.get(name);
    expect(command).toBeDefined();
    const known = new Set(command?.options.map((o) => o.long));
    expect(flags.filter((f) => !known.has(f))).toEqual([]);
  });

  test('the relay Deployment in dist/ runs a command the CLI has', () => {
    const file = join(ROOT, 'dist', 'production', 'Deployment.model-gitops-webhook-relay.yaml');
    const deployment = parse(readFileSync(file, 'utf8')) as {
      spec: { template: { spec: { containers: Array<{ command?: string[] }> } } };
    };
    const command = deployment.spec.template.spec.containers[0]?.command ?? [];
    const cli = command.indexOf('/app/build/pipeline/src/cli.js');
    expect(command[0]).toBe('node');
    expect(cli).toBeGreaterThan(0); // node flags may come between
    expect(commands.has(command[cli + 1] ?? '')).toBe(true);
  });
});

describe('ci.yml', () => {
  const ci = load('ci.yml');
  const scripts = runScripts(ci);

  test('runs on pull requests and pushes to main', () => {
    expect(ci.on).toHaveProperty('pull_request');
    expect(ci.on.push).toEqual({ branches: ['main'] });
  });

  test('installs with npm ci, then lints, typechecks, tests and fails on a stale dist/', () => {
    const order = ['npm ci', 'npm run lint', 'npm run typecheck', 'npm test', 'npm run synth:check'].map(
      (c) => scripts.indexOf(c),
    );
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  test('builds service/Dockerfile with Buildx and the GitHub Actions cache', () => {
    stepUsing(ci, 'docker/setup-buildx-action');
    const build = stepUsing(ci, 'docker/build-push-action');
    expect(build.with?.file).toBe('service/Dockerfile');
    expect(build.with?.['cache-from']).toBe('type=gha');
    expect(build.with?.['cache-to']).toBe('type=gha,mode=max');
    expect(build.with?.push).toBe(false);
  });

  test('scans the built image with Trivy and fails on HIGH/CRITICAL', () => {
    const scan = stepUsing(ci, 'aquasecurity/trivy-action');
    expect(scan.with).toMatchObject({ severity: 'HIGH,CRITICAL', 'exit-code': '1' });
    expect(scan.with?.['image-ref']).toBe(stepUsing(ci, 'docker/build-push-action').with?.tags);
  });

  test('pushes to GHCR tagged with the commit SHA, on main only, after the scan', () => {
    const image = ci.jobs.image;
    const names = image.steps.map((s) => s.uses ?? s.run ?? '');
    const push = image.steps.find((s) => s.run?.includes('docker push'));
    const login = stepUsing(ci, 'docker/login-action');
    expect(push?.if).toBe("github.event_name == 'push' && github.ref == 'refs/heads/main'");
    expect(login.if).toBe(push?.if);
    expect(login.with?.registry).toBe('ghcr.io');
    expect(image.steps.find((s) => s.id === 'image')?.run).toContain(
      'ghcr.io/${GITHUB_REPOSITORY,,}:${GITHUB_SHA}',
    );
    expect(names.findIndex((n) => n.startsWith('aquasecurity/'))).toBeLessThan(
      image.steps.findIndex((s) => s === push),
    );
    expect(image.permissions).toEqual({ contents: 'read', packages: 'write' });
  });

  test("skips the image for the bot's promotion commits, but not the checks", () => {
    expect(ci.jobs.image.if).toContain(`github.event.head_commit.author.email != '${BOT_EMAIL}'`);
    expect(ci.jobs.checks.if).toBeUndefined();
  });
});

describe('promote.yml', () => {
  const promote = load('promote.yml');
  const scripts = runScripts(promote);

  test('listens for the event type the relay sends, a schedule and manual dispatch — never a push', () => {
    expect(promote.on.repository_dispatch).toEqual({ types: [PROMOTION_EVENT_TYPE] });
    expect(promote.on.schedule).toEqual([{ cron: expect.stringMatching(/^\S+ \S+ \S+ \S+ \S+$/) }]);
    expect(Object.keys(promote.on).sort()).toEqual(['repository_dispatch', 'schedule', 'workflow_dispatch']);
  });

  test('manual dispatch takes an environment of the kit and an optional version or alias', () => {
    const inputs = (
      promote.on.workflow_dispatch as { inputs: Record<string, { required: boolean; options?: string[] }> }
    ).inputs;
    expect(Object.keys(inputs).sort()).toEqual(['alias', 'environment', 'version']);
    expect(inputs.environment.required).toBe(true);
    expect(inputs.environment.options?.every((e) => (ENVIRONMENTS as readonly string[]).includes(e))).toBe(
      true,
    );
    expect(inputs.version.required).toBe(false);
    expect(inputs.alias.required).toBe(false);
  });

  test('reads only client_payload fields the relay sends', () => {
    const fields = [...text('promote.yml').matchAll(/client_payload\.(\w+)/g)].map((m) => m[1]);
    expect(fields.length).toBeGreaterThan(0);
    expect(fields.filter((f) => !(PROMOTION_PAYLOAD_FIELDS as readonly string[]).includes(f))).toEqual([]);
  });

  test('the schedule runs check and promotes only the pending environments', () => {
    const check = promote.jobs.plan.steps.find((s) => s.run?.includes('npx model-gitops check --json'));
    expect(check?.if).toBe("github.event_name == 'schedule'");
    expect(check?.run).toContain('select(.status == "pending")');
    const plan = promote.jobs.plan.steps.find((s) => s.id === 'plan');
    expect(plan?.env?.PENDING).toBe('${{ steps.check.outputs.pending }}');
  });

  test('the schedule checks out the full history: check reads the rollback commits in it', () => {
    const checkout = promote.jobs.plan.steps.find((s) => s.uses?.startsWith('actions/checkout@'));
    expect(checkout?.with?.['fetch-depth']).toBe(0);
  });

  test('one concurrency group per environment, queued rather than cancelled', () => {
    expect(promote.jobs.promote.concurrency).toEqual({
      group: 'promote-${{ matrix.target.environment }}',
      'cancel-in-progress': false,
    });
  });

  test('promotes with --push as the bot, using the bot token so verify-deploy runs on the commit', () => {
    expect(scripts).toContain('npx model-gitops promote "${args[@]}"');
    expect(scripts).toContain('args=(--env "$TARGET_ENVIRONMENT" --push)');
    expect(scripts).toContain(`git config user.email ${BOT_EMAIL}`);
    const steps = promote.jobs.promote.steps;
    const checkout = steps.find((s) => s.uses?.startsWith('actions/checkout@'));
    expect(checkout?.with?.ref).toBe('main');
    // The push credential is added only after `npm ci`: dependency install scripts never see it.
    expect(checkout?.with?.['persist-credentials']).toBe(false);
    const credential = steps.findIndex((s) => s.env?.BOT_TOKEN === '${{ secrets.PROMOTION_BOT_TOKEN }}');
    expect(steps[credential]?.run).toContain(
      'git remote set-url origin "https://x-access-token:${BOT_TOKEN}@',
    );
    expect(credential).toBeGreaterThan(steps.findIndex((s) => s.run?.includes('npm ci')));
  });
});

describe('verify-deploy.yml', () => {
  const verify = load('verify-deploy.yml');
  const job = verify.jobs.verify;
  const byId = (id: string) => job.steps.find((s) => s.id === id);

  test('runs on pushes to main that touch a model pin', () => {
    expect(verify.on).toEqual({ push: { branches: ['main'], paths: ['charts/environments/*.model.json'] } });
  });

  test('waits for the rollout with kubectl using the KUBE_CONFIG secret', () => {
    const credentials = job.steps.find((s) => s.env?.KUBE_CONFIG);
    expect(credentials?.env?.KUBE_CONFIG).toBe('${{ secrets.KUBE_CONFIG }}');
    expect(byId('rollout')?.run).toContain('rollout status "deployment/$DEPLOYMENT"');
  });

  test('smoke-tests the expected version, then rolls back with --push on failure (never a rollback of a rollback)', () => {
    expect(byId('smoke')?.run).toContain(
      'npx model-gitops smoke --url http://127.0.0.1:18000 --expect-version "$VERSION"',
    );
    expect(byId('rollback')?.run).toContain('npx model-gitops rollback --env "$TARGET_ENVIRONMENT" --push');
    expect(byId('rollback')?.if).toContain('failure()');
    expect(byId('rollback')?.env?.BOT_TOKEN).toBe('${{ secrets.PROMOTION_BOT_TOKEN }}');
    expect(byId('rollback')?.if).toContain("steps.expect.outputs.is_rollback == 'false'");
    expect(byId('expect')?.run).toContain(`trailers:key=${ROLLBACK_TRAILER},valueonly`);
  });

  test('follows a canary environment’s Rollout with rollout-status and reverts only an aborted canary in git', () => {
    const rollout = byId('rollout')?.run ?? '';
    expect(rollout).toContain('if [ -f "dist/${TARGET_ENVIRONMENT}/Rollout.${DEPLOYMENT}.yaml" ]; then');
    expect(rollout).toContain('kubectl -n "$NAMESPACE" get rollout "$DEPLOYMENT" -o json');
    expect(rollout).toContain(
      'npx model-gitops rollout-status --env "$TARGET_ENVIRONMENT" --expect-version "$VERSION"',
    );
    const back = byId('rollback');
    expect(back?.run).toContain('--status-file "$RUNNER_TEMP/rollout.json" --rollback-on-abort --push');
    expect(back?.env?.DELIVERY).toBe('${{ steps.rollout.outputs.delivery }}');
  });

  test('rolls back only when the rollout or the smoke test failed, not when setup failed', () => {
    const condition = byId('rollback')?.if ?? '';
    expect(condition).toContain("(steps.rollout.outcome == 'failure' || steps.smoke.outcome == 'failure')");
    // Every step before the rollout (install, kubectl, credentials) may fail without reverting the model.
    const setup = job.steps.slice(0, job.steps.indexOf(byId('rollout') as Step));
    expect(setup.some((s) => s.env?.KUBE_CONFIG)).toBe(true);
    expect(setup.some((s) => s.run?.includes('npm ci'))).toBe(true);
    // rollback re-synthesizes from git and never calls MLflow: no MLflow credential in that step.
    expect(Object.keys(byId('rollback')?.env ?? {}).sort()).toEqual([
      'BOT_TOKEN',
      'DELIVERY',
      'SMOKE',
      'VERSION',
    ]);
  });

  test('reports a failure', () => {
    const report = job.steps.find((s) => s.name === 'Report');
    expect(report?.if).toBe('failure()');
    expect(report?.run).toContain('gh issue create');
    expect(job.permissions).toEqual({ contents: 'read', issues: 'write' });
  });

  test('one verification per environment at a time', () => {
    expect(job.concurrency).toEqual({
      group: 'verify-deploy-${{ matrix.environment }}',
      'cancel-in-progress': false,
    });
  });

  test.each(['staging', 'production'])(
    'the Deployment or Rollout it watches in %s exists in dist/, fetches the pinned version and listens on 8000',
    (env) => {
      // The rollout step looks for the Rollout file to tell a canary environment from a rolling one.
      const rollout = join(ROOT, 'dist', env, `Rollout.${verify.env?.DEPLOYMENT}.yaml`);
      const file = existsSync(rollout)
        ? rollout
        : join(ROOT, 'dist', env, `Deployment.${verify.env?.DEPLOYMENT}.yaml`);
      expect(existsSync(file)).toBe(true);
      interface Container {
        command?: string[];
        args?: string[];
        ports?: Array<{ containerPort: number }>;
      }
      const deployment = parse(readFileSync(file, 'utf8')) as {
        metadata: { namespace: string };
        spec: { template: { spec: { containers: Container[]; initContainers?: Container[] } } };
      };
      const pin = JSON.parse(
        readFileSync(join(ROOT, 'charts', 'environments', `${env}.model.json`), 'utf8'),
      ) as {
        version: string;
      };
      expect(deployment.metadata.namespace).toBe(verify.env?.NAMESPACE);
      // What the rollout step's jq filter reads: the argument after --version of the model-fetch init container.
      const fetchArgs = (deployment.spec.template.spec.initContainers ?? [])
        .map((c) => [...(c.command ?? []), ...(c.args ?? [])])
        .find((argv) => argv.includes('model-fetch'));
      expect(fetchArgs?.[fetchArgs.indexOf('--version') + 1]).toBe(pin.version);
      expect(byId('rollout')?.env?.VERSION_FILTER).toContain(
        'select(index("model-fetch") != null) | .[index("--version") + 1]',
      );
      const ports = deployment.spec.template.spec.containers.flatMap((c) => c.ports ?? []);
      expect(ports.map((p) => p.containerPort)).toContain(8000);
    },
  );
});

describe('workflow scripts, run for real with bash, git and jq', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'workflow-scripts-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function stepScript(file: string, job: string, id: string): string {
    const step = load(file).jobs[job].steps.find((s) => s.id === id);
    if (!step?.run) throw new Error(`${file}: job ${job} has no step ${id} with a script`);
    return step.run;
  }

  /** Runs a step's script the way GitHub does (`bash --noprofile --norc -eo pipefail`); returns its outputs. */
  function runStep(script: string, env: Record<string, string>, cwd = dir) {
    const outputFile = join(dir, 'github-output');
    writeFileSync(outputFile, '');
    writeFileSync(join(dir, 'summary'), '');
    const result = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], {
      cwd,
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH ?? '',
        GITHUB_OUTPUT: outputFile,
        GITHUB_STEP_SUMMARY: join(dir, 'summary'),
        ...env,
      },
    });
    if (result.error) throw result.error;
    const outputs = Object.fromEntries(
      readFileSync(outputFile, 'utf8')
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    return { status: result.status, stdout: result.stdout, stderr: result.stderr, outputs };
  }

  test('jq, git and bash are installed (the scripts and these tests need them)', () => {
    for (const tool of ['jq', 'git', 'bash']) {
      expect([tool, spawnSync(tool, ['--version']).status]).toEqual([tool, 0]);
    }
  });

  describe('promote.yml plan', () => {
    const plan = () => stepScript('promote.yml', 'plan', 'plan');

    test('a relay delivery promotes its environment by alias', () => {
      const res = runStep(plan(), {
        EVENT: 'repository_dispatch',
        DISPATCH_ENVIRONMENT: 'production',
        DISPATCH_ALIAS: 'production',
        DISPATCH_VERSION: '4',
        DISPATCH_DELIVERY: 'a1b2',
      });
      expect(res.status).toBe(0);
      expect(JSON.parse(res.outputs.targets)).toEqual([
        { environment: 'production', version: '', alias: 'production' },
      ]);
    });

    test('fails when a dispatch names an environment outside staging/production (no injection)', () => {
      const res = runStep(plan(), {
        EVENT: 'repository_dispatch',
        DISPATCH_ENVIRONMENT: 'production"; touch pwned; echo "',
        DISPATCH_ALIAS: 'production',
      });
      expect(res.status).toBe(1);
      expect(res.stdout).toContain('must be staging or production');
      expect(existsSync(join(dir, 'pwned'))).toBe(false);
      expect(res.outputs.targets).toBeUndefined();
    });

    test('manual dispatch passes the exact version, and fails when given both a version and an alias', () => {
      const one = runStep(plan(), {
        EVENT: 'workflow_dispatch',
        INPUT_ENVIRONMENT: 'staging',
        INPUT_VERSION: '7',
      });
      expect(JSON.parse(one.outputs.targets)).toEqual([{ environment: 'staging', version: '7', alias: '' }]);
      const both = runStep(plan(), {
        EVENT: 'workflow_dispatch',
        INPUT_ENVIRONMENT: 'staging',
        INPUT_VERSION: '7',
        INPUT_ALIAS: 'staging',
      });
      expect(both.status).toBe(1);
      expect(both.stdout).toContain('not both');
    });

    test('what the relay actually dispatches becomes the promotion target (relay → GitHub stand-in → plan)', async () => {
      const github = await GitHubStandIn.start();
      const secret = 'contract-test-secret-0c4f1a';
      const relay = await startRelay(
        loadRelayConfig({
          MLFLOW_WEBHOOK_SECRET: secret,
          GITHUB_TOKEN: 'ghp_contractTest',
          GITHUB_REPOSITORY: 'acme/cats-dogs',
          GITHUB_API_URL: github.url,
          HOST: '127.0.0.1',
          PORT: '0',
        }),
        createRelayLogger('silent'),
      );
      try {
        const body = fixtureBody('alias-created-production');
        const res = await fetch(`${relay.url}/webhooks/mlflow`, {
          method: 'POST',
          headers: mlflowHeaders(secret, body, randomUUID()),
          body,
        });
        expect(res.status).toBe(202);
      } finally {
        await relay.close(1000);
        await github.close();
      }
      const dispatch = JSON.parse(github.requests[0].body) as {
        event_type: string;
        client_payload: Record<string, string>;
      };
      expect(load('promote.yml').on.repository_dispatch).toEqual({ types: [dispatch.event_type] });

      // Evaluate the plan step's env the way GitHub would for this event.
      const planStep = load('promote.yml').jobs.plan.steps.find((s) => s.id === 'plan');
      const env: Record<string, string> = {};
      for (const [name, expression] of Object.entries(planStep?.env ?? {})) {
        const field = /^\$\{\{ github\.event\.client_payload\.(\w+) \}\}$/.exec(expression)?.[1];
        if (expression === '${{ github.event_name }}') env[name] = 'repository_dispatch';
        else env[name] = field ? (dispatch.client_payload[field] ?? '') : '';
      }
      const res = runStep(plan(), env);
      expect(res.status).toBe(0);
      expect(JSON.parse(res.outputs.targets)).toEqual([
        { environment: 'production', version: '', alias: 'production' },
      ]);
    });

    test('the check step passes on the pending environments and warns about a rolled-back one (fake npx)', () => {
      const bin = join(dir, 'bin');
      execFileSync('mkdir', ['-p', bin]);
      const rows = [
        { env: 'local', status: 'in-sync', detail: "pinned 1 = registry alias 'local'" },
        { env: 'staging', status: 'pending', detail: 'promotion pending' },
        {
          env: 'production',
          status: 'rolled-back',
          rollbackCommit: 'abc',
          detail: 'version 2 was rolled back',
        },
      ];
      writeFileSync(join(dir, 'rows.json'), JSON.stringify(rows));
      writeFileSync(join(bin, 'npx'), `#!/bin/sh\ncat '${join(dir, 'rows.json')}'\nexit 3\n`, {
        mode: 0o755,
      });
      const res = runStep(stepScript('promote.yml', 'plan', 'check'), {
        PATH: `${bin}:${process.env.PATH ?? ''}`,
        RUNNER_TEMP: dir,
      });
      expect(res.status).toBe(0);
      expect(JSON.parse(res.outputs.pending)).toEqual(['staging']);
      expect(res.stdout).toContain('::warning::production: version 2 was rolled back\n');
    });

    test('the schedule promotes exactly the environments check reported pending', () => {
      const some = runStep(plan(), { EVENT: 'schedule', PENDING: '["staging"]' });
      expect(JSON.parse(some.outputs.targets)).toEqual([{ environment: 'staging', version: '', alias: '' }]);
      const none = runStep(plan(), { EVENT: 'schedule', PENDING: '[]' });
      expect(JSON.parse(none.outputs.targets)).toEqual([]);
    });
  });

  describe('verify-deploy.yml against a real git history', () => {
    const git = (...args: string[]) =>
      execFileSync('git', args, {
        cwd: dir,
        encoding: 'utf8',
        env: {
          PATH: process.env.PATH ?? '',
          GIT_AUTHOR_NAME: 't',
          GIT_AUTHOR_EMAIL: 't@example.com',
          GIT_COMMITTER_NAME: 't',
          GIT_COMMITTER_EMAIL: 't@example.com',
        },
      }).trim();
    const pin = (env: string, version: string) =>
      writeFileSync(
        join(dir, 'charts', 'environments', `${env}.model.json`),
        JSON.stringify({ version }) + '\n',
      );

    beforeEach(() => {
      git('init', '-q', '-b', 'main');
      execFileSync('mkdir', ['-p', join(dir, 'charts', 'environments')]);
      for (const env of ['local', 'staging', 'production']) pin(env, '1');
      git('add', '.');
      git('commit', '-q', '-m', 'initial pins');
    });

    /** verify-deploy's `changed` step for a push from `before` to HEAD. */
    const changedSince = (before: string): ReturnType<typeof runStep> =>
      runStep(stepScript('verify-deploy.yml', 'changed', 'diff'), {
        BEFORE: before,
        GITHUB_SHA: git('rev-parse', 'HEAD'),
      });

    test('lists the environments whose pins changed in the push (local is not verified)', () => {
      const before = git('rev-parse', 'HEAD');
      pin('production', '2');
      pin('local', '2');
      git('commit', '-qam', 'promote(production): 1 -> 2');
      pin('staging', '3');
      git('commit', '-qam', 'promote(staging): 1 -> 3');
      const res = changedSince(before);
      expect(res.status).toBe(0);
      expect(JSON.parse(res.outputs.environments)).toEqual(['production', 'staging']);
    });

    test.each([
      ['only local', ['local']],
      ['no pin at all', []],
    ])('a push that changes %s lists no environment, and the step succeeds', (_what, envs) => {
      const before = git('rev-parse', 'HEAD');
      for (const env of envs) pin(env, '2');
      writeFileSync(join(dir, 'NOTES.md'), 'a change beside the pins\n');
      git('add', '.');
      git('commit', '-qm', 'a push without staging or production pins');
      const res = changedSince(before);
      expect(res.status).toBe(0);
      expect(JSON.parse(res.outputs.environments)).toEqual([]);
    });

    test('a push whose "before" is unknown (new branch, force push) compares with the parent commit', () => {
      pin('staging', '2');
      git('commit', '-qam', 'promote(staging): 1 -> 2');
      const res = changedSince('0000000000000000000000000000000000000000');
      expect(JSON.parse(res.outputs.environments)).toEqual(['staging']);
    });

    test('the wait step of a canary environment ends on the Rollout’s verdict (fake kubectl, the real CLI)', () => {
      const bin = join(dir, 'bin');
      execFileSync('mkdir', ['-p', bin, join(dir, 'dist', 'staging')]);
      writeFileSync(join(dir, 'dist', 'staging', 'Rollout.cats-dogs-classifier.yaml'), 'kind: Rollout\n');
      const status = join(dir, 'rollout-status.json');
      writeFileSync(join(bin, 'kubectl'), `#!/bin/sh\ncat '${status}'\n`, { mode: 0o755 });
      // `npx model-gitops …` runs this checkout's CLI from source.
      writeFileSync(
        join(bin, 'npx'),
        `#!/bin/sh\nshift\nexec '${process.execPath}' '${require.resolve('tsx/cli')}' '${join(ROOT, 'pipeline', 'src', 'cli.ts')}' "$@"\n`,
        { mode: 0o755 },
      );
      const rolloutJson = (status: Record<string, unknown>) =>
        JSON.stringify({
          kind: 'Rollout',
          metadata: { name: 'cats-dogs-classifier', generation: 2 },
          spec: {
            template: {
              spec: {
                initContainers: [{ command: ['node', 'cli.js', 'model-fetch'], args: ['--version', '5'] }],
              },
            },
          },
          status: { observedGeneration: '2', ...status },
        });
      const env = {
        PATH: `${bin}:${process.env.PATH ?? ''}`,
        TARGET_ENVIRONMENT: 'staging',
        NAMESPACE: 'cats-dogs-classifier',
        DEPLOYMENT: 'cats-dogs-classifier',
        VERSION: '5',
        RUNNER_TEMP: dir,
      };
      writeFileSync(status, rolloutJson({ phase: 'Degraded', abort: true, message: 'RolloutAborted' }));
      const aborted = runStep(stepScript('verify-deploy.yml', 'verify', 'rollout'), env);
      expect([aborted.status, aborted.outputs]).toEqual([1, { delivery: 'canary', verdict: 'aborted' }]);
      expect(aborted.stdout).toContain('::error::canary of version 5 ended aborted');
      writeFileSync(status, rolloutJson({ phase: 'Healthy', currentPodHash: 'abc', stableRS: 'abc' }));
      const promoted = runStep(stepScript('verify-deploy.yml', 'verify', 'rollout'), env);
      expect([promoted.status, promoted.outputs]).toEqual([0, { delivery: 'canary', verdict: 'promoted' }]);
      expect(readFileSync(join(dir, 'rollout.json'), 'utf8')).toContain('"Healthy"');
    });

    test('reads the expected version, and recognises a rollback commit and a superseded run', () => {
      pin('production', '2');
      git('commit', '-qam', 'promote(production): 1 -> 2');
      const promotion = git('rev-parse', 'HEAD');
      const expect_ = (sha: string) =>
        runStep(stepScript('verify-deploy.yml', 'verify', 'expect'), {
          GITHUB_SHA: sha,
          TARGET_ENVIRONMENT: 'production',
        }).outputs;

      expect(expect_(promotion)).toEqual({ version: '2', superseded: 'false', is_rollback: 'false' });

      pin('production', '1');
      git('commit', '-qam', 'rollback(production): 2 -> 1', '-m', `${ROLLBACK_TRAILER}: production m 2->1`);
      const rollback = git('rev-parse', 'HEAD');
      expect(expect_(rollback)).toEqual({ version: '1', superseded: 'false', is_rollback: 'true' });
      expect(expect_(promotion)).toEqual({ version: '2', superseded: 'true', is_rollback: 'false' });
    });
  });
});
