import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ignore from '@balena/dockerignore';
import { SERVICE_NODE_ARGS } from '../src/config';

// service/Dockerfile and the .dockerignore that selects its build context, read as Docker reads them.
const REPO = join(__dirname, '..', '..');
const read = (file: string): string => readFileSync(join(REPO, file), 'utf8');
const dockerfile = read('service/Dockerfile');
const context = ignore().add(read('.dockerignore'));

/** The Dockerfile's stages: `FROM` line and the instructions after it, continuation lines joined. */
function stages(): { from: string; instructions: string[] }[] {
  const lines = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const out: { from: string; instructions: string[] }[] = [];
  for (const line of lines) {
    if (line.startsWith('FROM ')) out.push({ from: line, instructions: [] });
    else out.at(-1)?.instructions.push(line);
  }
  return out;
}

describe('.dockerignore', () => {
  test('keeps secret-looking files out of the build context at every depth', () => {
    const secrets = [
      '.env',
      'service/.env',
      'pipeline/.env.production',
      'charts/environments/.env.local',
      'service/src/model/.env',
      'a/b/c/d/.env.staging',
      'pipeline/.npmrc',
      'service/src/.npmrc',
      'tls.key',
      'service/tls.key',
      'charts/environments/prod/cert.pem',
      'a/b/c/d/client.p12',
      'pipeline/src/relay/id_rsa',
      'x/id_ed25519.pub',
      'service/.kube/config',
      'deploy/kubeconfig-prod',
      'x/.aws/credentials',
      '.docker/config.json',
      'npm-debug.log',
      'pipeline/relay-deliveries.log',
    ];
    expect(secrets.filter((p) => !context.ignores(p))).toEqual([]);
  });

  test('keeps generated output, dependencies, models and tests out at every depth', () => {
    const excluded = [
      'node_modules/express/index.js',
      'service/node_modules/x/index.js',
      'build/service/src/server.js',
      'dist/production/Deployment.cats-dogs-classifier.yaml',
      'service/models/default/model.onnx',
      'bench/results/run.json',
      'service/test/server.test.ts',
      'pipeline/test/fixtures/model.json',
      'test/reliability/fuzz.test.ts',
      'pipeline/src/relay/payload.test.ts',
      'charts/coverage/lcov.info',
      '.ci/node/node-v24.22.3-linux-x64/bin/node',
    ];
    expect(excluded.filter((p) => !context.ignores(p))).toEqual([]);
  });

  test('sends every committed file the build stage compiles', () => {
    const committed = execFileSync('git', ['ls-files'], { cwd: REPO, encoding: 'utf8' }).split('\n');
    const needed = committed.filter(
      (p) =>
        /^(service|pipeline|charts|bench)\/(src|image)\/.*\.ts$/.test(p) ||
        /^imports\/.*\.ts$/.test(p) ||
        ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'].includes(p),
    );
    expect(needed.length).toBeGreaterThan(50);
    expect(needed.filter((p) => context.ignores(p))).toEqual([]);
  });
});

describe('service/Dockerfile', () => {
  test('builds on the supported Node (.node-version’s major), pinned by digest with the tag beside it', () => {
    const major = read('.node-version').trim().split('.')[0];
    const arg = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1];
    expect(arg).toMatch(new RegExp(`^node:${major}-bookworm-slim@sha256:[0-9a-f]{64}$`));
    expect(stages().map((s) => s.from.split(' ')[1])).toEqual([
      '${NODE_IMAGE}',
      '${NODE_IMAGE}',
      'build',
      '${NODE_IMAGE}',
    ]);
  });

  test('the runtime stage holds only the traced tree and runs as uid 10001 with telemetry off', () => {
    const tree = stages()[2];
    expect(tree.instructions).toContain(
      'RUN node build/service/image/runtime-files.js /app /prod/node_modules /runtime',
    );
    const runtime = stages()[3];
    expect(runtime.instructions.filter((i) => i.startsWith('COPY'))).toEqual([
      'COPY --from=tree /runtime ./',
    ]);
    expect(runtime.instructions).toContain('USER 10001:10001');
    expect(runtime.instructions.find((i) => i.startsWith('ENV '))).toMatch(/\bORT_DISABLE_TELEMETRY=1\b/);
    const cmd = ['node', ...SERVICE_NODE_ARGS, 'build/service/src/server.js'];
    expect(runtime.instructions.at(-1)).toBe(`CMD [${cmd.map((a) => JSON.stringify(a)).join(', ')}]`);
  });
});

describe('the supported Node version', () => {
  test('is the same major in .node-version, engines and @types/node; every workflow reads .node-version', () => {
    const major = Number(read('.node-version').trim().split('.')[0]);
    const pkg = JSON.parse(read('package.json')) as {
      engines: { node: string };
      devDependencies: Record<string, string>;
    };
    expect(pkg.engines.node).toMatch(new RegExp(`^>=${major}\\.`));
    expect(pkg.devDependencies['@types/node']).toMatch(new RegExp(`^\\^${major}\\.`));
    for (const workflow of ['ci.yml', 'promote.yml', 'verify-deploy.yml']) {
      const text = read(`.github/workflows/${workflow}`);
      expect({ workflow, pinned: /node-version: /.test(text) }).toEqual({ workflow, pinned: false });
      expect(text).toContain('node-version-file: .node-version');
    }
  });
});
