import { Testing } from 'cdk8s';
import { InferenceService } from '../src/inference-service';
import { ServiceExposure } from '../src/service-exposure';
import { DistFile, Json, ofKind, readGenerated } from './support/dist';
import { REGISTRY_SOURCE } from './support/pins';

// Who may reach which pod on which port, evaluated from the NetworkPolicies themselves (not from the config that made
// them), for each environment's committed output and for each exposure variant. The evaluation follows the
// networking.k8s.io/v1 semantics, written out plainly below. Addresses are the source addresses as the pod sees them:
// with externalTrafficPolicy Local a client keeps its own, with Cluster it arrives with a node's.

/** Someone who opens a connection: a pod (namespace, labels, pod address) or an address outside the cluster. */
interface Source {
  readonly ip: string;
  readonly pod?: { readonly namespace: string; readonly labels: Record<string, string> };
}

/** The sources every table below is evaluated for (pod addresses in the production pod CIDR 10.244.0.0/16). */
const SOURCES: Record<string, Source> = {
  'a pod in the service namespace': {
    ip: '10.244.1.5',
    pod: { namespace: 'cats-dogs-classifier', labels: { app: 'debug' } },
  },
  'the ingress controller': {
    ip: '10.244.2.3',
    pod: { namespace: 'ingress-nginx', labels: { 'app.kubernetes.io/name': 'ingress-nginx' } },
  },
  Prometheus: { ip: '10.244.2.4', pod: { namespace: 'monitoring', labels: { app: 'prometheus' } } },
  MLflow: { ip: '10.244.3.4', pod: { namespace: 'mlflow', labels: { app: 'mlflow' } } },
  'a pod in another namespace': { ip: '10.244.4.4', pod: { namespace: 'default', labels: { app: 'x' } } },
  'an internet client': { ip: '203.0.113.7' },
  'a client in 198.51.100.0/24': { ip: '198.51.100.9' },
  'a node (SNAT) in 10.0.0.0/16': { ip: '10.0.0.12' },
  'the laptop host via the kind/k3d docker gateway': { ip: '172.18.0.1' },
  'the laptop host via the minikube gateway': { ip: '192.168.49.1' },
};
/** The ports every table is evaluated on: the service's, the relay's, and one nothing listens on. */
const PORTS = [8000, 8080, 9090];

const SERVICE_POD = {
  namespace: 'cats-dogs-classifier',
  labels: { 'app.kubernetes.io/name': 'cats-dogs-classifier' },
};
const RELAY_POD = {
  namespace: 'cats-dogs-classifier',
  labels: { 'app.kubernetes.io/name': 'model-gitops-webhook-relay' },
};

const ipNumber = (ip: string) => ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
function inCidr(ip: string, cidr: string): boolean {
  const [network, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  return Math.floor(ipNumber(ip) / size) === Math.floor(ipNumber(network!) / size);
}

/** matchLabels only: every label of the selector is on the object (an empty selector selects everything). */
function selects(selector: Json, labels: Record<string, string>): boolean {
  if (selector.matchExpressions) throw new Error('matchExpressions: not evaluated by this test');
  return Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

/** One `from` peer of a rule in a policy of namespace `policyNamespace`. */
function peerAdmits(peer: Json, policyNamespace: string, source: Source): boolean {
  if (peer.ipBlock) {
    // Applied to pod addresses too, as Calico does (the strictest reading: a pod must not pass as a client).
    return (
      inCidr(source.ip, peer.ipBlock.cidr) &&
      !(peer.ipBlock.except ?? []).some((c: string) => inCidr(source.ip, c))
    );
  }
  if (!source.pod) return false; // pod and namespace selectors only ever match pods
  const namespaceOk = peer.namespaceSelector
    ? selects(peer.namespaceSelector, { 'kubernetes.io/metadata.name': source.pod.namespace })
    : source.pod.namespace === policyNamespace;
  return namespaceOk && selects(peer.podSelector ?? {}, source.pod.labels);
}

/** One entry of a rule's `ports` (no ports: every port). */
function portAdmits(ports: Json[] | undefined, port: number): boolean {
  if (!ports?.length) return true;
  return ports.some((p) => {
    if (typeof p.port === 'string') throw new Error('named ports: not evaluated by this test');
    return (p.protocol ?? 'TCP') === 'TCP' && (p.port === undefined || p.port === port);
  });
}

/**
 * May `source` open a TCP connection to `pod` on `port`? A pod no ingress policy selects admits everything; otherwise
 * the connection needs one rule, of any policy selecting the pod, whose ports and peers both admit it.
 */
function admitted(policies: Json[], pod: typeof SERVICE_POD, source: Source, port: number): boolean {
  const selecting = policies.filter(
    (p) =>
      p.metadata.namespace === pod.namespace &&
      selects(p.spec.podSelector, pod.labels) &&
      (p.spec.policyTypes ?? ['Ingress']).includes('Ingress'),
  );
  if (selecting.length === 0) return true;
  return selecting.some((p) =>
    (p.spec.ingress ?? []).some(
      (rule: Json) =>
        portAdmits(rule.ports, port) &&
        (!rule.from?.length ||
          rule.from.some((peer: Json) => peerAdmits(peer, p.metadata.namespace, source))),
    ),
  );
}

/** Every `source → port` the policies admit to `pod`, as readable lines. */
function whoIsAdmitted(policies: Json[], pod: typeof SERVICE_POD): string[] {
  return Object.entries(SOURCES).flatMap(([name, source]) =>
    PORTS.filter((port) => admitted(policies, pod, source, port)).map((port) => `${name} → ${port}`),
  );
}

const policiesOf = (files: readonly DistFile[]) => ofKind(files, 'NetworkPolicy').map((f) => f.obj as Json);
const IN_CLUSTER = [
  'a pod in the service namespace → 8000',
  'the ingress controller → 8000',
  'Prometheus → 8000',
];

describe('the evaluation itself', () => {
  it('admits everything to a pod no policy selects, and nothing that a default-deny policy does not name', () => {
    const open = whoIsAdmitted([], SERVICE_POD);
    expect(open).toHaveLength(Object.keys(SOURCES).length * PORTS.length);
    const denyAll = [
      {
        metadata: { namespace: 'cats-dogs-classifier' },
        spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [] },
      },
    ];
    expect(whoIsAdmitted(denyAll, SERVICE_POD)).toEqual([]);
  });

  it('reads ipBlock except, namespace and pod selectors and ports as the API defines them', () => {
    const policy = {
      metadata: { namespace: 'cats-dogs-classifier' },
      spec: {
        podSelector: { matchLabels: SERVICE_POD.labels },
        policyTypes: ['Ingress'],
        ingress: [
          { from: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] } }], ports: [{ port: 9090 }] },
          {
            from: [{ podSelector: { matchLabels: { app: 'debug' } } }],
            ports: [{ port: 8080, protocol: 'TCP' }],
          },
          { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'mlflow' } } }] },
        ],
      },
    };
    expect(whoIsAdmitted([policy], SERVICE_POD)).toEqual([
      'a pod in the service namespace → 8080',
      'MLflow → 8000',
      'MLflow → 8080',
      'MLflow → 9090',
      'an internet client → 9090',
      'a client in 198.51.100.0/24 → 9090',
      'the laptop host via the kind/k3d docker gateway → 9090',
      'the laptop host via the minikube gateway → 9090',
    ]);
  });
});

describe.each([
  {
    env: 'production',
    exposure: 'LoadBalancer, 0.0.0.0/0 except the pod CIDR, externalTrafficPolicy Local',
    service: [
      ...IN_CLUSTER,
      'an internet client → 8000',
      'a client in 198.51.100.0/24 → 8000',
      'a node (SNAT) in 10.0.0.0/16 → 8000',
      'the laptop host via the kind/k3d docker gateway → 8000',
      'the laptop host via the minikube gateway → 8000',
    ],
    relay: ['the ingress controller → 8080', 'Prometheus → 8080'],
  },
  {
    env: 'staging',
    exposure: 'ClusterIP behind the ingress controller',
    service: IN_CLUSTER,
    relay: undefined,
  },
  {
    env: 'local',
    exposure: 'NodePort, the docker/minikube networks, externalTrafficPolicy Local',
    service: [
      ...IN_CLUSTER,
      'the laptop host via the kind/k3d docker gateway → 8000',
      'the laptop host via the minikube gateway → 8000',
    ],
    relay: undefined,
  },
])('who reaches the pods of dist/$env ($exposure)', ({ env, service, relay }) => {
  const files = readGenerated(`dist/${env}`);
  const policies = policiesOf(files);

  it('the service pods admit exactly the intended sources, on port 8000 only', () => {
    expect(whoIsAdmitted(policies, SERVICE_POD)).toEqual(service);
  });

  it('the webhook relay admits exactly its ingress controller and Prometheus, on 8080 only', () => {
    const relayDeployed = ofKind(files, 'Deployment').some(
      (f) => f.obj.metadata.name === 'model-gitops-webhook-relay',
    );
    expect(relayDeployed).toBe(relay !== undefined);
    if (relay) expect(whoIsAdmitted(policies, RELAY_POD)).toEqual(relay);
  });
});

describe('the relay of dist/production through its Ingress', () => {
  const files = readGenerated('dist/production');
  const ingress: Json = ofKind(files, 'Ingress').find(
    (f) => f.obj.metadata.name === 'model-gitops-webhook-relay',
  )!.obj;

  /** Does a request for `path` from outside reach the relay? Through the controller only if a rule routes it. */
  const reachableFromOutside = (path: string) =>
    admitted(policiesOf(files), RELAY_POD, SOURCES['the ingress controller']!, 8080) &&
    ingress.spec.rules.some((r: Json) =>
      r.http.paths.some((p: Json) => (p.pathType === 'Exact' ? p.path === path : path.startsWith(p.path))),
    );

  it.each([
    ['/webhooks/mlflow', true],
    ['/health', true],
    ['/metrics', false],
    ['/webhooks/mlflow/x', false],
    ['/', false],
  ])('%s is reachable from outside: %s', (path, expected) => {
    expect(reachableFromOutside(path)).toBe(expected);
  });

  it('/metrics is reachable for Prometheus, from the monitoring namespace', () => {
    expect(admitted(policiesOf(files), RELAY_POD, SOURCES.Prometheus!, 8080)).toBe(true);
  });
});

describe.each([
  {
    exposure: 'LoadBalancer with Local admits its source ranges, pod CIDR cut out',
    make: () => ServiceExposure.loadBalancer({ loadBalancerSourceRanges: ['198.51.100.0/24', '10.0.0.0/8'] }),
    external: ['a client in 198.51.100.0/24 → 8000', 'a node (SNAT) in 10.0.0.0/16 → 8000'],
  },
  {
    exposure: 'LoadBalancer with Cluster admits the nodes and no client directly',
    make: () =>
      ServiceExposure.loadBalancer({
        loadBalancerSourceRanges: ['198.51.100.0/24'],
        externalTrafficPolicy: 'Cluster',
        nodeCidrs: ['10.0.0.0/16'],
      }),
    external: ['a node (SNAT) in 10.0.0.0/16 → 8000'],
  },
  {
    exposure: 'NodePort with Local admits its source ranges',
    make: () => ServiceExposure.nodePort({ nodePortSourceRanges: ['192.168.0.0/16'] }),
    external: ['the laptop host via the minikube gateway → 8000'],
  },
  {
    exposure: 'NodePort with Cluster admits the nodes',
    make: () => ServiceExposure.nodePort({ externalTrafficPolicy: 'Cluster', nodeCidrs: ['10.0.0.0/16'] }),
    external: ['a node (SNAT) in 10.0.0.0/16 → 8000'],
  },
  {
    exposure: 'ClusterIP admits nothing from outside',
    make: () => ServiceExposure.clusterIp(),
    external: [],
  },
])('exposure variants: $exposure', ({ make, external }) => {
  it('admits exactly the in-cluster peers and its external sources', () => {
    const chart = Testing.chart();
    new InferenceService(chart, 'Inference', {
      image: 'ghcr.io/example/model-gitops:0.1.0',
      modelSource: REGISTRY_SOURCE,
      exposure: make(),
      podCidrs: ['10.244.0.0/16'],
    });
    const policies = Testing.synth(chart).filter((o) => o.kind === 'NetworkPolicy');
    const expected = [...IN_CLUSTER, ...external];
    const order = Object.keys(SOURCES);
    expected.sort((a, b) => order.indexOf(a.split(' → ')[0]!) - order.indexOf(b.split(' → ')[0]!));
    expect(whoIsAdmitted(policies, SERVICE_POD)).toEqual(expected);
  });
});
