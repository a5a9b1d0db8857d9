import { Duration, Size, Testing } from 'cdk8s';
import { WEBHOOK_PATH } from '../../pipeline/src/relay';
import {
  RELAY_SEMI_SPACE_MIB,
  RELAY_WEBHOOK_PATH,
  WebhookRelay,
  WebhookRelayProps,
} from '../src/webhook-relay';
import { Json } from './support/dist';
import { describeEveryProp, PropCheck, renderedProbe } from './support/every-prop';

function synth(props: Partial<WebhookRelayProps> = {}): Json[] {
  const chart = Testing.chart();
  new WebhookRelay(chart, 'Relay', {
    image: 'ghcr.io/example/model-gitops:0.1.0',
    githubRepository: 'example/model-gitops',
    ...props,
  });
  return Testing.synth(chart);
}
const find = (objects: Json[], kind: string): Json => objects.find((o) => o.kind === kind);
const container = (objects: Json[]) => find(objects, 'Deployment').spec.template.spec.containers[0];

describe('WebhookRelay', () => {
  const objects = synth();

  it('emits its own ServiceAccount, Deployment, Service, NetworkPolicy and ServiceMonitor', () => {
    expect(objects.map((o) => o.kind).sort()).toEqual([
      'Deployment',
      'NetworkPolicy',
      'Service',
      'ServiceAccount',
      'ServiceMonitor',
    ]);
    for (const o of objects) expect(o.metadata.name).toBe('model-gitops-webhook-relay');
  });

  it('runs `cli.js relay` from the service image on port 8080 named http, one replica', () => {
    const c = container(objects);
    expect(c.command).toEqual([
      'node',
      `--max-semi-space-size=${RELAY_SEMI_SPACE_MIB}`,
      '/app/build/pipeline/src/cli.js',
      'relay',
    ]);
    expect(c.ports).toEqual([{ name: 'http', containerPort: 8080 }]);
    expect(find(objects, 'Deployment').spec.replicas).toBe(1);
    expect(find(objects, 'Service').spec.ports).toEqual([
      { name: 'http', port: 8080, targetPort: 8080, protocol: 'TCP' },
    ]);
  });

  it('records why one replica needs neither a PDB nor a topology spread, as Polaris exemptions', () => {
    expect(find(objects, 'Deployment').metadata.annotations).toEqual({
      'polaris.fairwinds.com/missingPodDisruptionBudget-exempt': 'true',
      'polaris.fairwinds.com/topologySpreadConstraint-exempt': 'true',
      'model-gitops/exemption-reason': expect.stringContaining('one replica by design'),
    });
  });

  it('reads the webhook secret and the GitHub token from a Secret by name and the rest from plain env', () => {
    const env = Object.fromEntries(container(objects).env.map((e: Json) => [e.name, e.value ?? e.valueFrom]));
    expect(env).toMatchObject({
      PORT: '8080',
      LOG_LEVEL: 'info',
      GITHUB_REPOSITORY: 'example/model-gitops',
      RELAY_MODEL_NAME: 'cats-dogs-classifier',
      RELAY_ALIAS_ENVIRONMENTS: 'production=production,staging=staging',
      MLFLOW_WEBHOOK_SECRET: {
        secretKeyRef: { name: 'model-gitops-webhook-relay', key: 'MLFLOW_WEBHOOK_SECRET' },
      },
      GITHUB_TOKEN: { secretKeyRef: { name: 'model-gitops-webhook-relay', key: 'GITHUB_TOKEN' } },
    });
  });

  it('is hardened like the service', () => {
    expect(container(objects).securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 10001,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(find(objects, 'Deployment').spec.template.spec.automountServiceAccountToken).toBe(false);
    expect(container(objects).resources.requests).toEqual({ cpu: '50m', memory: '96Mi' });
  });

  it('allows egress to DNS and HTTPS 443 only', () => {
    const egress = find(objects, 'NetworkPolicy').spec.egress;
    expect(egress.map((r: Json) => r.ports.map((p: Json) => `${p.protocol}/${p.port}`))).toEqual([
      ['UDP/53', 'TCP/53'],
      ['TCP/443'],
    ]);
  });

  it('admits webhook senders and Prometheus on 8080 only', () => {
    const ingress = find(objects, 'NetworkPolicy').spec.ingress;
    expect(ingress).toEqual([
      {
        from: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } },
            podSelector: {},
          },
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
            podSelector: {},
          },
        ],
        ports: [{ port: 8080, protocol: 'TCP' }],
      },
    ]);
  });

  it('admits an external MLflow by CIDR', () => {
    const ingress = find(synth({ ingressCidrs: ['203.0.113.0/24'] }), 'NetworkPolicy').spec.ingress;
    expect(ingress[1]).toEqual({
      from: [{ ipBlock: { cidr: '203.0.113.0/24' } }],
      ports: [{ port: 8080, protocol: 'TCP' }],
    });
  });

  it('maps the configured aliases in a stable order', () => {
    const env = container(synth({ aliasEnvironments: { staging: 'staging', canary: 'production' } })).env;
    expect(env.find((e: Json) => e.name === 'RELAY_ALIAS_ENVIRONMENTS').value).toBe(
      'canary=production,staging=staging',
    );
  });

  it('takes probe timings and the /tmp size from props', () => {
    const objects = synth({
      readinessProbe: { periodSeconds: Duration.seconds(4) },
      tmpVolumeSizeLimit: Size.mebibytes(32),
    });
    expect(container(objects).readinessProbe).toMatchObject({
      httpGet: { path: '/health', port: 8080 },
      periodSeconds: 4,
      initialDelaySeconds: 2,
    });
    expect(find(objects, 'Deployment').spec.template.spec.volumes).toEqual([
      { name: 'tmp', emptyDir: { sizeLimit: '32Mi' } },
    ]);
  });

  it('is scraped at /metrics on the http port every 30 s, or at the scrapeInterval prop', () => {
    expect(find(objects, 'ServiceMonitor').spec.endpoints).toEqual([
      { port: 'http', path: '/metrics', interval: '30s' },
    ]);
    const every15 = synth({ scrapeInterval: Duration.seconds(15) });
    expect(find(every15, 'ServiceMonitor').spec.endpoints[0].interval).toBe('15s');
  });

  it('emits no Ingress unless asked', () => {
    expect(find(objects, 'Ingress')).toBeUndefined();
  });

  it('routes only the webhook path and /health through a TLS Ingress, never /metrics', () => {
    const ingress = find(synth({ ingress: { host: 'relay.example.com' } }), 'Ingress');
    const backend = { service: { name: 'model-gitops-webhook-relay', port: { name: 'http' } } };
    expect(ingress.metadata.name).toBe('model-gitops-webhook-relay');
    expect(ingress.spec).toEqual({
      ingressClassName: 'nginx',
      tls: [{ hosts: ['relay.example.com'], secretName: 'model-gitops-webhook-relay-tls' }],
      rules: [
        {
          host: 'relay.example.com',
          http: {
            paths: [
              { path: '/webhooks/mlflow', pathType: 'Exact', backend },
              { path: '/health', pathType: 'Exact', backend },
            ],
          },
        },
      ],
    });
  });

  it("routes the relay's own webhook path", () => {
    expect(RELAY_WEBHOOK_PATH).toBe(WEBHOOK_PATH);
  });

  it('takes the Ingress class, TLS Secret and annotations from props', () => {
    const ingress = find(
      synth({
        ingress: {
          host: 'hooks.example.org',
          className: 'traefik',
          tlsSecretName: 'hooks-tls',
          annotations: { 'cert-manager.io/cluster-issuer': 'letsencrypt' },
        },
      }),
      'Ingress',
    );
    expect(ingress.metadata.annotations).toEqual({ 'cert-manager.io/cluster-issuer': 'letsencrypt' });
    expect(ingress.spec).toMatchObject({
      ingressClassName: 'traefik',
      tls: [{ hosts: ['hooks.example.org'], secretName: 'hooks-tls' }],
    });
  });

  it('fails when an Ingress has no admitted controller namespace to come through', () => {
    expect(() => synth({ ingress: { host: 'relay.example.com' }, ingressNamespaces: [] })).toThrow(
      "'ingressNamespaces' is empty, so the NetworkPolicy would drop every delivery the Ingress forwards: add the " +
        "ingress controller's namespace (e.g. ingress-nginx), or remove 'ingress'.",
    );
  });

  it.each(['relay', '-relay.example.com', 'relay.example.com-', 'relay.example..com', 'Relay.example.com'])(
    'fails when the Ingress host %j is not a DNS name',
    (host) => {
      expect(() => synth({ ingress: { host } })).toThrow(
        `'ingress.host' '${host}' must be a fully qualified DNS name, e.g. relay.example.com.`,
      );
    },
  );

  it('takes an Ingress host with one-letter labels', () => {
    expect(find(synth({ ingress: { host: 'a.b.example.io' } }), 'Ingress').spec.rules[0].host).toBe(
      'a.b.example.io',
    );
  });

  it.each(['https://github.com/example/model-gitops', 'example/model-gitops/extra', 'model-gitops'])(
    'fails when githubRepository %j is not owner/name',
    (repo) => {
      expect(() => synth({ githubRepository: repo })).toThrow(
        `'githubRepository' '${repo}' must look like owner/name, e.g. acme/cats-dogs (neither part '.' or '..').`,
      );
    },
  );

  it('fails on an image without a tag, as the service does', () => {
    expect(() => synth({ image: 'ghcr.io/example/model-gitops' })).toThrow(
      "image 'ghcr.io/example/model-gitops' has neither a tag nor a digest",
    );
  });

  it('fails naming the prop when the resources or the /tmp size break a rule', () => {
    expect(() =>
      synth({
        resources: {
          cpuRequestMillicores: 0,
          cpuLimitMillicores: 500,
          memoryRequest: Size.mebibytes(96),
          memoryLimit: Size.mebibytes(256),
        },
      }),
    ).toThrow(/^'resources\.cpuRequestMillicores' \(0\) must be a positive whole number of millicores/);
    expect(() => synth({ tmpVolumeSizeLimit: Size.kibibytes(512) })).toThrow(
      "'tmpVolumeSizeLimit' (0.5Mi) must be a positive whole number of mebibytes.",
    );
  });

  it('fails when no alias is mapped', () => {
    expect(() => synth({ aliasEnvironments: {} })).toThrow("'aliasEnvironments' is empty");
  });
});

/** Every prop with a non-default value; `Required<>` makes the typecheck fail when a prop is added without one. */
const EVERY_PROP: Required<WebhookRelayProps> = {
  image: 'registry.example.com/other/model-gitops:9.9.9',
  githubRepository: 'other/repo',
  namespace: 'other-namespace',
  name: 'other-relay',
  secretName: 'other-relay-secret',
  modelName: 'other-model',
  aliasEnvironments: { champion: 'production' },
  port: 9090,
  logLevel: 'debug',
  resources: {
    cpuRequestMillicores: 60,
    cpuLimitMillicores: 1000,
    memoryRequest: Size.mebibytes(100),
    memoryLimit: Size.mebibytes(300),
  },
  ingressNamespaces: ['traefik'],
  ingress: { host: 'hooks.example.org' },
  ingressCidrs: ['198.51.100.0/24'],
  monitoringNamespace: 'observability',
  dnsNamespace: 'dns-system',
  serviceMonitorLabels: { team: 'ml' },
  scrapeInterval: Duration.seconds(15),
  readinessProbe: {
    initialDelaySeconds: Duration.seconds(3),
    periodSeconds: Duration.seconds(11),
    timeoutSeconds: Duration.seconds(4),
    failureThreshold: 3,
  },
  livenessProbe: {
    initialDelaySeconds: Duration.seconds(16),
    periodSeconds: Duration.seconds(12),
    timeoutSeconds: Duration.seconds(5),
    failureThreshold: 4,
  },
  tmpVolumeSizeLimit: Size.mebibytes(24),
};

const env = (o: Json[]): Json =>
  Object.fromEntries(container(o).env.map((e: Json) => [e.name, e.value ?? e.valueFrom]));
const policy = (o: Json[]): Json => find(o, 'NetworkPolicy').spec;
const peers = (o: Json[]): Json[] =>
  policy(o).ingress[0].from.map((p: Json) => p.namespaceSelector.matchLabels['kubernetes.io/metadata.name']);

/** Where each prop lands; `Record<keyof …>` makes the typecheck fail when a prop has no check. */
const LANDS: Record<keyof WebhookRelayProps, PropCheck> = {
  image: (o) => expect(container(o).image).toBe(EVERY_PROP.image),
  githubRepository: (o) => expect(env(o).GITHUB_REPOSITORY).toBe('other/repo'),
  namespace: (o) => {
    for (const obj of o) expect(obj.metadata.namespace).toBe('other-namespace');
  },
  name: (o) => {
    for (const obj of o) expect(obj.metadata.name).toBe('other-relay');
  },
  secretName: (o) =>
    expect(env(o).GITHUB_TOKEN).toEqual({
      secretKeyRef: { name: 'other-relay-secret', key: 'GITHUB_TOKEN' },
    }),
  modelName: (o) => expect(env(o).RELAY_MODEL_NAME).toBe('other-model'),
  aliasEnvironments: (o) => expect(env(o).RELAY_ALIAS_ENVIRONMENTS).toBe('champion=production'),
  port: (o) => {
    expect(container(o).ports).toEqual([{ name: 'http', containerPort: 9090 }]);
    expect(find(o, 'Service').spec.ports[0]).toMatchObject({ port: 9090, targetPort: 9090 });
    expect(policy(o).ingress[0].ports).toEqual([{ port: 9090, protocol: 'TCP' }]);
  },
  logLevel: (o) => expect(env(o).LOG_LEVEL).toBe('debug'),
  resources: (o) =>
    expect(container(o).resources).toEqual({
      requests: { cpu: '60m', memory: '100Mi' },
      limits: { cpu: '1', memory: '300Mi' },
    }),
  ingressNamespaces: (o) => expect(peers(o)).toEqual(['traefik', 'observability']),
  ingress: (o) => expect(find(o, 'Ingress').spec.rules[0].host).toBe('hooks.example.org'),
  ingressCidrs: (o) => expect(policy(o).ingress[1].from).toEqual([{ ipBlock: { cidr: '198.51.100.0/24' } }]),
  monitoringNamespace: (o) => expect(peers(o)).toContain('observability'),
  dnsNamespace: (o) =>
    expect(policy(o).egress[0].to[0].namespaceSelector.matchLabels['kubernetes.io/metadata.name']).toBe(
      'dns-system',
    ),
  serviceMonitorLabels: (o) => {
    expect(find(o, 'ServiceMonitor').metadata.labels.team).toBe('ml');
    expect(find(o, 'ServiceMonitor').metadata.labels.release).toBeUndefined();
  },
  scrapeInterval: (o) => expect(find(o, 'ServiceMonitor').spec.endpoints[0].interval).toBe('15s'),
  readinessProbe: (o) =>
    expect(container(o).readinessProbe).toEqual(renderedProbe('/health', 9090, EVERY_PROP.readinessProbe)),
  livenessProbe: (o) =>
    expect(container(o).livenessProbe).toEqual(renderedProbe('/health', 9090, EVERY_PROP.livenessProbe)),
  tmpVolumeSizeLimit: (o) =>
    expect(find(o, 'Deployment').spec.template.spec.volumes).toEqual([
      { name: 'tmp', emptyDir: { sizeLimit: '24Mi' } },
    ]),
};

describeEveryProp('WebhookRelay', EVERY_PROP, LANDS, synth);
