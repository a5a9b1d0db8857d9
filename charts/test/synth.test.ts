import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiObject, App, Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { ENVIRONMENTS } from '../src/config/model-pin';
import {
  addFile,
  GENERATED_HEADER,
  OUTPUT_DIRS,
  synthesize,
  synthObjects,
  toYaml,
  writeFiles,
} from '../src/synth';
import { REPO_ROOT } from './support/dist';

const temps: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'charts-synth-'));
  temps.push(dir);
  return dir;
};
afterAll(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Every file below `root` in OUTPUT_DIRS, path → bytes. */
function snapshot(root: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const dir of OUTPUT_DIRS) {
    for (const name of readdirSync(join(root, dir)).sort())
      out.set(`${dir}/${name}`, readFileSync(join(root, dir, name)));
  }
  return out;
}

/** A copy of charts/environments and charts/argocd.yaml in a temp repo root, for broken-config cases. */
function tempRepo(): string {
  const root = tempDir();
  mkdirSync(join(root, 'charts'), { recursive: true });
  cpSync(join(REPO_ROOT, 'charts', 'environments'), join(root, 'charts', 'environments'), {
    recursive: true,
  });
  cpSync(join(REPO_ROOT, 'charts', 'argocd.yaml'), join(root, 'charts', 'argocd.yaml'));
  return root;
}

describe('synthesize', () => {
  const files = synthesize(REPO_ROOT);

  it('is byte-identical when run twice into separate directories', () => {
    const a = tempDir();
    const b = tempDir();
    writeFiles(a, files);
    writeFiles(b, synthesize(REPO_ROOT));
    const first = snapshot(a);
    const second = snapshot(b);
    expect([...second.keys()]).toEqual([...first.keys()]);
    for (const [path, bytes] of first) expect(second.get(path)!.equals(bytes)).toBe(true);
  });

  it('matches the committed dist/ and argocd/ byte for byte (run `npm run synth` when this fails)', () => {
    const committed = snapshot(REPO_ROOT);
    expect([...committed.keys()].sort()).toEqual([...files.keys()].sort());
    for (const [path, text] of files) expect(committed.get(path)!.toString('utf8')).toBe(text);
  });

  it('names every file <Kind>.<metadata.name>.yaml in dist/<env>/ or argocd/', () => {
    for (const [path, text] of files) {
      const kind = /^kind: (\S+)$/m.exec(text)![1];
      const name = /^metadata:\n(?: {2}.*\n)*? {2}name: (\S+)$/m.exec(text)![1];
      expect(path).toMatch(
        new RegExp(`^(dist/(${ENVIRONMENTS.join('|')})|argocd)/${kind}\\.${name}\\.yaml$`),
      );
    }
  });

  it('writes no timestamps and starts every file with the do-not-edit header', () => {
    for (const text of files.values()) {
      expect(text.startsWith(GENERATED_HEADER)).toBe(true);
      expect(text).not.toMatch(/creationTimestamp|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/);
    }
  });

  it('puts apiVersion, kind and metadata first and sorts every other key', () => {
    const text = toYaml({
      kind: 'ConfigMap',
      metadata: { name: 'x' },
      data: { b: '1', a: '2' },
      apiVersion: 'v1',
    });
    expect(text).toBe(
      `${GENERATED_HEADER}apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: "2"\n  b: "1"\n`,
    );
  });

  it('deletes generated files that synth no longer produces and leaves other files alone', () => {
    const root = tempDir();
    mkdirSync(join(root, 'dist', 'local'), { recursive: true });
    writeFileSync(join(root, 'dist', 'local', 'Deployment.renamed.yaml'), 'stale');
    writeFileSync(join(root, 'dist', 'local', 'NOTES.md'), 'kept');
    const { removed } = writeFiles(root, files);
    expect(removed).toEqual(['dist/local/Deployment.renamed.yaml']);
    expect(readdirSync(join(root, 'dist', 'local'))).toContain('NOTES.md');
  });

  it('leaves unchanged files untouched on a second run', () => {
    const root = tempDir();
    writeFiles(root, files);
    expect(writeFiles(root, files)).toEqual({ written: [], removed: [] });
  });

  it('fails naming the file and the field when an environment config is invalid', () => {
    const root = tempRepo();
    const file = join(root, 'charts', 'environments', 'staging.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('cpuRequest: 500m', 'cpuRequest: 500mm'));
    expect(() => synthesize(root)).toThrow(`${file}: invalid environment config`);
    expect(() => synthesize(root)).toThrow(
      /'resources.cpuRequest' CPU quantity '500mm' is not a Kubernetes quantity/,
    );
  });

  it('fails when a LoadBalancer environment would admit none of its clients, naming the fields and both fixes', () => {
    const root = tempRepo();
    const file = join(root, 'charts', 'environments', 'production.yaml');
    const config = readFileSync(file, 'utf8');
    writeFileSync(file, config.replace(/^ {2}loadBalancerSourceRanges: .*$/m, ''));
    expect(() => synthesize(root)).toThrow(`${file}: invalid environment config`);
    expect(() => synthesize(root)).toThrow(
      /'service.loadBalancerSourceRanges' is empty, so the NetworkPolicy would admit none of its external traffic.*\(\['0.0.0.0\/0'\] for a public endpoint\), or set 'service.type' to ClusterIP and reach the service through the ingress controller/,
    );
  });

  it('fails naming the pin file when a model pin is invalid', () => {
    const root = tempRepo();
    const file = join(root, 'charts', 'environments', 'production.model.json');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/"sha256": "[0-9a-f]+"/, '"sha256": "abc"'));
    expect(() => synthesize(root)).toThrow(new RegExp(`${file}: invalid model pin: 'sha256'`));
  });

  it('fails when two objects of one kind share a name in one directory', () => {
    const app = new App();
    const chart = new Chart(app, 'dup');
    new kplus.ConfigMap(chart, 'A', { metadata: { name: 'same' } });
    new kplus.ConfigMap(chart, 'B', { metadata: { name: 'same' } });
    const [a, b] = synthObjects(app);
    const out = new Map<string, string>();
    addFile(out, 'dist/local', a!);
    expect(() => addFile(out, 'dist/local', b!)).toThrow(
      "dist/local/ConfigMap.same.yaml: two objects of kind ConfigMap are named 'same' in dist/local: give one a different metadata.name.",
    );
  });
});

describe('synthObjects', () => {
  it('returns each synthesized object as plain JSON, none for an empty chart', () => {
    const app = new App();
    new Chart(app, 'empty');
    const chart = new Chart(app, 'one');
    new kplus.ConfigMap(chart, 'A', { metadata: { name: 'a' }, data: { x: '1' } });
    expect(synthObjects(app)).toEqual([
      expect.objectContaining({ apiVersion: 'v1', kind: 'ConfigMap', data: { x: '1' } }),
    ]);
  });

  it('skips the empty document cdk8s writes for an object that renders to nothing', () => {
    class Nothing extends ApiObject {
      public override toJson(): unknown {
        return undefined;
      }
    }
    const app = new App();
    const chart = new Chart(app, 'c');
    new kplus.ConfigMap(chart, 'A', { metadata: { name: 'a' } });
    new Nothing(chart, 'N', { apiVersion: 'v1', kind: 'Nothing' });
    expect(synthObjects(app).map((o) => o.kind)).toEqual(['ConfigMap']);
  });
});

describe('writeFiles', () => {
  const yaml = (rel: string, text: string) => [rel, text] as const;

  it('writes in path order into an empty root, reporting every file and skipping output dirs that do not exist', () => {
    const root = tempDir();
    const files = new Map([
      yaml('dist/local/b.yaml', 'b'),
      yaml('argocd/c.yaml', 'c'),
      yaml('dist/local/a.yaml', 'a'),
    ]);
    expect(writeFiles(root, files)).toEqual({
      written: ['argocd/c.yaml', 'dist/local/a.yaml', 'dist/local/b.yaml'],
      removed: [],
    });
    expect(readFileSync(join(root, 'dist', 'local', 'a.yaml'), 'utf8')).toBe('a');
  });

  it('rewrites a file whose content changed and deletes the stale ones it no longer produces', () => {
    const root = tempDir();
    mkdirSync(join(root, 'dist', 'local'), { recursive: true });
    writeFileSync(join(root, 'dist', 'local', 'kept.yaml'), 'old');
    writeFileSync(join(root, 'dist', 'local', 'stale-b.yaml'), 'x');
    writeFileSync(join(root, 'dist', 'local', 'stale-a.yaml'), 'x');
    expect(writeFiles(root, new Map([yaml('dist/local/kept.yaml', 'new')]))).toEqual({
      written: ['dist/local/kept.yaml'],
      removed: ['dist/local/stale-a.yaml', 'dist/local/stale-b.yaml'],
    });
    expect(readdirSync(join(root, 'dist', 'local'))).toEqual(['kept.yaml']);
    expect(readFileSync(join(root, 'dist', 'local', 'kept.yaml'), 'utf8')).toBe('new');
  });
});

describe('toYaml', () => {
  it('orders the top-level keys apiVersion, kind, metadata whatever their input order, then the rest by code point', () => {
    const text = toYaml({
      metadata: { name: 'x' },
      spec: { b: 1, B: 2, a: 3, aa: 4, c: null },
      kind: 'K',
      Zeta: 1,
      apiVersion: 'v1',
      data: 1,
    });
    expect(text).toBe(
      `${GENERATED_HEADER}apiVersion: v1\nkind: K\nmetadata:\n  name: x\nZeta: 1\ndata: 1\nspec:\n  B: 2\n  a: 3\n  aa: 4\n  b: 1\n  c: null\n`,
    );
  });
});
