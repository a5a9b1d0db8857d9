import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import {
  argoCdConfigPath,
  environmentConfigPath,
  readArgoCdConfig,
  readEnvironmentConfig,
} from '../../src/config/environment-config';
import { ENVIRONMENTS } from '../../src/config/model-pin';
import { APP_NAME } from '../../src/config/names';
import { Json, REPO_ROOT } from '../support/dist';

const dir = mkdtempSync(join(tmpdir(), 'charts-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const production = (): Json => parse(readFileSync(environmentConfigPath(REPO_ROOT, 'production'), 'utf8'));

/** Writes a config to a temp file and returns the error message readEnvironmentConfig throws. */
function errorOf(config: unknown, name = 'env.yaml'): string {
  const file = join(dir, name);
  writeFileSync(file, typeof config === 'string' ? config : stringify(config));
  try {
    readEnvironmentConfig(file);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected the config to be rejected');
}

describe('environment config files', () => {
  it.each(ENVIRONMENTS)('charts/environments/%s.yaml is valid', (env) => {
    expect(() => readEnvironmentConfig(environmentConfigPath(REPO_ROOT, env))).not.toThrow();
  });

  it('charts/argocd.yaml is valid', () => {
    expect(readArgoCdConfig(argoCdConfigPath(REPO_ROOT)).repoURL).toMatch(/^https:\/\//);
  });

  it("leaves omitted fields undefined, so the constructs' defaults apply (each default has one home)", () => {
    const file = join(dir, 'minimal.yaml');
    const minimal = {
      image: 'ghcr.io/example/model-gitops:1.0.0',
      model: { from: 'baked' },
      argocd: { destinationServer: 'https://kubernetes.default.svc' },
    };
    writeFileSync(file, stringify(minimal));
    // Only the fields the file states, nothing filled in.
    expect(readEnvironmentConfig(file)).toEqual(minimal);
  });

  it('converts quantities to millicores and Sizes, and seconds to Durations', () => {
    const c = production();
    c.resources = { cpuRequest: '250m', memoryRequest: '384Mi', cpuLimit: '1.5', memoryLimit: '2Gi' };
    c.autoscaling.scaleDownStabilizationWindowSeconds = 120;
    const file = join(dir, 'converted.yaml');
    writeFileSync(file, stringify(c));
    const config = readEnvironmentConfig(file);
    const r = config.resources!;
    expect([r.cpuRequestMillicores, r.cpuLimitMillicores]).toEqual([250, 1500]);
    expect([r.memoryRequest.toMebibytes(), r.memoryLimit.toMebibytes()]).toEqual([384, 2048]);
    expect(config.autoscaling!.scaleDownStabilizationWindow!.toSeconds()).toBe(120);
  });
});

describe('environment config validation', () => {
  it('fails on a scale-down window over the HPA API bound, naming the field', () => {
    const c = production();
    c.autoscaling.scaleDownStabilizationWindowSeconds = 7200;
    expect(errorOf(c)).toContain(
      "'autoscaling.scaleDownStabilizationWindowSeconds' (7200 s) must be ≤ 3600: the HPA API allows at most an hour",
    );
  });

  it('fails when minReplicas > maxReplicas', () => {
    const c = production();
    c.autoscaling.minReplicas = 11;
    c.autoscaling.maxReplicas = 10;
    expect(errorOf(c)).toContain(
      "'autoscaling.minReplicas' (11) must be ≤ 'autoscaling.maxReplicas' (10): lower minReplicas or raise maxReplicas",
    );
  });

  it('fails when PDB minAvailable >= HPA minReplicas', () => {
    const c = production();
    c.podDisruptionBudget.minAvailable = 3;
    expect(errorOf(c)).toContain(
      "'podDisruptionBudget.minAvailable' (3) must be < 'autoscaling.minReplicas' (3), otherwise no pod may ever be evicted and every node drain blocks",
    );
  });

  it('fails when the default PDB minAvailable (2) is not below a minReplicas the file lowers to 2', () => {
    const c = production();
    delete c.podDisruptionBudget;
    c.autoscaling = { minReplicas: 2 };
    expect(errorOf(c)).toContain(
      "'podDisruptionBudget.minAvailable' (2) must be < 'autoscaling.minReplicas' (2)",
    );
  });

  it('fails on a malformed quantity like 500mm', () => {
    const c = production();
    c.resources.cpuRequest = '500mm';
    expect(errorOf(c)).toContain("'resources.cpuRequest' CPU quantity '500mm' is not a Kubernetes quantity");
  });

  it('fails on a memory quantity that is not a whole number of MiB', () => {
    const c = production();
    c.resources.memoryLimit = '1G';
    expect(errorOf(c)).toContain(
      "'resources.memoryLimit' memory quantity '1G' must be a positive whole number of mebibytes",
    );
  });

  it('fails when a request exceeds its limit', () => {
    const c = production();
    c.resources.cpuRequest = '3';
    expect(errorOf(c)).toContain("'resources.cpuRequest' cpuRequest (3) must be ≤ cpuLimit (2)");
  });

  it('fails on an image reference that is neither a tag nor a digest', () => {
    const c = production();
    c.image = 'ghcr.io/example/model-gitops';
    expect(errorOf(c)).toContain(
      "'image' image 'ghcr.io/example/model-gitops' has neither a tag nor a digest",
    );
  });

  it('fails on the latest tag', () => {
    const c = production();
    c.image = 'ghcr.io/example/model-gitops:latest';
    expect(errorOf(c)).toContain("uses the 'latest' tag: pin a version tag or a sha256 digest");
  });

  it('accepts an image pinned by digest', () => {
    const c = production();
    c.image = `ghcr.io/example/model-gitops:0.1.0@sha256:${'ab'.repeat(32)}`;
    const file = join(dir, 'digest.yaml');
    writeFileSync(file, stringify(c));
    expect(readEnvironmentConfig(file).image).toBe(c.image);
  });

  it('fails on an unknown top-level field, naming it', () => {
    const c = production();
    c.replica = 2;
    expect(errorOf(c)).toContain("'replica' is not a known field: remove it or fix its spelling");
  });

  it('fails on an unknown nested field, naming its path', () => {
    const c = production();
    c.autoscaling.cpuTarget = 60;
    expect(errorOf(c)).toContain("'autoscaling.cpuTarget' is not a known field");
  });

  it('fails when replicas and autoscaling are both set', () => {
    const c = production();
    c.replicas = 2;
    expect(errorOf(c)).toContain(
      "'replicas' cannot be set together with 'autoscaling' (the HPA owns the count)",
    );
  });

  it('fails on a PDB without autoscaling', () => {
    const c = production();
    delete c.autoscaling;
    expect(errorOf(c)).toContain("'podDisruptionBudget' needs 'autoscaling'");
  });

  it('fails on a registry model with neither alias nor stage', () => {
    const c = production();
    c.model = { from: 'registry' };
    expect(errorOf(c)).toContain("'model' a registry model needs exactly one of 'alias' or 'stage'");
  });

  it.each([
    ['latest', "must not be 'latest': MLflow reserves it"],
    ['v2', 'must not be v<number>: MLflow reserves those for versions'],
    ['', 'must be an alias'],
  ])(
    "fails on a model alias MLflow refuses ('%s'), at synth rather than at the first promotion",
    (alias, rule) => {
      const c = production();
      c.model = { from: 'registry', alias };
      expect(errorOf(c)).toContain(`'model.alias' ${rule}`);
    },
  );

  it("fails on a relay model name a pin cannot hold, at synth rather than in the relay's start-up", () => {
    const c = production();
    c.webhookRelay.modelName = 'my model';
    expect(errorOf(c)).toContain(
      "'webhookRelay.modelName' must be a registered model name: letters, digits, . _ -",
    );
  });

  it("fails on a relay alias MLflow would refuse, at synth rather than in the relay's start-up", () => {
    const c = production();
    c.webhookRelay.aliasEnvironments = { 'champion.eu': 'production' };
    expect(errorOf(c)).toContain(
      "'webhookRelay.aliasEnvironments.champion.eu' is not a valid key: must be an alias: letters, digits, _ and -",
    );
  });

  it('fails on annotation keys and an IngressClass name the API server would reject, accepting real ones', () => {
    const c = production();
    c.service.annotations = {
      'my annotation': 'x',
      'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb',
    };
    c.webhookRelay.ingress = { host: 'relay.example.com', className: 'Nginx_Public' };
    const message = errorOf(c);
    expect(message).toContain(
      "'service.annotations.my annotation' is not a valid key: must be an annotation key",
    );
    expect(message).not.toContain('aws-load-balancer-type');
    expect(message).toContain("'webhookRelay.ingress.className' must be a DNS subdomain");
  });

  it.each([
    ['kube-system', 'a namespace Kubernetes keeps for itself'],
    ['default', 'a namespace Kubernetes keeps for itself'],
    ['mlflow', "also 'mlflow.namespace'"],
  ])('fails when the namespace is %s, a namespace the kit must not label or delete', (namespace, why) => {
    const c = production();
    c.namespace = namespace;
    c.mlflow.namespace = 'mlflow';
    expect(errorOf(c)).toContain(`'namespace' ('${namespace}') is ${why}: the kit labels its namespace`);
  });

  it('fails on a registry model without mlflow settings', () => {
    const c = production();
    delete c.mlflow;
    expect(errorOf(c)).toContain("'mlflow' is required when 'model.from' is 'registry'");
  });

  it('fails when MLflow has neither namespace nor cidr for the NetworkPolicy', () => {
    const c = production();
    delete c.mlflow.namespace;
    expect(errorOf(c)).toContain(
      "'mlflow' needs 'namespace' (in-cluster MLflow) or 'cidr' (external MLflow)",
    );
  });

  it('fails on a TLS port without a LoadBalancer', () => {
    const c = production();
    c.service = { type: 'ClusterIP', tlsPort: 443 };
    expect(errorOf(c)).toContain("'service.tlsPort' needs 'service.type: LoadBalancer'");
  });

  it('states who may call production: the whole IPv4 internet, pod CIDR cut out, client addresses kept', () => {
    const c = readEnvironmentConfig(environmentConfigPath(REPO_ROOT, 'production'));
    expect(c.service).toMatchObject({
      type: 'LoadBalancer',
      loadBalancerSourceRanges: ['0.0.0.0/0'],
      externalTrafficPolicy: 'Local',
    });
    expect(c.networkPolicy?.podCidrs).toEqual(['10.244.0.0/16']);
  });

  it('fails when a LoadBalancer lists no source ranges, naming the config fields and both fixes', () => {
    const c = production();
    delete c.service.loadBalancerSourceRanges;
    expect(errorOf(c)).toContain(
      "'service.loadBalancerSourceRanges' is empty, so the NetworkPolicy would admit none of its external traffic: " +
        "external clients reach the pods from their own or a node's address, never from a pod in " +
        "'networkPolicy.ingressNamespaces'. Fix: list the clients' CIDRs in 'service.loadBalancerSourceRanges' " +
        "(['0.0.0.0/0'] for a public endpoint), or set 'service.type' to ClusterIP and reach the service through " +
        'the ingress controller',
    );
  });

  it('fails when a NodePort lists no source ranges', () => {
    const c = parse(readFileSync(environmentConfigPath(REPO_ROOT, 'local'), 'utf8'));
    delete c.service.nodePortSourceRanges;
    expect(errorOf(c)).toContain(
      "'service.nodePortSourceRanges' is empty, so the NetworkPolicy would admit none",
    );
  });

  it('fails when externalTrafficPolicy Cluster comes without the node CIDRs', () => {
    const c = production();
    c.service.externalTrafficPolicy = 'Cluster';
    expect(errorOf(c)).toContain("'service.nodeCidrs' is empty, so the NetworkPolicy would admit none");
    c.service.nodeCidrs = ['10.0.0.0/16'];
    const file = join(dir, 'cluster-policy.yaml');
    writeFileSync(file, stringify(c));
    expect(readEnvironmentConfig(file).service?.nodeCidrs).toEqual(['10.0.0.0/16']);
  });

  it('fails when a source range lies within networkPolicy.podCidrs', () => {
    const c = production();
    c.service.loadBalancerSourceRanges = ['10.244.1.0/24'];
    expect(errorOf(c)).toContain(
      "'service.loadBalancerSourceRanges' '10.244.1.0/24' lies within 'networkPolicy.podCidrs' '10.244.0.0/16'",
    );
  });

  it('fails on external-traffic fields of a ClusterIP Service, and on malformed CIDRs', () => {
    const c = production();
    c.service = { type: 'ClusterIP', loadBalancerSourceRanges: ['0.0.0.0/0'] };
    expect(errorOf(c)).toContain(
      "'service.loadBalancerSourceRanges' needs 'service.type' LoadBalancer or NodePort",
    );
    const bad = production();
    bad.service.loadBalancerSourceRanges = ['0.0.0.0'];
    expect(errorOf(bad)).toContain("'service.loadBalancerSourceRanges.0'");
  });

  it('fails on a relay Ingress whose host is not a DNS name', () => {
    const c = production();
    c.webhookRelay.ingress.host = 'https://relay.example.com/';
    expect(errorOf(c)).toContain(
      "'webhookRelay.ingress.host' must be a fully qualified DNS name, e.g. relay.example.com",
    );
  });

  it('fails naming the file on a YAML syntax error', () => {
    const message = errorOf('image: [unclosed', 'broken.yaml');
    expect(message).toContain(`${join(dir, 'broken.yaml')}: cannot read the environment config`);
  });

  it('names the file in every validation error', () => {
    const c = production();
    c.logLevel = 'loud';
    expect(errorOf(c, 'named.yaml')).toMatch(
      new RegExp(`^${join(dir, 'named.yaml')}: invalid environment config:\\n  - 'logLevel'`),
    );
  });

  it('fails on an ExternalSecret for the relay where no relay runs', () => {
    const c = production();
    delete c.webhookRelay;
    c.externalSecrets = { secretStoreName: 'vault', webhookRelayKey: 'relay' };
    expect(errorOf(c)).toContain(
      "'externalSecrets.webhookRelayKey' needs a 'webhookRelay' section in this environment",
    );
  });

  it('fails when a registry environment has no evaluation policy', () => {
    const c = production();
    delete c.evaluation;
    expect(errorOf(c)).toContain(
      "'evaluation' is required when 'model.from' is 'registry': the promotion gate needs a golden set and thresholds",
    );
  });

  it('fails on thresholds outside 0..1, an escaping golden set path and an unknown golden set source', () => {
    const c = production();
    c.evaluation.minAccuracy = 95;
    c.evaluation.goldenSet = { from: 'repository', path: '../outside' };
    expect(errorOf(c)).toMatch(/'evaluation.minAccuracy' Too big: expected number to be <=1/);
    expect(errorOf(c)).toContain("'evaluation.goldenSet.path' must be a relative path without '..' segments");
    c.evaluation.goldenSet = { from: 's3', path: 'golden' };
    expect(errorOf(c)).toMatch(/'evaluation.goldenSet.from' Invalid option/);
  });

  it('fills the evaluation defaults: smoke sample, score tolerance and size limits', () => {
    const file = join(dir, 'evaluation-defaults.yaml');
    writeFileSync(file, stringify(production()));
    expect(readEnvironmentConfig(file).evaluation).toMatchObject({
      smokeSamples: 8,
      scoreTolerance: 0.01,
      limits: { maxImages: 2000, maxImageBytes: 10485760, maxTotalBytes: 268435456 },
    });
  });
});

describe('delivery config', () => {
  it('leaves delivery to the construct when omitted (production omits it)', () => {
    expect(readEnvironmentConfig(environmentConfigPath(REPO_ROOT, 'production')).delivery).toBeUndefined();
  });

  it('fails on an unknown delivery', () => {
    expect(errorOf({ ...production(), delivery: 'bluegreen' })).toContain("'delivery'");
  });

  it('fails when canary settings are given without delivery: canary', () => {
    expect(errorOf({ ...production(), canary: { smoke: false } })).toContain(
      "'canary' needs 'delivery: canary' (a rolling Deployment has no canary steps): set it or remove this section",
    );
  });

  it('fails when canary weights do not increase, naming the field in the file', () => {
    const c = {
      ...production(),
      delivery: 'canary',
      canary: { steps: [{ setWeight: 50 }, { analysis: {} }, { setWeight: 20 }] },
    };
    expect(errorOf(c)).toContain(
      "'canary.steps[2].setWeight' (20) must be greater than the weight before it (50)",
    );
  });

  it('fails when a canary pause has no duration', () => {
    const c = {
      ...production(),
      delivery: 'canary',
      canary: { steps: [{ setWeight: 10 }, { pause: {} }, { analysis: {} }] },
    };
    expect(errorOf(c)).toContain("'canary.steps[1].pause.seconds' is missing: a pause without a duration");
  });

  it('fails when a canary threshold is out of range', () => {
    const c = { ...production(), delivery: 'canary', canary: { analysis: { maxErrorRatio: 5 } } };
    expect(errorOf(c)).toContain("'canary.analysis.maxErrorRatio' (5) must be a fraction 0 < x < 1");
  });

  it('accepts delivery: canary alone', () => {
    const file = join(dir, 'canary.yaml');
    writeFileSync(file, stringify({ ...production(), delivery: 'canary' }));
    expect(readEnvironmentConfig(file).delivery).toBe('canary');
  });
});

/** Sets `value` at a dotted path of a parsed config, creating the sections on the way. */
function setAt(c: Json, path: string, value: unknown): void {
  const keys = path.split('.');
  const last = keys.pop()!;
  const parent = keys.reduce((o, k) => (o[k] ??= {}), c);
  parent[last] = value;
}

/** Writes a config to a temp file and returns what readEnvironmentConfig makes of it. */
function read(config: Json, name = 'accepted.yaml') {
  const file = join(dir, name);
  writeFileSync(file, stringify(config));
  return readEnvironmentConfig(file);
}

describe('environment config: every documented value is accepted and kept', () => {
  it.each<[string, unknown]>([
    ['imagePullPolicy', 'Always'],
    ['imagePullPolicy', 'IfNotPresent'],
    ...['fatal', 'error', 'warn', 'info', 'debug', 'trace'].map((l): [string, unknown] => ['logLevel', l]),
    ['namespace', 'a'],
    ['model', { from: 'registry', stage: 'Staging' }],
    ['model', { from: 'registry', stage: 'Production' }],
    ['model', { from: 'baked', modelDir: '/models/mine' }],
    ['delivery', 'rolling'],
    ['service.tlsPort', 443],
    ['webhookRelay.githubRepository', 'Example-Org/model_gitops.v2'],
    ['webhookRelay.ingress.host', 'a.b.example.com'],
    ['webhookRelay.ingress.className', 'nginx'],
    ['externalSecrets', { secretStoreName: 'vault', secretStoreKind: 'ClusterSecretStore' }],
    ['externalSecrets', { secretStoreName: 'vault', secretStoreKind: 'SecretStore' }],
    ...['15s', '30m', '1h', '120m'].map((d): [string, unknown] => [
      'externalSecrets',
      { secretStoreName: 'vault', refreshInterval: d },
    ]),
  ])('accepts %s: %j', (path, value) => {
    const c = production();
    setAt(c, path, value);
    expect(path.split('.').reduce((o: Json, k) => o[k], read(c))).toEqual(value);
  });

  it('accepts a fixed replica count above 1 when nothing autoscales', () => {
    const c = production();
    delete c.autoscaling;
    delete c.podDisruptionBudget;
    c.replicas = 2;
    expect(read(c).replicas).toBe(2);
  });

  it('accepts a canary section with delivery: canary, pauses with their seconds', () => {
    const canary = { steps: [{ setWeight: 10 }, { pause: { seconds: 60 } }, { analysis: {} }], smoke: false };
    expect(read({ ...production(), delivery: 'canary', canary }).canary).toEqual(canary);
  });
});

describe('environment config: each rejected value names its field and the rule', () => {
  const DNS_LABEL = "must be a DNS label: lower-case letters, digits and '-'";
  const UPPER_SNAKE = 'is not a valid key: must be an UPPER_SNAKE variable name, e.g. INFERENCE_WORKERS';
  const OWNER_NAME = "must look like owner/name, e.g. acme/cats-dogs (neither part '.' or '..')";
  const FQDN = 'must be a fully qualified DNS name, e.g. relay.example.com';
  const DURATION = 'must be a duration such as 30m or 1h';

  it.each<[string, unknown, string]>([
    ['namespace', 'Prod', `'namespace' ${DNS_LABEL}`],
    ['namespace', 'prod-', `'namespace' ${DNS_LABEL}`],
    ['settings', { workers: '1' }, `'settings.workers' ${UPPER_SNAKE}`],
    ['settings', { xWORKERS: '1' }, `'settings.xWORKERS' ${UPPER_SNAKE}`],
    ['settings', { 'WORKERS-1': '1' }, `'settings.WORKERS-1' ${UPPER_SNAKE}`],
    [
      'model',
      { from: 'baked', modelDir: 'models/mine' },
      `'model.modelDir' Invalid string: must start with "/"`,
    ],
    [
      'mlflow.trackingUri',
      'ftp://mlflow:5000',
      "'mlflow.trackingUri' ('ftp://mlflow:5000') must be http:// or https://.",
    ],
    [
      'mlflow.trackingUri',
      'not a url',
      "'mlflow.trackingUri' ('not a url') is not a URL: write e.g. http://mlflow.mlflow:5000.",
    ],
    [
      'mlflow.credentialsSecret',
      'Mlflow_Credentials',
      "'mlflow.credentialsSecret' 'Mlflow_Credentials' must be a DNS label: lower-case letters, digits and '-', at most 63.",
    ],
    [
      'mlflow.namespace',
      'MLflow',
      "'mlflow.namespace' 'MLflow' must be a DNS label: lower-case letters, digits and '-', at most 63.",
    ],
    [
      'mlflow.cidr',
      '10.96.0/16',
      "'mlflow.cidr' '10.96.0/16' is not an IPv4 CIDR: write e.g. 203.0.113.0/24.",
    ],
    [
      'webhookRelay.githubRepository',
      'https://github.com/example/model-gitops',
      `'webhookRelay.githubRepository' ${OWNER_NAME}`,
    ],
    [
      'webhookRelay.githubRepository',
      'example/model-gitops/tree',
      `'webhookRelay.githubRepository' ${OWNER_NAME}`,
    ],
    ['webhookRelay.githubRepository', '../..', `'webhookRelay.githubRepository' ${OWNER_NAME}`],
    ['webhookRelay.ingress.host', 'Relay.example.com', `'webhookRelay.ingress.host' ${FQDN}`],
    ['webhookRelay.ingress.host', 'relay.example.com:443', `'webhookRelay.ingress.host' ${FQDN}`],
    ['webhookRelay.ingress.host', 'relay', `'webhookRelay.ingress.host' ${FQDN}`],
    ...['x30m', '30mx', '1d', '30'].map((d): [string, unknown, string] => [
      'externalSecrets',
      { secretStoreName: 'vault', refreshInterval: d },
      `'externalSecrets.refreshInterval' ${DURATION}`,
    ]),
    [
      'autoscaling.scaleDownStabilizationWindowSeconds',
      1.5,
      "'autoscaling.scaleDownStabilizationWindowSeconds' (1.5 s) must be a whole number of seconds ≥ 0",
    ],
    ['service.nodePort', 30080, "'service.nodePort' needs 'service.type: NodePort'"],
  ])('fails when %s is %j', (path, value, line) => {
    const c = production();
    setAt(c, path, value);
    const file = join(dir, 'rejected.yaml');
    expect(errorOf(c, 'rejected.yaml')).toBe(`${file}: invalid environment config:\n  - ${line}`);
  });

  /** The whole error for a config in `rejected.yaml`: the file, then one line per problem. */
  const whole = (...lines: string[]) =>
    `${join(dir, 'rejected.yaml')}: invalid environment config:\n${lines.map((l) => `  - ${l}`).join('\n')}`;

  it('fails on a PDB without autoscaling with that one problem (no HPA rule checked against defaults)', () => {
    const c = production();
    delete c.autoscaling;
    c.podDisruptionBudget.minAvailable = 3;
    expect(errorOf(c, 'rejected.yaml')).toBe(
      whole(
        "'podDisruptionBudget' needs 'autoscaling': a PDB on a fixed single replica would block every node drain",
      ),
    );
  });

  it('fails on an ExternalSecret for MLflow credentials where the model is baked', () => {
    const c = production();
    c.model = { from: 'baked' };
    c.externalSecrets = { secretStoreName: 'vault', mlflowCredentialsKey: 'mlflow' };
    expect(errorOf(c, 'rejected.yaml')).toBe(
      whole(
        "'externalSecrets.mlflowCredentialsKey' needs 'model.from: registry' (only the model-fetch init container reads MLflow credentials)",
      ),
    );
  });

  it('checks an MLflow section where the model is baked too', () => {
    const c = { ...production(), model: { from: 'baked' } };
    c.mlflow.cidr = '10.96.0.1/16';
    expect(errorOf(c, 'rejected.yaml')).toBe(
      whole("'mlflow.cidr' '10.96.0.1/16' has bits set below its /16 prefix: write 10.96.0.0/16."),
    );
  });

  it('fails on a canary section without delivery: canary, without judging its steps', () => {
    const c = { ...production(), canary: { steps: [{ setWeight: 50 }, { setWeight: 20 }] } };
    expect(errorOf(c, 'rejected.yaml')).toBe(
      whole(
        "'canary' needs 'delivery: canary' (a rolling Deployment has no canary steps): set it or remove this section",
      ),
    );
  });

  it('lists every problem, one line each', () => {
    const c = { ...production(), replicas: 2, canary: { smoke: false } };
    expect(errorOf(c, 'rejected.yaml')).toBe(
      whole(
        "'replicas' cannot be set together with 'autoscaling' (the HPA owns the count): remove one of them",
        "'canary' needs 'delivery: canary' (a rolling Deployment has no canary steps): set it or remove this section",
      ),
    );
  });

  it('fails on an empty file, naming the whole document', () => {
    expect(errorOf('', 'rejected.yaml')).toBe(
      whole("'(root)' Invalid input: expected object, received null"),
    );
  });
});

describe('Argo CD config', () => {
  it('fills the revision, namespace and project when the file gives only the repository', () => {
    const file = join(dir, 'argocd.yaml');
    writeFileSync(file, stringify({ repoURL: 'https://github.com/example/model-gitops.git' }));
    expect(readArgoCdConfig(file)).toEqual({
      repoURL: 'https://github.com/example/model-gitops.git',
      targetRevision: 'main',
      namespace: 'argocd',
      project: APP_NAME,
    });
  });

  it('fails without a repository, naming the file and the field', () => {
    const file = join(dir, 'argocd-empty.yaml');
    writeFileSync(file, stringify({ targetRevision: 'main' }));
    expect(() => readArgoCdConfig(file)).toThrow(
      `${file}: invalid Argo CD config:\n  - 'repoURL' Invalid input: expected string, received undefined`,
    );
  });
});
