import { Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { workloadNetworkPolicy, WorkloadNetworkPolicyProps } from '../src/network-policy';
import { Json } from './support/dist';

function synth(props: Partial<WorkloadNetworkPolicyProps> = {}): Json {
  const chart = Testing.chart();
  workloadNetworkPolicy(chart, {
    metadata: { name: 'app', namespace: 'apps' },
    pods: kplus.Pods.select(chart, 'Pods', { labels: { app: 'x' } }),
    port: 8000,
    fromOwnNamespace: false,
    fromNamespaces: [],
    fromIpBlocks: [],
    dnsNamespace: 'kube-system',
    egress: [],
    ...props,
  });
  return Testing.synth(chart)[0];
}

const port8000 = [{ port: 8000, protocol: 'TCP' }];

describe('workloadNetworkPolicy', () => {
  it('denies both ways by default and lets the pods reach only the cluster DNS', () => {
    const policy = synth({ dnsNamespace: 'dns-system' });
    expect(policy.metadata).toEqual({ name: 'app', namespace: 'apps' });
    expect(policy.spec).toEqual({
      podSelector: { matchLabels: { app: 'x' } },
      policyTypes: ['Egress', 'Ingress'],
      egress: [
        {
          to: [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'dns-system' } },
              podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
            },
          ],
          ports: [
            { port: 53, protocol: 'UDP' },
            { port: 53, protocol: 'TCP' },
          ],
        },
      ],
    });
  });

  it('admits the own namespace, the named namespaces (one rule) and each IP block on the port, in that order', () => {
    const spec = synth({
      fromOwnNamespace: true,
      fromNamespaces: ['ingress-nginx', 'monitoring'],
      fromIpBlocks: [{ cidr: '0.0.0.0/0', except: ['10.244.0.0/16'] }, { cidr: '203.0.113.0/24' }],
    }).spec;
    expect(spec.ingress).toEqual([
      { from: [{ podSelector: {} }], ports: port8000 },
      {
        from: ['ingress-nginx', 'monitoring'].map((ns) => ({
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
          podSelector: {},
        })),
        ports: port8000,
      },
      { from: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.244.0.0/16'] } }], ports: port8000 },
      { from: [{ ipBlock: { cidr: '203.0.113.0/24' } }], ports: port8000 },
    ]);
  });

  it('adds each egress rule after DNS, on its TCP port', () => {
    const egress = synth({
      egress: [
        { to: { namespaces: ['mlflow'] }, tcpPort: 5000 },
        { to: { ipBlock: { cidr: '0.0.0.0/0' } }, tcpPort: 443 },
      ],
    }).spec.egress;
    expect(egress.slice(1)).toEqual([
      {
        to: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'mlflow' } },
            podSelector: {},
          },
        ],
        ports: [{ port: 5000, protocol: 'TCP' }],
      },
      { to: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [{ port: 443, protocol: 'TCP' }] },
    ]);
  });
});
