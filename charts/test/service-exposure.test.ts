import { ServiceType } from 'cdk8s-plus-28';
import { externalTrafficProblems, ExternalTrafficFields } from '../src/config/external-traffic';
import { ServiceExposure } from '../src/service-exposure';

const PUBLIC = { loadBalancerSourceRanges: ['0.0.0.0/0'] };
const HOST = { nodePortSourceRanges: ['172.16.0.0/12'] };

/** The fields at fault and their messages, with config-style names. */
const problems = (fields: ExternalTrafficFields, podCidrs: string[] = []) =>
  externalTrafficProblems(fields, podCidrs, (f) => `<${f}>`).map((p) => `<${p.field}> ${p.message}`);

describe('ServiceExposure', () => {
  it('defaults every variant to port 80 without annotations', () => {
    for (const e of [
      ServiceExposure.loadBalancer(PUBLIC),
      ServiceExposure.nodePort(HOST),
      ServiceExposure.clusterIp(),
    ]) {
      expect([e.port, e.annotations, e.tlsPort, e.nodePort]).toEqual([80, {}, undefined, undefined]);
    }
  });

  it('carries the Service type of each variant', () => {
    expect(ServiceExposure.loadBalancer(PUBLIC).type).toBe(ServiceType.LOAD_BALANCER);
    expect(ServiceExposure.nodePort(HOST).type).toBe(ServiceType.NODE_PORT);
    expect(ServiceExposure.clusterIp().type).toBe(ServiceType.CLUSTER_IP);
  });

  it('keeps the TLS port of a load balancer and the node port of a NodePort', () => {
    expect(ServiceExposure.loadBalancer({ ...PUBLIC, tlsPort: 443, annotations: { a: 'b' } })).toMatchObject({
      tlsPort: 443,
      annotations: { a: 'b' },
    });
    expect(ServiceExposure.nodePort({ ...HOST, nodePort: 30080, port: 8080 })).toMatchObject({
      nodePort: 30080,
      port: 8080,
    });
  });

  it('defaults externalTrafficPolicy to Local for LoadBalancer and NodePort, and leaves it out for ClusterIP', () => {
    expect(ServiceExposure.loadBalancer(PUBLIC).externalTrafficPolicy).toBe('Local');
    expect(ServiceExposure.nodePort(HOST).externalTrafficPolicy).toBe('Local');
    expect(ServiceExposure.clusterIp().externalTrafficPolicy).toBeUndefined();
  });
});

describe('ServiceExposure.networkPolicySources', () => {
  it('admits the client ranges with Local, cutting out the pod CIDRs strictly inside each', () => {
    const lb = ServiceExposure.loadBalancer({ loadBalancerSourceRanges: ['0.0.0.0/0', '10.0.0.0/8'] });
    expect(lb.networkPolicySources(['10.244.0.0/16', '10.0.0.0/8'])).toEqual([
      { cidr: '0.0.0.0/0', except: ['10.244.0.0/16', '10.0.0.0/8'] },
      { cidr: '10.0.0.0/8', except: ['10.244.0.0/16'] },
    ]);
    expect(ServiceExposure.nodePort(HOST).networkPolicySources(['10.244.0.0/16'])).toEqual([
      { cidr: '172.16.0.0/12' },
    ]);
  });

  it('admits the node CIDRs with Cluster, never the client ranges', () => {
    const lb = ServiceExposure.loadBalancer({
      loadBalancerSourceRanges: ['203.0.113.0/24'],
      externalTrafficPolicy: 'Cluster',
      nodeCidrs: ['10.0.0.0/16'],
    });
    expect(lb.networkPolicySources([])).toEqual([{ cidr: '10.0.0.0/16' }]);
  });

  it('admits nothing by ipBlock for ClusterIP', () => {
    expect(ServiceExposure.clusterIp().networkPolicySources(['10.244.0.0/16'])).toEqual([]);
  });
});

describe('externalTrafficProblems', () => {
  it('accepts each exposure that admits its external traffic', () => {
    expect(
      problems({ type: 'LoadBalancer', loadBalancerSourceRanges: ['0.0.0.0/0'] }, ['10.244.0.0/16']),
    ).toEqual([]);
    expect(problems({ type: 'NodePort', nodePortSourceRanges: ['172.16.0.0/12'] })).toEqual([]);
    expect(
      problems({ type: 'NodePort', externalTrafficPolicy: 'Cluster', nodeCidrs: ['10.0.0.0/16'] }),
    ).toEqual([]);
    expect(problems({ type: 'ClusterIP' })).toEqual([]);
  });

  it('fails when a LoadBalancer has no source ranges, naming the fields and both fixes', () => {
    expect(problems({ type: 'LoadBalancer' })).toEqual([
      '<loadBalancerSourceRanges> is empty, so the NetworkPolicy would admit none of its external traffic: external ' +
        "clients reach the pods from their own or a node's address, never from a pod in <ingressNamespaces>. Fix: " +
        "list the clients' CIDRs in <loadBalancerSourceRanges> (['0.0.0.0/0'] for a public endpoint), or set <type> " +
        'to ClusterIP and reach the service through the ingress controller',
    ]);
    expect(problems({ type: 'LoadBalancer', loadBalancerSourceRanges: [] })).toHaveLength(1);
  });

  it('fails when a NodePort with Local has no source ranges', () => {
    expect(problems({ type: 'NodePort' })).toEqual([
      expect.stringMatching(
        /^<nodePortSourceRanges> is empty, .* list the clients' CIDRs in <nodePortSourceRanges>, or set <type> to ClusterIP/,
      ),
    ]);
  });

  it('fails when externalTrafficPolicy Cluster has no node CIDRs, naming all three fixes', () => {
    expect(
      problems({
        type: 'LoadBalancer',
        loadBalancerSourceRanges: ['0.0.0.0/0'],
        externalTrafficPolicy: 'Cluster',
      }),
    ).toEqual([
      expect.stringMatching(
        /^<nodeCidrs> is empty, .*with <externalTrafficPolicy> Cluster.*list the nodes' CIDRs in <nodeCidrs>, or use externalTrafficPolicy Local with source ranges, or set <type> to ClusterIP/,
      ),
    ]);
  });

  it('fails when NodePort source ranges meet externalTrafficPolicy Cluster (nothing could enforce them)', () => {
    expect(
      problems({
        type: 'NodePort',
        externalTrafficPolicy: 'Cluster',
        nodeCidrs: ['10.0.0.0/16'],
        nodePortSourceRanges: ['172.16.0.0/12'],
      }),
    ).toEqual([
      "<nodePortSourceRanges> cannot be enforced with <externalTrafficPolicy> Cluster (clients arrive with a node's " +
        'address): remove it, or use externalTrafficPolicy Local',
    ]);
  });

  it('fails when fields belong to another Service type or traffic policy', () => {
    expect(
      problems({
        type: 'ClusterIP',
        loadBalancerSourceRanges: ['0.0.0.0/0'],
        externalTrafficPolicy: 'Local',
      }),
    ).toEqual([
      '<loadBalancerSourceRanges> needs <type> LoadBalancer or NodePort',
      '<externalTrafficPolicy> needs <type> LoadBalancer or NodePort',
    ]);
    expect(problems({ type: 'NodePort', ...HOST, loadBalancerSourceRanges: ['0.0.0.0/0'] })).toEqual([
      '<loadBalancerSourceRanges> needs <type> LoadBalancer (a NodePort has no load balancer)',
    ]);
    expect(problems({ type: 'LoadBalancer', ...PUBLIC, ...HOST })).toEqual([
      '<nodePortSourceRanges> needs <type> NodePort; a LoadBalancer uses loadBalancerSourceRanges',
    ]);
    expect(problems({ type: 'LoadBalancer', ...PUBLIC, nodeCidrs: ['10.0.0.0/16'] })).toEqual([
      '<nodeCidrs> needs <externalTrafficPolicy> Cluster: remove it',
    ]);
  });

  it('fails when a range lies within the pod CIDRs, which the policy cuts out', () => {
    expect(
      problems({ type: 'LoadBalancer', loadBalancerSourceRanges: ['10.244.7.0/24'] }, ['10.244.0.0/16']),
    ).toEqual([
      expect.stringMatching(
        /^<loadBalancerSourceRanges> '10\.244\.7\.0\/24' lies within <podCidrs> '10\.244\.0\.0\/16', which the NetworkPolicy cuts out, so the NetworkPolicy would admit none/,
      ),
    ]);
  });

  it('fails when a range has host bits set, naming the network address', () => {
    expect(problems({ type: 'LoadBalancer', loadBalancerSourceRanges: ['203.0.113.7/24'] })).toEqual([
      "<loadBalancerSourceRanges> '203.0.113.7/24' has bits set below its /24 prefix: write 203.0.113.0/24",
    ]);
    expect(problems({ type: 'ClusterIP' }, ['10.244.0.1/16'])).toEqual([]);
    expect(problems({ type: 'NodePort', ...HOST }, ['10.244.0.1/16'])).toEqual([
      "<podCidrs> '10.244.0.1/16' has bits set below its /16 prefix: write 10.244.0.0/16",
    ]);
  });
});

describe('ServiceExposure.validate', () => {
  it("fails naming the construct's props", () => {
    expect(() => ServiceExposure.loadBalancer({ loadBalancerSourceRanges: [] }).validate([])).toThrow(
      /^'loadBalancerSourceRanges' is empty, .* in 'loadBalancerSourceRanges' \(\['0\.0\.0\.0\/0'\] for a public endpoint\), or set 'type' to ClusterIP .*controller\.$/,
    );
    expect(() => ServiceExposure.nodePort(HOST).validate([])).not.toThrow();
  });
});

describe('ServiceExposure.validate and networkPolicySources, edge cases', () => {
  it('joins several problems into one message, each ending with a full stop', () => {
    const e = ServiceExposure.loadBalancer({
      loadBalancerSourceRanges: ['203.0.113.7/24', '198.51.100.1/24'],
    });
    expect(() => e.validate([])).toThrow(
      "'loadBalancerSourceRanges' '203.0.113.7/24' has bits set below its /24 prefix: write 203.0.113.0/24. " +
        "'loadBalancerSourceRanges' '198.51.100.1/24' has bits set below its /24 prefix: write 198.51.100.0/24.",
    );
  });

  it.each([
    ['Cluster without node CIDRs', ServiceExposure.nodePort({ externalTrafficPolicy: 'Cluster' })],
    ['Local without source ranges', ServiceExposure.nodePort({})],
  ])('admits nothing for %s (validate refuses it first)', (_, e) => {
    expect(e.networkPolicySources(['10.244.0.0/16'])).toEqual([]);
  });

  it('never reads the pod CIDRs for ClusterIP, as validate does not', () => {
    expect(ServiceExposure.clusterIp().networkPolicySources(['10.244.0.1/16'])).toEqual([]);
  });

  it('names what it could not parse when called without validate', () => {
    expect(() => ServiceExposure.nodePort(HOST).networkPolicySources(['10.244.0.0/33'])).toThrow(
      "'podCidrs' '10.244.0.0/33' is not an IPv4 CIDR: write e.g. 203.0.113.0/24.",
    );
    expect(() =>
      ServiceExposure.nodePort({ nodePortSourceRanges: ['nowhere'] }).networkPolicySources([]),
    ).toThrow("source range 'nowhere' is not an IPv4 CIDR: write e.g. 203.0.113.0/24.");
  });
});
