import path from 'node:path';
import { entropy, isHighEntropyBlob, isSensitiveKey, scanDirs, scanText } from './secret-scan';

const ROOT = path.resolve(__dirname, '..', '..');
/** Where secrets must never appear: generated manifests, Argo CD apps, generated monitoring files, CI workflows. */
const SCANNED_DIRS = ['dist', 'argocd', 'monitoring', '.github'];

// Fake credentials are assembled at run time so this file itself never holds one verbatim.
const fakeGithubToken = 'ghp' + '_' + 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8';
const fakeAwsKey = 'AKIA' + 'IOSFODNN7EXAMPLE';
const fakeBlob = Buffer.from('q8Zr2Lw9Xk4Pm7Vt1Ns6Hy3Jd0Fb5Gc8Re2Wu4Yi').toString('base64');

describe('secret scanner (rules)', () => {
  it.each([
    ['a PEM private key', 'key: |\n  -----BEGIN RSA PRIVATE KEY-----\n  MIIB\n', 'private-key'],
    ['a GitHub token anywhere', `args: ["--token-file", "${fakeGithubToken}"]`, 'github-token'],
    ['an AWS access key id', `AWS_ACCESS_KEY_ID=${fakeAwsKey}`, 'aws-access-key-id'],
    ['credentials inside a URL', 'uri: https://admin:s3cr3tpass@mlflow.example.com', 'url-credentials'],
    ['a literal password value', 'db:\n  password: hunter2hunter2\n', 'credential-key-literal'],
    ['a camelCase token key', 'mlflowToken: abcdef\n', 'credential-key-literal'],
    [
      'a literal credential env var',
      'env:\n  - name: MLFLOW_TRACKING_TOKEN\n    value: abc123\n',
      'credential-env-literal',
    ],
    [
      'data in a Secret',
      'apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\ndata:\n  anything: aGVsbG8=\n',
      'secret-data',
    ],
    ['a high-entropy base64 blob', `config:\n  blob: ${fakeBlob}\n`, 'high-entropy-blob'],
  ])('fails when a file holds %s', (_name, text, rule) => {
    const findings = scanText('x.yaml', text);
    expect(findings.map((f) => f.rule)).toContain(rule);
  });

  it('reports the line of the finding but never the value', () => {
    const [f] = scanText('w.yml', 'jobs:\n  a:\n    env:\n      password: hunter2hunter2\n');
    expect(f).toMatchObject({ file: 'w.yml', line: 4, rule: 'credential-key-literal' });
    expect(JSON.stringify(f)).not.toContain('hunter2');
  });

  it.each([
    ['a workflow secret expression', 'env:\n  MLFLOW_TRACKING_TOKEN: ${{ secrets.MLFLOW_TRACKING_TOKEN }}\n'],
    [
      'a secretKeyRef env var',
      'env:\n  - name: X_TOKEN\n    valueFrom:\n      secretKeyRef: {name: s, key: t}\n',
    ],
    ['names of secrets', 'secretName: mlflow-credentials\ntokenSecretRef: abc\npasswordFile: /run/x\n'],
    [
      'a Secret without data (filled by an operator)',
      'kind: Secret\nmetadata:\n  name: webhook\ntype: Opaque\n',
    ],
    ['a sha256 model pin', `args: ["--sha256", "${'ab12'.repeat(16)}"]\n`],
    ['booleans on credential keys', 'automountServiceAccountToken: false\n'],
  ])('passes %s', (_name, text) => {
    expect(scanText('ok.yaml', text)).toEqual([]);
  });

  it('classifies keys by their last word', () => {
    expect(['password', 'apiKey', 'client_secret', 'GITHUB_TOKEN', 'privateKey'].map(isSensitiveKey)).toEqual(
      [true, true, true, true, true],
    );
    expect(
      ['secretName', 'tokenPath', 'serviceAccountName', 'passwordSecretRef'].map(isSensitiveKey),
    ).toEqual([false, false, false, false]);
  });

  it('tells random blobs from hex digests and words', () => {
    expect(isHighEntropyBlob(fakeBlob)).toBe(true);
    expect(isHighEntropyBlob('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')).toBe(false);
    expect(isHighEntropyBlob('cats-dogs-classifier-production-deployment-manifest')).toBe(false);
    expect(entropy('aaaa')).toBeCloseTo(0);
    expect(isHighEntropyBlob('PodDisruptionBudgetSpecUnhealthyPodEvictionPolicy')).toBe(false);
  });
});

describe('secret scanner over the repository', () => {
  it('finds no secret values, tokens or passwords in dist/, argocd/, monitoring/ and .github/', () => {
    const { files, findings } = scanDirs(ROOT, SCANNED_DIRS);
    // Every directory is really scanned (a moved directory must not pass by scanning nothing).
    for (const dir of SCANNED_DIRS)
      expect({ dir, scanned: files.some((f) => f.startsWith(`${dir}/`)) }).toEqual({ dir, scanned: true });
    expect(files).toEqual(expect.arrayContaining(['.github/workflows/ci.yml', 'monitoring/prometheus.yml']));
    expect(findings).toEqual([]);
  });
});
