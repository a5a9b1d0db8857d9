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
